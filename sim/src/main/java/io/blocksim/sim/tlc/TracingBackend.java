package io.blocksim.sim.tlc;

import io.blocksim.model.job.JobManager;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.guest.QemuIoCommand;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.StepException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;

/**
 * A {@link Backend} that runs the simulator and records its run for trace validation: every
 * call is passed to the {@link SimBackend}, and the {@link TraceRecorder} is told which
 * BitmapSync action the call stands for. Time passing is observed after every event-loop task
 * (through the condition of {@link SimBackend#runUntil}), so job steps between two scenario
 * steps are seen one task at a time.
 *
 * <p>Queries go through QMP as the runner's do; the cluster sets are read from the engine,
 * since QMP shows only counts and hashes.
 */
public final class TracingBackend implements Backend {
  private static final Set<String> JOB_VERBS_ENDING = Set.of("job-cancel", "block-job-cancel");
  /** The commands that run as a transaction (qmp_transaction; a lone backup is one action). */
  private static final Set<String> BACKUP_COMMANDS =
      Set.of("transaction", "blockdev-backup", "drive-backup");

  private final SimBackend sim;
  private final TraceRecorder recorder;
  /** The number of engine events before the command being traced. */
  private int eventsBeforeCommand;

  public TracingBackend(SimBackend sim) {
    this.sim = sim;
    this.recorder = new TraceRecorder(null);
  }

  /** Returns the simulator behind this backend. */
  public SimBackend sim() {
    return sim;
  }

  /** Returns the trace recorded so far. */
  public TraceRecorder recorder() {
    return recorder;
  }

  @Override
  public void createImage(ImageSpec spec) throws StepException {
    sim.createImage(spec);
  }

  @Override
  public Map<String, Object> qmp(String command, Map<String, Object> args) throws StepException {
    advance(0); // What is due now runs before the command (SimBackend's rule), observed here.
    eventsBeforeCommand = sim.engine().events().size();
    Map<String, Object> reply;
    JobManager jobs = sim.engine().jobs();
    if (BACKUP_COMMANDS.contains(command)) {
      jobs.observeDrainPolls(this::drainedBeforeActions);
    }
    try {
      reply = sim.qmp(command, args);
    } finally {
      jobs.observeDrainPolls(null);
    }
    boolean ok = !reply.containsKey("error");
    String node = String.valueOf(args.get("node"));
    switch (command) {
      case "block-dirty-bitmap-add", "block-dirty-bitmap-clear" -> {
        if (ok) {
          bitmapCommand(command, args);
        }
      }
      case "block-dirty-bitmap-merge" -> {
        if (ok) {
          recorder.merged(sim.engine(), node, String.valueOf(args.get("target")),
              args.get("bitmaps") instanceof List<?> l ? l : List.of());
        }
      }
      case "block-dirty-bitmap-remove" -> {
        if (ok) {
          recorder.bitmapRemoved(sim.engine(), node);
        }
      }
      case "block-dirty-bitmap-enable", "block-dirty-bitmap-disable" -> {
        if (ok) {
          recorder.enabled(sim.engine(), node, String.valueOf(args.get("name")),
              command.equals("block-dirty-bitmap-enable"));
        }
      }
      case "blockdev-backup", "drive-backup" -> transaction(List.of(Map.of("type", command,
          "data", args)), ok, false);
      case "transaction" -> transaction(actionsOf(args), ok, isGrouped(args));
      case "job-finalize" -> verb(ok, "Finalize", args.get("id"));
      case "job-dismiss" -> verb(ok, "Dismiss", args.get("id"));
      case "block-job-finalize" -> verb(ok, "Finalize", args.get("id"));
      case "block-job-dismiss" -> verb(ok, "Dismiss", args.get("id"));
      default -> {
        if (ok && JOB_VERBS_ENDING.contains(command)) {
          Object id = args.get(command.equals("job-cancel") ? "id" : "device");
          recorder.cancelRequested(String.valueOf(id));
        }
        recorder.observeInternal(sim.engine());
      }
    }
    return reply;
  }

  /**
   * A drained section of a transaction ran the completion of jobs whose run had returned
   * (JobManager's drain poll). qmp_transaction begins with bdrv_drain_all, before any action is
   * prepared: those jobs end (and change their bitmaps) before the transaction's jobs are
   * created, so the recorder takes that state here, ahead of the CreateTxn it records after the
   * command. A poll after the transaction created a job would be part of the transaction's own
   * steps; none is taken there.
   */
  private void drainedBeforeActions() {
    List<QmpEvent> events = sim.engine().events();
    for (QmpEvent event : events.subList(eventsBeforeCommand, events.size())) {
      if (event.event().equals("JOB_STATUS_CHANGE")
          && "created".equals(event.data().get("status"))) {
        return;
      }
    }
    recorder.observeInternal(sim.engine());
  }

  private void bitmapCommand(String command, Map<String, Object> args) {
    String node = String.valueOf(args.get("node"));
    String name = String.valueOf(args.get("name"));
    boolean add = command.equals("block-dirty-bitmap-add");
    recorder.bitmapCleared(sim.engine(), node, name, add,
        add && Boolean.TRUE.equals(args.get("disabled")));
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> actionsOf(Map<String, Object> args) {
    Object actions = args.get("actions");
    return actions instanceof List<?> l ? (List<Map<String, Object>>) l : List.of();
  }

  private static boolean isGrouped(Map<String, Object> args) {
    return args.get("properties") instanceof Map<?, ?> properties
        && "grouped".equals(properties.get("completion-mode"));
  }

  /**
   * A transaction (or a lone blockdev-backup / drive-backup). The backups that take a bitmap of
   * the traced node are BitmapSync jobs; others (no bitmap, other nodes) change no traced bitmap
   * and are left out, unless they share a grouped completion with traced ones.
   */
  private void transaction(List<Map<String, Object>> actions, boolean ok, boolean grouped) {
    TreeMap<String, List<String>> txn = new TreeMap<>();
    boolean untrackedJobs = false;
    boolean tracedBitmapActions = false;
    for (Map<String, Object> action : actions) {
      String type = String.valueOf(action.get("type"));
      Map<String, Object> data = actionData(action);
      String node = String.valueOf(data.get("node"));
      if (type.equals("blockdev-backup") || type.equals("drive-backup")) {
        String device = String.valueOf(data.get("device"));
        if (data.get("bitmap") == null || recorder.nodeName() == null
            || !recorder.traces(device) || recorder.leavesOut(String.valueOf(data.get("bitmap")))) {
          untrackedJobs = true;
          continue;
        }
        String sync = String.valueOf(data.get("sync"));
        Object mode = data.get("bitmap-mode");
        txn.put(String.valueOf(data.get("job-id")), List.of(String.valueOf(data.get("bitmap")),
            sync.equals("incremental") ? "bitmap" : sync,
            mode == null ? "on-success" : String.valueOf(mode)));
      } else if (type.equals("abort") || !type.startsWith("block-dirty-bitmap")) {
        if (!type.equals("abort")) {
          untrackedJobs = true; // another kind of action: it may start a job outside the trace
        }
      } else if (ok && recorder.traces(node)) {
        tracedBitmapActions = true; // a failed transaction's bitmap actions change nothing
      }
    }
    if (!txn.isEmpty() && tracedBitmapActions) {
      recorder.notApplicable("bitmap actions and backups with a bitmap in one transaction");
    }
    if (!txn.isEmpty() && grouped && untrackedJobs) {
      recorder.notApplicable("a grouped transaction with jobs outside BitmapSync");
    }
    if (txn.isEmpty()) {
      if (ok) {
        bitmapActions(actions);
      }
      recorder.observeInternal(sim.engine());
      return;
    }
    // The jobs of a transaction are created, then started or (an action failed) aborted; their
    // later steps run in the event loop, and the command may already have run some of them.
    if (ok) {
      for (Map.Entry<String, List<String>> job : txn.entrySet()) {
        recorder.backupCreated(sim.engine(), job.getKey(), job.getValue().get(0),
            job.getValue().get(1));
      }
      if (grouped && txn.size() > 1) {
        recorder.grouped(txn.keySet());
        txn.put(AbstractState.GROUPED, List.of());
      }
      recorder.recordCreateTxn(txn);
      recorder.recordUnobserved("StartTxn", -1, "", "");
      recorder.backupsStarted(sim.engine(), txn.keySet());
      recorder.record(sim.engine(), "Internal", -1, "", "");
    } else {
      AbstractState before = recorder.states().get(recorder.states().size() - 1);
      AbstractState now = recorder.observe(sim.engine());
      if (before.bitmaps() != null && now.sameObservation(before)) {
        return; // refused before any job was created, or aborted with nothing to show
      }
      // The jobs the transaction created before its failing action announced themselves
      // (JOB_STATUS_CHANGE to created); logging them spares the check a guess at every subset.
      TreeSet<String> created = new TreeSet<>();
      List<QmpEvent> events = sim.engine().events();
      for (QmpEvent event : events.subList(eventsBeforeCommand, events.size())) {
        if (event.event().equals("JOB_STATUS_CHANGE")
            && "created".equals(event.data().get("status"))) {
          created.add(String.valueOf(event.data().get("id")));
        }
      }
      txn.keySet().retainAll(created);
      if (txn.isEmpty()) {
        recorder.recordUnobserved("CreateTxn", -1, "", "");
      } else {
        if (grouped && txn.size() > 1) {
          txn.put(AbstractState.GROUPED, List.of());
        }
        recorder.recordCreateTxn(txn);
      }
      created.retainAll(txn.keySet());
      recorder.recordAbortTxn(created);
      recorder.record(sim.engine(), "Internal", -1, "", "");
    }
  }

  /** A transaction action's data, empty when it has none. */
  @SuppressWarnings("unchecked")
  private static Map<String, Object> actionData(Map<String, Object> action) {
    return action.get("data") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  /** The bitmap actions of a successful transaction without traced backups, in order. */
  private void bitmapActions(List<Map<String, Object>> actions) {
    for (Map<String, Object> action : actions) {
      String type = String.valueOf(action.get("type"));
      Map<String, Object> data = actionData(action);
      String node = String.valueOf(data.get("node"));
      switch (type) {
        case "block-dirty-bitmap-add", "block-dirty-bitmap-clear" -> bitmapCommand(type, data);
        case "block-dirty-bitmap-merge" -> recorder.merged(sim.engine(), node,
            String.valueOf(data.get("target")),
            data.get("bitmaps") instanceof List<?> l ? l : List.of());
        case "block-dirty-bitmap-remove" -> recorder.bitmapRemoved(sim.engine(), node);
        case "block-dirty-bitmap-enable", "block-dirty-bitmap-disable" -> {
          recorder.enabled(sim.engine(), node, String.valueOf(data.get("name")),
              type.equals("block-dirty-bitmap-enable"));
        }
        default -> { }
      }
    }
  }

  private void verb(boolean ok, String action, Object jobId) {
    if (ok && recorder.isTracked(String.valueOf(jobId))) {
      recorder.recordUnobserved(action, -1, "", "");
    }
    recorder.record(sim.engine(), "Internal", -1, "", "");
  }

  @Override
  public IoOutcome io(String node, String command) throws StepException {
    advance(0);
    IoOutcome outcome = sim.io(node, command);
    QemuIoCommand parsed;
    try {
      parsed = QemuIoCommand.parse(command);
    } catch (IllegalArgumentException e) {
      return outcome;
    }
    // A discard on a node opened without discard=unmap does nothing at all, bitmaps included
    // (block/io.c bdrv_co_pdiscard returns before the request starts): not a Write.
    io.blocksim.model.graph.BlockNode target = sim.engine().graph().find(node);
    boolean dirties = parsed.kind() == QemuIoCommand.Kind.WRITE
        || (parsed.kind() == QemuIoCommand.Kind.DISCARD && target != null
            && target.discardUnmap());
    if (!dirties) {
      recorder.observeInternal(sim.engine());
    } else if (outcome.error() != null) {
      recorder.writeFailed(sim.engine(), node);
      recorder.observeInternal(sim.engine());
    } else {
      recorder.written(sim.engine(), node, parsed.offset(), parsed.length());
    }
    return outcome;
  }

  @Override
  public void advance(long durationNs) throws StepException {
    sim.runUntil(() -> {
      recorder.observeInternal(sim.engine());
      return false;
    }, durationNs);
  }

  @Override
  public boolean runUntil(BooleanSupplier condition, long timeoutNs) throws StepException {
    return sim.runUntil(() -> {
      recorder.observeInternal(sim.engine());
      return condition.getAsBoolean();
    }, timeoutNs);
  }

  @Override
  public List<QmpEvent> events() {
    return sim.events();
  }

  @Override
  public String imageDigest(String nodeOrFile) throws StepException {
    return sim.imageDigest(nodeOrFile);
  }

  @Override
  public void crashProcess() throws StepException {
    recorder.observeInternal(sim.engine());
    recorder.endHere("the process crashed (BitmapSync has no crashes)");
    sim.crashProcess();
  }

  @Override
  public void crashPower() throws StepException {
    recorder.observeInternal(sim.engine());
    recorder.endHere("the power was cut (BitmapSync has no crashes)");
    sim.crashPower();
  }

  @Override
  public ImgOutcome img(String command) throws StepException {
    return sim.img(command);
  }

  @Override
  public MapOutcome nbdMap(String export, String context) throws StepException {
    return sim.nbdMap(export, context);
  }

  @Override
  public void close() {
    sim.close();
  }
}
