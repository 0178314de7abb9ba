package io.blocksim.sim.tlc;

import io.blocksim.model.qmp.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.guest.QemuIoCommand;
import io.blocksim.sim.runner.Backend;
import io.blocksim.sim.runner.StepException;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

  private final SimBackend sim;
  private final TraceRecorder recorder;

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
    recorder.observeInternal(sim.engine());
    Map<String, Object> reply = sim.qmp(command, args);
    boolean ok = !reply.containsKey("error");
    switch (command) {
      case "block-dirty-bitmap-add", "block-dirty-bitmap-clear" -> {
        if (ok) {
          bitmapCommand(command, args);
        }
      }
      case "block-dirty-bitmap-merge" -> {
        if (ok) {
          merge(args);
        }
      }
      case "block-dirty-bitmap-remove" -> {
        if (ok) {
          recorder.record(sim.engine(), "Stutter", -1, "", "");
        }
      }
      case "block-dirty-bitmap-enable", "block-dirty-bitmap-disable" ->
          recorder.notApplicable(command + " is outside BitmapSync (Checkpoints covers it)");
      case "blockdev-backup", "drive-backup" -> transaction(List.of(Map.of("type", command,
          "data", args)), ok, false);
      case "transaction" -> transaction(actionsOf(args), ok, isGrouped(args));
      case "job-finalize" -> verb(ok, "Finalize");
      case "job-dismiss" -> verb(ok, "Dismiss");
      default -> {
        if (JOB_VERBS_ENDING.contains(command)) {
          if (ok) {
            Object id = args.get(command.equals("job-cancel") ? "id" : "device");
            recorder.cancelRequested(String.valueOf(id));
          }
          recorder.observeInternal(sim.engine());
        } else {
          recorder.observeInternal(sim.engine());
        }
      }
    }
    return reply;
  }

  private void bitmapCommand(String command, Map<String, Object> args) {
    String node = String.valueOf(args.get("node"));
    String name = String.valueOf(args.get("name"));
    recorder.trackNode(node);
    if (command.equals("block-dirty-bitmap-add") && Boolean.TRUE.equals(args.get("disabled"))) {
      recorder.notApplicable("bitmap '" + name + "' is added disabled");
    }
    recorder.record(sim.engine(), "Clear", -1, name, "");
  }

  private void merge(Map<String, Object> args) {
    String target = String.valueOf(args.get("target"));
    recorder.trackNode(String.valueOf(args.get("node")));
    Object sources = args.get("bitmaps");
    List<?> list = sources instanceof List<?> l ? l : List.of();
    for (int k = 0; k < list.size(); k++) {
      if (!(list.get(k) instanceof String source)) {
        recorder.notApplicable("a merge source on another node; BitmapSync models one node");
        return;
      }
      if (k + 1 < list.size()) {
        recorder.recordUnobserved("Merge", -1, target, source);
      } else {
        recorder.record(sim.engine(), "Merge", -1, target, source);
      }
    }
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

  private void transaction(List<Map<String, Object>> actions, boolean ok, boolean grouped) {
    boolean backups = false;
    java.util.TreeMap<String, List<String>> txn = new java.util.TreeMap<>();
    for (Map<String, Object> action : actions) {
      String type = String.valueOf(action.get("type"));
      @SuppressWarnings("unchecked")
      Map<String, Object> data = action.get("data") instanceof Map<?, ?> m
          ? (Map<String, Object>) m : Map.of();
      if (type.equals("blockdev-backup") || type.equals("drive-backup")) {
        backups = true;
        if (data.get("bitmap") == null) {
          recorder.notApplicable("backup job '" + data.get("job-id")
              + "' takes no bitmap; BitmapSync's jobs each take one");
        } else {
          recorder.trackNode(String.valueOf(data.get("device")));
          String sync = String.valueOf(data.get("sync"));
          Object mode = data.get("bitmap-mode");
          if (sync.equals("incremental")) {
            sync = "bitmap";
          }
          txn.put(String.valueOf(data.get("job-id")), List.of(String.valueOf(data.get("bitmap")),
              sync, mode == null ? "on-success" : String.valueOf(mode)));
        }
      } else if (!ok && type.startsWith("block-dirty-bitmap")) {
        continue;
      } else if (type.equals("block-dirty-bitmap-add") || type.equals("block-dirty-bitmap-clear")) {
        if (backups) {
          recorder.notApplicable("bitmap actions after a backup in one transaction");
        } else {
          bitmapCommand(type, data);
        }
      } else {
        recorder.notApplicable("transaction action '" + type + "' is outside BitmapSync");
      }
    }
    if (!backups) {
      return;
    }
    // The jobs of a transaction are created, then started or (an action failed) aborted; their
    // later steps run in the event loop, and the command may already have run some of them.
    if (grouped && txn.size() > 1) {
      if (ok) {
        recorder.grouped(txn.keySet());
      }
      txn.put(AbstractState.GROUPED, List.of());
    }
    if (ok) {
      recorder.recordCreateTxn(txn);
      recorder.recordUnobserved("StartTxn", -1, "", "");
      recorder.record(sim.engine(), "Internal", -1, "", "");
    } else {
      AbstractState before = recorder.states().get(recorder.states().size() - 1);
      AbstractState now = recorder.observe(sim.engine());
      if (before.bitmaps() != null && now.sameObservation(before)) {
        return; // refused before any job was created, or aborted with nothing to show
      }
      // Which of the jobs were created before the failing action is not logged.
      recorder.recordUnobserved("CreateTxn", -1, "", "");
      recorder.recordUnobserved("AbortTxn", -1, "", "");
      recorder.record(sim.engine(), "Internal", -1, "", "");
    }
  }

  private void verb(boolean ok, String action) {
    if (ok) {
      recorder.recordUnobserved(action, -1, "", "");
      recorder.record(sim.engine(), "Internal", -1, "", "");
    }
  }

  @Override
  public IoOutcome io(String node, String command) throws StepException {
    recorder.observeInternal(sim.engine());
    IoOutcome outcome = sim.io(node, command);
    QemuIoCommand parsed;
    try {
      parsed = QemuIoCommand.parse(command);
    } catch (IllegalArgumentException e) {
      return outcome;
    }
    boolean dirties = parsed.kind() == QemuIoCommand.Kind.WRITE
        || parsed.kind() == QemuIoCommand.Kind.DISCARD;
    if (!dirties || outcome.error() != null) {
      if (dirties) {
        recorder.notApplicable("a failed guest write; BitmapSync's writes always succeed");
      }
      recorder.observeInternal(sim.engine());
      return outcome;
    }
    if (recorder.nodeName() != null && !recorder.nodeName().equals(node)) {
      recorder.notApplicable("a write to node '" + node + "', not the traced '"
          + recorder.nodeName() + "'");
      return outcome;
    }
    writes(parsed.offset(), parsed.length());
    return outcome;
  }

  /**
   * Records a guest write: the engine may have run job steps before and after it (the write
   * takes virtual time), then each cluster is one BitmapSync Write.
   */
  void writes(long offset, long length) {
    recorder.recordUnobserved("Internal", -1, "", "");
    for (int cluster : recorder.clustersOf(offset, length)) {
      recorder.recordUnobserved("Write", cluster, "", "");
    }
    recorder.record(sim.engine(), "Internal", -1, "", "");
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
    recorder.notApplicable("a process crash; BitmapSync has no crashes");
    sim.crashProcess();
  }

  @Override
  public void crashPower() throws StepException {
    recorder.notApplicable("a power cut; BitmapSync has no crashes");
    sim.crashPower();
  }

  @Override
  public ImgOutcome img(String command) throws StepException {
    return sim.img(command);
  }

  @Override
  public void close() {
    sim.close();
  }
}
