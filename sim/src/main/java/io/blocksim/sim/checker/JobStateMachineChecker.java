package io.blocksim.sim.checker;

import io.blocksim.model.job.Job;
import io.blocksim.model.qapi.QmpEvent;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Job state machine: every status change is one QEMU 7.2's transition table allows (job.c JobSTT),
 * every verb a job accepts is one its verb table allows in the status the verb met (JobVerbTable),
 * and a verb the table allows is not refused as not allowed; the end events agree (progress never
 * past its length, a successful job ends with offset equal to length, one end event per job);
 * and a job that accepted a forced cancel ends (concluded) within a budget of virtual time.
 *
 * <p>The tables are copied from job.c here, not taken from the engine, so that a changed engine
 * table is caught.
 */
final class JobStateMachineChecker implements Checker {
  /** Statuses in job.c's order: U C R P Y S W D X E N. */
  private static final List<String> STATUSES = List.of("undefined", "created", "running",
      "paused", "ready", "standby", "waiting", "pending", "aborting", "concluded", "null");

  /** JobSTT: rows from, columns to. */
  private static final String[] TRANSITIONS = {
    /* U */ "01000000000",
    /* C */ "00100000101",
    /* R */ "00011010100",
    /* P */ "00100000000",
    /* Y */ "00000110100",
    /* S */ "00001000000",
    /* W */ "00000001100",
    /* D */ "00000000110",
    /* X */ "00000000110",
    /* E */ "00000000001",
    /* N */ "00000000000",
  };

  /** JobVerbTable: allowed statuses per verb. */
  private static final Map<String, String> VERBS = Map.of(
      "cancel", "01111111000",
      "pause", "01111100000",
      "resume", "01111100000",
      "set-speed", "01111100000",
      "complete", "00001100000",
      "finalize", "00000001000",
      "dismiss", "00000000010");

  /** Virtual time a force-cancelled job may take to conclude. */
  static final long CANCEL_BUDGET_NS = 30_000_000_000L;

  private final Map<String, String> statuses = new LinkedHashMap<>();
  private final Map<String, Boolean> ended = new LinkedHashMap<>();
  private final Map<String, Long> cancelDeadlines = new LinkedHashMap<>();

  @Override
  public String name() {
    return "job-state-machine";
  }

  @Override
  public void after(Action action, World world) {
    if (action instanceof Action.Crash) {
      statuses.clear();
      ended.clear();
      cancelDeadlines.clear();
      return;
    }
    if (action instanceof Action.Qmp q) {
      verb(q, world);
    }
    for (QmpEvent event : world.newEvents()) {
      switch (event.event()) {
        case "JOB_STATUS_CHANGE" -> statusChange(event, world);
        case "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED" -> endEvent(event, world);
        default -> { }
      }
    }
    for (Job job : world.engine().jobs().jobs()) {
      if (job.progressCurrent() > job.progressTotal()) {
        world.fail("job '%s' reports progress %d of %d: past its length", job.id(),
            job.progressCurrent(), job.progressTotal());
      }
    }
    long now = world.engine().scheduler().nowNs();
    for (Map.Entry<String, Long> e : List.copyOf(cancelDeadlines.entrySet())) {
      String status = statuses.getOrDefault(e.getKey(), "null");
      if (status.equals("concluded") || status.equals("null")) {
        cancelDeadlines.remove(e.getKey());
      } else if (now > e.getValue()) {
        world.fail("job '%s' accepted a forced cancel %d s ago and is still %s (no livelock"
            + " allowed: a cancelled job ends)", e.getKey(),
            (now - e.getValue() + CANCEL_BUDGET_NS) / 1_000_000_000L, status);
      }
    }
  }

  private void verb(Action.Qmp q, World world) {
    String verb = verbOf(q.command());
    if (verb == null || q.args() == null) {
      return;
    }
    Object idValue = q.args().containsKey("id") ? q.args().get("id") : q.args().get("device");
    String id = String.valueOf(idValue);
    String status = statuses.get(id);
    if (status == null) {
      return; // A job this checker never saw created (or no such job).
    }
    boolean allowed = VERBS.get(verb).charAt(STATUSES.indexOf(status)) == '1';
    if (q.succeeded() && !allowed) {
      world.fail("job '%s' accepted %s in status %s, which QEMU's verb table refuses", id,
          q.command(), status);
    }
    if (!q.succeeded() && allowed) {
      Object desc = ((Map<?, ?>) q.reply().get("error")).get("desc");
      if (String.valueOf(desc).contains("cannot accept command verb")) {
        world.fail("job '%s' refused %s in status %s (\"%s\"), which QEMU's verb table allows",
            id, q.command(), status, desc);
      }
    }
    boolean forced = q.command().equals("job-cancel")
        || (q.command().equals("block-job-cancel") && Boolean.TRUE.equals(q.args().get("force")));
    if (q.succeeded() && forced) {
      cancelDeadlines.putIfAbsent(id, world.engine().scheduler().nowNs() + CANCEL_BUDGET_NS);
    }
  }

  private static String verbOf(String command) {
    String bare = command.startsWith("block-job-") ? command.substring("block-job-".length())
        : command.startsWith("job-") ? command.substring("job-".length()) : null;
    return bare != null && VERBS.containsKey(bare) ? bare : null;
  }

  private void statusChange(QmpEvent event, World world) {
    String id = String.valueOf(event.data().get("id"));
    String to = String.valueOf(event.data().get("status"));
    String from = statuses.getOrDefault(id, "undefined");
    if (from.equals("null")) {
      from = "undefined"; // The id was dismissed and is used again by a new job.
      ended.remove(id);
    }
    int f = STATUSES.indexOf(from);
    int t = STATUSES.indexOf(to);
    if (t < 0 || TRANSITIONS[f].charAt(t) != '1') {
      world.fail("job '%s' went from %s to %s, which QEMU's transition table does not allow", id,
          from, to);
    }
    statuses.put(id, to);
  }

  private void endEvent(QmpEvent event, World world) {
    String id = String.valueOf(event.data().get("device"));
    if (ended.put(id, true) != null) {
      world.fail("job '%s' emitted a second end event (%s)", id, event.event());
    }
    long offset = ((Number) event.data().get("offset")).longValue();
    long length = ((Number) event.data().get("len")).longValue();
    if (offset > length) {
      world.fail("job '%s' ended (%s) with offset %d past its length %d", id, event.event(),
          offset, length);
    }
    if (event.event().equals("BLOCK_JOB_COMPLETED") && !event.data().containsKey("error")
        && offset != length) {
      world.fail("job '%s' completed successfully with offset %d, not its length %d", id, offset,
          length);
    }
  }
}
