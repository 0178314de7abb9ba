package io.blocksim.sim.explore;

import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.checker.Action;
import io.blocksim.sim.checker.Checker;
import io.blocksim.sim.checker.World;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a campaign exercised, counted across runs: how each backup ended per sync and bitmap
 * mode, each job type × verb × status the verb met (and whether it was accepted), each job's
 * final outcome, and each fault kind (blkdebug errors as jobs and the guest saw them, crashes).
 * Counted by an observer that runs after every action like a checker and never fails.
 */
final class Coverage {
  final Map<String, Long> backups = new TreeMap<>();
  final Map<String, Long> verbs = new TreeMap<>();
  final Map<String, Long> jobEnds = new TreeMap<>();
  final Map<String, Long> faults = new TreeMap<>();
  final Map<String, Long> features = new TreeMap<>();

  void add(Map<String, Long> counts, String key) {
    counts.merge(key, 1L, Long::sum);
  }

  void mergeFrom(Coverage other) {
    other.backups.forEach((k, v) -> backups.merge(k, v, Long::sum));
    other.verbs.forEach((k, v) -> verbs.merge(k, v, Long::sum));
    other.jobEnds.forEach((k, v) -> jobEnds.merge(k, v, Long::sum));
    other.faults.forEach((k, v) -> faults.merge(k, v, Long::sum));
    other.features.forEach((k, v) -> features.merge(k, v, Long::sum));
  }

  Map<String, Object> toJson() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("backup sync × bitmap-mode × outcome", backups);
    m.put("job type × verb × status → reply", verbs);
    m.put("job type × end", jobEnds);
    m.put("fault kinds", faults);
    m.put("runs per feature", features);
    return m;
  }

  @SuppressWarnings("unchecked")
  static Coverage fromJson(Map<String, Object> m) {
    Coverage c = new Coverage();
    copy((Map<String, Object>) m.get("backup sync × bitmap-mode × outcome"), c.backups);
    copy((Map<String, Object>) m.get("job type × verb × status → reply"), c.verbs);
    copy((Map<String, Object>) m.get("job type × end"), c.jobEnds);
    copy((Map<String, Object>) m.get("fault kinds"), c.faults);
    copy((Map<String, Object>) m.get("runs per feature"), c.features);
    return c;
  }

  private static void copy(Map<String, Object> from, Map<String, Long> to) {
    if (from != null) {
      from.forEach((k, v) -> to.put(k, ((Number) v).longValue()));
    }
  }

  /** The observer of one run, counting into this coverage. */
  Checker observer() {
    return new Checker() {
      private final Map<String, String> statuses = new LinkedHashMap<>();

      @Override
      public String name() {
        return "coverage";
      }

      @Override
      public void after(Action action, World world) {
        if (action instanceof Action.Crash crash) {
          add(faults, crash.power() ? "crash: power" : "crash: process");
          statuses.clear();
        }
        if (action instanceof Action.Io io && io.outcome().error() != null) {
          add(faults, "guest io error: " + shorten(io.outcome().error()));
        }
        if (action instanceof Action.Qmp q && q.args() != null) {
          verb(q, world);
        }
        for (QmpEvent event : world.newEvents()) {
          switch (event.event()) {
            case "JOB_STATUS_CHANGE" -> statuses.put(String.valueOf(event.data().get("id")),
                String.valueOf(event.data().get("status")));
            case "BLOCK_JOB_ERROR" -> add(faults, "BLOCK_JOB_ERROR " + event.data().get(
                "operation") + " → " + event.data().get("action"));
            case "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED" -> ended(event, world);
            default -> { }
          }
        }
      }

      private void verb(Action.Qmp q, World world) {
        String c = q.command();
        if (!c.startsWith("job-") && !c.startsWith("block-job-")) {
          return;
        }
        String id = String.valueOf(q.args().containsKey("id") ? q.args().get("id")
            : q.args().get("device"));
        World.JobInfo job = world.jobs().get(id);
        String type = job == null ? "?" : job.type();
        add(verbs, type + " × " + c + " × " + statuses.getOrDefault(id, "none") + " → "
            + (q.succeeded() ? "ok" : "error"));
      }

      private void ended(QmpEvent event, World world) {
        String id = String.valueOf(event.data().get("device"));
        String outcome = event.event().equals("BLOCK_JOB_CANCELLED") ? "cancelled"
            : event.data().containsKey("error") ? "failed" : "succeeded";
        add(jobEnds, event.data().get("type") + " × " + outcome);
        World.JobInfo job = world.jobs().get(id);
        if (job != null && job.type().equals("backup")) {
          Object mode = job.args().get("bitmap") == null ? "no bitmap"
              : job.args().getOrDefault("bitmap-mode", "on-success");
          add(backups, job.args().get("sync") + " × " + mode + " × " + outcome);
        }
      }
    };
  }

  private static String shorten(String error) {
    int colon = error.indexOf(':');
    return colon > 0 && colon < 40 ? error.substring(0, colon) : error.length() > 40
        ? error.substring(0, 40) : error;
  }

  /** Prints the summary as indented lines. */
  void print(java.io.PrintStream out) {
    printSection(out, "backups (sync × bitmap-mode × outcome)", backups);
    printSection(out, "job ends (type × outcome)", jobEnds);
    printSection(out, "verbs (job type × verb × status → reply)", verbs);
    printSection(out, "faults", faults);
  }

  private static void printSection(java.io.PrintStream out, String title, Map<String, Long> m) {
    out.println(title + ": " + m.size() + " kinds");
    for (Map.Entry<String, Long> e : m.entrySet()) {
      out.println(String.format(java.util.Locale.ROOT, "  %8d  %s", e.getValue(), e.getKey()));
    }
  }

  static String json(Coverage c) {
    return Json.pretty(c.toJson());
  }

  static List<String> sectionNames() {
    return List.of("backups", "verbs", "job ends", "faults");
  }
}
