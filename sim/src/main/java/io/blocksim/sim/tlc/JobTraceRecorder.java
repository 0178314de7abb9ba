package io.blocksim.sim.tlc;

import io.blocksim.model.qapi.QmpEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Records the life of every job of a run, from QMP alone, as a trace of JobLifecycle (tla-
 * crosscheck.md §5): each job verb with QEMU's reply, and each {@code JOB_STATUS_CHANGE}, in the
 * order they happened. It reads nothing but commands, replies and events, so it records the
 * simulator and a real qemu-storage-daemon alike ({@link JobTracingBackend}).
 *
 * <p>Job types: JobLifecycle has two, told apart by the ready phase. Jobs without one (backup,
 * stream, intermediate commit, blockdev-create, amend) are its "backup": run() returns and the
 * job goes to waiting. Jobs with one (mirror, and active commit, which QEMU runs as a mirror)
 * are its "mirror": running, ready, and waiting only after job-complete or a soft cancel. The
 * type comes from the creation command; the trace check then confirms it, since a "backup" that
 * goes ready, or a "mirror" that leaves running for waiting, is no behaviour of the spec.
 *
 * <p>Names: the trace names a job by its QMP id; an id used again after its job went away is a
 * new job of the spec ({@code id#2}, {@code id#3}, ...), since the spec's jobs never come back.
 *
 * <p>Refused verbs: a verb QEMU refuses for a reason of the job's life (its status, a pause, a
 * cancel pending, or "not found" for a job the trace still has) becomes a {@code Refused} state,
 * at which the spec's action for the verb must not be enabled. Refusals for other reasons (a bad
 * argument, an id no job has) are counted, not checked.
 *
 * <p>Steps QEMU takes on its own that JobLifecycle leaves out are the trace wrapper's (see
 * {@code specs/JobLifecycleTrace.tla}): a failed transaction's abort of the jobs it created
 * ({@code TxnAbort}), a grouped transaction's force cancel of the other members ({@code
 * GroupCancel}), a failed creation's created-to-null ({@code EarlyFail}), the error action stop
 * ({@code ErrorStop}, from {@code BLOCK_JOB_ERROR}), and the dismissal of a job that never
 * started ({@code DismissUnstarted}). A status change no action explains is logged as {@code
 * Stutter}, which the check rejects. A cancel of a grouped member that has finished its run
 * (waiting) aborts the whole transaction inside the command; the member's own move to aborting
 * is the Cancel step even when QEMU finalizes the other members first (the command is one step
 * to a client). Outside the vocabulary (reported, not checked): a grouped transaction with a
 * member without auto-finalize.
 */
public final class JobTraceRecorder {
  /** The commands that create jobs, with the spec's type of the job they create. */
  private static final Map<String, String> CREATORS = Map.of(
      "blockdev-backup", "backup", "drive-backup", "backup", "block-stream", "backup",
      "blockdev-create", "backup", "x-blockdev-amend", "backup",
      "blockdev-mirror", "mirror", "drive-mirror", "mirror");
  /** Jobs that are not block jobs: block-job-* commands do not find them. */
  private static final Set<String> NON_BLOCK_CREATORS = Set.of("blockdev-create",
      "x-blockdev-amend");
  /** Refusals that come from the job's life: QEMU's verb table, user pause, pending cancel. */
  private static final Pattern LIFECYCLE_REFUSAL = Pattern.compile(
      "cannot accept command verb|Job is already paused|Can't resume a job that was not paused"
          + "|is currently paused|cannot be completed");
  private static final Pattern NOT_FOUND =
      Pattern.compile("Job not found|Block job '.*' not found");

  /** What the creation command said about a job. */
  private record Announced(String type, boolean autoFinalize, boolean autoDismiss,
      boolean blockJob, String command) {}

  private final List<JobTraceState> states = new ArrayList<>();
  /** Trace name -> status of every job that exists now. */
  private final TreeMap<String, String> statuses = new TreeMap<>();
  /** QMP id -> trace name of the job that has it now. */
  private final TreeMap<String, String> live = new TreeMap<>();
  /** QMP id -> how many jobs have had it. */
  private final TreeMap<String, Integer> incarnations = new TreeMap<>();
  /** QMP id -> creation arguments of a job not yet created. */
  private final TreeMap<String, Announced> announced = new TreeMap<>();
  /** Trace name -> creation arguments. */
  private final TreeMap<String, Announced> created = new TreeMap<>();
  /** QMP id -> the QMP ids of its grouped transaction, for jobs not yet created. */
  private final TreeMap<String, TreeSet<String>> announcedGroups = new TreeMap<>();
  /** QMP ids of the jobs of a grouped transaction with a member without auto-finalize. */
  private final TreeSet<String> manualFinalizeGroups = new TreeSet<>();
  /** QMP id -> trace name of the jobs the current command created. */
  private final TreeMap<String, String> createdByThisCommand = new TreeMap<>();
  /** Trace name -> the trace names of the other members of its grouped transaction. */
  private final TreeMap<String, TreeSet<String>> groups = new TreeMap<>();
  private final TreeSet<String> notApplicable = new TreeSet<>();
  /** Trace names of the jobs that have started (been running). */
  private final TreeSet<String> started = new TreeSet<>();
  /** Trace names of the members of grouped transactions that have aborted. */
  private final TreeSet<String> groupAborted = new TreeSet<>();
  private int jobCount;
  private int refusalsChecked;
  private int refusalsNotChecked;
  private int verbsAccepted;

  public JobTraceRecorder() {
    states.add(JobTraceState.of("", "", statuses, "start"));
  }

  /** Returns the trace so far; the first state is the spec's initial state (no jobs). */
  public List<JobTraceState> states() {
    return List.copyOf(states);
  }

  /** Returns how many jobs the run created. */
  public int jobCount() {
    return jobCount;
  }

  /** Returns how many refused verbs became a check that the spec refuses them too. */
  public int refusalsChecked() {
    return refusalsChecked;
  }

  /** Returns how many refused verbs were refused for reasons outside the job's life. */
  public int refusalsNotChecked() {
    return refusalsNotChecked;
  }

  /** Returns how many verbs QEMU accepted. */
  public int verbsAccepted() {
    return verbsAccepted;
  }

  /** Returns why the run is outside JobLifecycle's vocabulary, or null when it is inside. */
  public String notApplicableReason() {
    return notApplicable.isEmpty() ? null : String.join("; ", notApplicable);
  }

  /**
   * Records one QMP command: its reply, and the events emitted while it ran (they come after
   * the command's own step: they are what it caused, or what ran in the drained sections it
   * polled).
   */
  public void command(String command, Map<String, Object> args, Map<String, Object> reply,
      List<QmpEvent> during) {
    boolean ok = !reply.containsKey("error");
    createdByThisCommand.clear();
    announce(command, args);
    List<QmpEvent> rest = new ArrayList<>(during);
    Verb verb = Verb.of(command, args);
    if (verb != null) {
      if (ok) {
        accepted(verb, rest, command);
      } else {
        refused(verb, errorDesc(reply), command);
      }
    }
    boolean failedCreation = !ok && isCreator(command);
    for (QmpEvent event : rest) {
      event(event, failedCreation, " (during " + command + ")");
    }
    if (isCreator(command)) {
      announced.clear();
      announcedGroups.clear();
      manualFinalizeGroups.clear();
    }
  }

  /** Records events emitted outside any command (time passing, guest I/O). */
  public void events(List<QmpEvent> events) {
    for (QmpEvent event : events) {
      event(event, false, "");
    }
  }

  /** Records that the process died (kill -9, power cut): every job is gone with it. */
  public void processDied(String how) {
    statuses.clear();
    live.clear();
    announced.clear();
    states.add(JobTraceState.of("Reset", "", statuses, how));
  }

  private static boolean isCreator(String command) {
    return CREATORS.containsKey(command) || command.equals("block-commit")
        || command.equals("transaction");
  }

  private void announce(String command, Map<String, Object> args) {
    if (command.equals("transaction")) {
      List<String> ids = new ArrayList<>();
      boolean manualFinalize = false;
      for (Object action : args.get("actions") instanceof List<?> l ? l : List.of()) {
        if (action instanceof Map<?, ?> m && CREATORS.containsKey(String.valueOf(m.get("type")))) {
          @SuppressWarnings("unchecked")
          Map<String, Object> data = m.get("data") instanceof Map<?, ?> d
              ? (Map<String, Object>) d : Map.of();
          String id = announceJob(String.valueOf(m.get("type")), data);
          manualFinalize |= !flag(data, "auto-finalize");
          if (id != null) {
            ids.add(id);
          }
        }
      }
      if (ids.size() > 1 && args.get("properties") instanceof Map<?, ?> properties
          && "grouped".equals(properties.get("completion-mode"))) {
        ids.forEach(id -> announcedGroups.put(id, new TreeSet<>(ids)));
        if (manualFinalize) {
          manualFinalizeGroups.addAll(ids);
        }
      }
    } else if (CREATORS.containsKey(command) || command.equals("block-commit")) {
      announceJob(command, args);
    }
  }

  /** Notes a job the command will create; returns its id, or null when it has none. */
  private String announceJob(String command, Map<String, Object> args) {
    Object id = args.get("job-id") != null ? args.get("job-id") : args.get("device");
    if (id == null) {
      return null;
    }
    String type = command.equals("block-commit") ? commitType(args) : CREATORS.get(command);
    boolean blockJob = !NON_BLOCK_CREATORS.contains(command);
    // blockdev-create and x-blockdev-amend take no auto-* arguments: QEMU creates their jobs
    // with JOB_MANUAL_DISMISS (block/create.c, block/amend.c).
    announced.put(String.valueOf(id), new Announced(type, flag(args, "auto-finalize"),
        blockJob && flag(args, "auto-dismiss"), blockJob, command));
    return String.valueOf(id);
  }

  /**
   * An active commit (the top is the device's own node: no top given, or top-node naming the
   * device) runs as a mirror and goes ready; an intermediate commit does not.
   */
  private static String commitType(Map<String, Object> args) {
    Object top = args.get("top");
    Object topNode = args.get("top-node");
    boolean active = (top == null && topNode == null)
        || (topNode != null && topNode.equals(args.get("device")));
    return active ? "mirror" : "backup";
  }

  private static boolean flag(Map<String, Object> args, String name) {
    return !Boolean.FALSE.equals(args.get(name));
  }

  private static String errorDesc(Map<String, Object> reply) {
    return reply.get("error") instanceof Map<?, ?> error ? String.valueOf(error.get("desc")) : "";
  }

  /** A job verb of QMP as JobLifecycle names it. */
  record Verb(String name, String id, Boolean force) {
    static Verb of(String command, Map<String, Object> args) {
      boolean blockJob = command.startsWith("block-job-");
      if (!blockJob && !command.startsWith("job-")) {
        return null;
      }
      String name = command.substring(blockJob ? "block-job-".length() : "job-".length());
      if (!Set.of("cancel", "pause", "resume", "set-speed", "complete", "finalize", "dismiss")
          .contains(name)) {
        return null;
      }
      Object id = args.get(blockJob ? "device" : "id");
      Boolean force = null;
      if (name.equals("cancel")) {
        // job-cancel always forces; block-job-cancel only with force: true (§5.5).
        force = !blockJob || Boolean.TRUE.equals(args.get("force"));
      }
      return new Verb(name, String.valueOf(id), force);
    }

    String action() {
      return switch (name) {
        case "set-speed" -> "SetSpeed";
        default -> Character.toUpperCase(name.charAt(0)) + name.substring(1);
      };
    }
  }

  private void accepted(Verb verb, List<QmpEvent> during, String command) {
    verbsAccepted++;
    String job = live.get(verb.id());
    if (job == null) {
      // QEMU accepted a verb for a job the trace does not know: a job of the spec that was never
      // created, so that the check rejects the step.
      job = verb.id() + "#unknown";
    }
    String status = statuses.getOrDefault(job, "undefined");
    // The verbs that change the status do so inside the command; that change is the verb's own
    // step, not a step of the job (§5.5: finalize, dismiss, cancel before the job started or
    // after it finished running).
    String direct = switch (verb.name()) {
      case "finalize" -> "concluded";
      case "dismiss" -> "null";
      case "cancel" -> Set.of("created", "waiting", "pending").contains(status) ? "aborting" : null;
      default -> null;
    };
    if (direct != null) {
      for (int k = 0; k < during.size(); k++) {
        QmpEvent event = during.get(k);
        if (isStatusChange(event) && verb.id().equals(event.data().get("id"))) {
          if (direct.equals(event.data().get("status"))) {
            during.remove(k);
            setStatus(verb.id(), job, direct);
          }
          break;
        }
      }
    }
    states.add(new JobTraceState(verb.action(), job, "", verb.force(), null, null, null, statuses,
        command + " accepted"));
    if ("aborting".equals(statuses.get(job))) {
      groupAborts(job);
    }
  }

  private void refused(Verb verb, String desc, String command) {
    String job = live.get(verb.id());
    boolean lifecycle = LIFECYCLE_REFUSAL.matcher(desc).find();
    boolean notFound = NOT_FOUND.matcher(desc).find();
    if (job != null && notFound && command.startsWith("block-job-")
        && !created.get(job).blockJob()) {
      lifecycle = false; // block-job-* does not see a job that is not a block job
    } else if (job != null && notFound) {
      lifecycle = true; // QEMU lost a job the trace still has: the spec accepts the verb
    }
    if (!lifecycle || job == null) {
      refusalsNotChecked++;
      return;
    }
    refusalsChecked++;
    states.add(new JobTraceState("Refused", job, verb.name(), verb.force(), null, null, null,
        statuses, command + " refused: " + desc));
  }

  private static boolean isStatusChange(QmpEvent event) {
    return event.event().equals("JOB_STATUS_CHANGE");
  }

  private void setStatus(String id, String job, String status) {
    if (status.equals("null")) {
      statuses.remove(job);
      live.remove(id);
    } else {
      statuses.put(job, status);
    }
  }

  private void event(QmpEvent event, boolean failedCreation, String when) {
    if (event.event().equals("BLOCK_JOB_ERROR") && "stop".equals(event.data().get("action"))) {
      String id = String.valueOf(event.data().get("device"));
      states.add(JobTraceState.of("ErrorStop", live.getOrDefault(id, id + "#unknown"), statuses,
          "BLOCK_JOB_ERROR " + id + " action stop"));
      return;
    }
    if (!isStatusChange(event)) {
      return;
    }
    String id = String.valueOf(event.data().get("id"));
    String to = String.valueOf(event.data().get("status"));
    String job = live.get(id);
    if (job == null) {
      if (!to.equals("created")) {
        states.add(JobTraceState.of("Stutter", id + "#unknown", statuses,
            "JOB_STATUS_CHANGE " + to + " of a job never created"));
        return;
      }
      created(id);
      return;
    }
    String from = statuses.get(job);
    String action = actionOf(from, to, failedCreation);
    if (to.equals("running")) {
      started.add(job);
    } else if (action.equals("AutoDismiss") && !started.contains(job)) {
      action = "DismissUnstarted";
    }
    TreeSet<String> group = groups.getOrDefault(job, new TreeSet<>());
    if (to.equals("aborting") && groupAborted.contains(job)
        && (from.equals("waiting") || from.equals("pending"))) {
      action = "GroupCancel"; // a member that had finished its run (§5.4)
    }
    setStatus(id, job, to);
    states.add(new JobTraceState(action, job, "", null, null, null, null, statuses,
        "JOB_STATUS_CHANGE " + id + " " + to + " at " + event.timestampNs() + " ns" + when)
        .withGroup(action.equals("GroupCancel") ? group : new TreeSet<>()));
    if (to.equals("aborting")) {
      groupAborts(job);
    }
  }

  /**
   * The first member of a grouped transaction to abort aborts the transaction: QEMU force-cancels
   * every other member (job_completed_txn_abort). Those still running get the cancel now, as a
   * step of their own; those done running go to aborting with their next status change.
   */
  private void groupAborts(String job) {
    TreeSet<String> group = groups.getOrDefault(job, new TreeSet<>());
    if (group.isEmpty() || groupAborted.contains(job)) {
      return;
    }
    groupAborted.addAll(group);
    groupAborted.add(job);
    for (String other : group) {
      String status = statuses.get(other);
      if (status != null && Set.of("created", "running", "paused", "ready", "standby")
          .contains(status)) {
        states.add(new JobTraceState("GroupCancel", other, "", null, null, null, null,
            statuses, "transaction of " + job + " aborted: " + other + " force-cancelled")
            .withGroup(groups.get(other)));
      }
    }
  }

  private void created(String id) {
    int incarnation = incarnations.merge(id, 1, Integer::sum);
    String job = incarnation == 1 ? id : id + "#" + incarnation;
    jobCount++;
    live.put(id, job);
    statuses.put(job, "created");
    TreeSet<String> group = announcedGroups.get(id);
    if (manualFinalizeGroups.contains(id)) {
      // One job-finalize finalizes every member, and a member with auto-finalize waits in
      // pending for the others (docs/qemu-behaviour.md §5.4): JobLifecycle's Finalize is one job's.
      notApplicable.add("a grouped transaction with auto-finalize false; JobLifecycle "
          + "finalizes one job per job-finalize");
    }
    if (group != null) {
      // Members are created in order, so the earlier ones already have their trace names.
      TreeSet<String> members = new TreeSet<>();
      for (String other : group) {
        String otherJob = createdByThisCommand.get(other);
        if (!other.equals(id) && otherJob != null) {
          members.add(otherJob);
          groups.get(otherJob).add(job);
        }
      }
      groups.put(job, members);
    }
    createdByThisCommand.put(id, job);
    Announced args = announced.remove(id);
    if (args == null) {
      // Created by a command the recorder does not know: the spec chooses the type and flags.
      args = new Announced(null, true, true, true, "?");
      created.put(job, args);
      states.add(JobTraceState.of("Create", job, statuses, "JOB_STATUS_CHANGE " + id
          + " created (by an unknown command)"));
      return;
    }
    created.put(job, args);
    states.add(new JobTraceState("Create", job, "", null, args.type(), args.autoFinalize(),
        args.autoDismiss(), statuses, "JOB_STATUS_CHANGE " + id + " created by "
        + args.command()));
  }

  /**
   * The spec action that makes a job's own status change (§5.3); {@code Stutter}, which changes
   * nothing and so never matches a change, for a change no action of the job makes.
   */
  static String actionOf(String from, String to, boolean failedCreation) {
    return switch (from + ">" + to) {
      case "created>running" -> "Start";
      case "created>aborting" -> failedCreation ? "TxnAbort" : "Stutter";
      case "created>null" -> failedCreation ? "EarlyFail" : "Stutter";
      case "running>paused", "ready>standby" -> "PausePoint";
      case "paused>running", "standby>ready" -> "ResumePoint";
      case "running>ready" -> "BecomeReady";
      case "running>waiting", "ready>waiting" -> "RunSucceeds";
      case "running>aborting", "ready>aborting" -> "Aborts";
      case "waiting>pending" -> "AllDone";
      case "pending>concluded" -> "AutoFinalize";
      case "aborting>concluded" -> "Abort";
      case "concluded>null" -> "AutoDismiss";
      default -> "Stutter";
    };
  }
}
