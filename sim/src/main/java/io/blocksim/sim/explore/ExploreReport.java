package io.blocksim.sim.explore;

import io.blocksim.sim.report.ReportInputs;
import io.blocksim.sim.report.ReportModel.Section;
import io.blocksim.sim.report.Reports;
import io.blocksim.sim.runner.CaseResult;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The HTML report of an explore campaign ({@code explore --report DIR}): on the index, the
 * campaign (runs, seed, shard, semantics), its violations with their replay commands, and what it
 * exercised (the coverage tables the terminal prints); one page per violation, drawn from the
 * replay of its shrunk scenario file, with the steps, bitmaps and job timeline of that run.
 */
final class ExploreReport {
  private ExploreReport() {}

  static void write(Path dir, Campaign.Plan plan, Campaign.Tally tally,
      List<Map<String, Object>> failures, List<CaseResult> replays, double seconds,
      PrintStream out) throws IOException {
    List<Section> sections = new ArrayList<>();
    sections.add(new Section("Explore campaign", String.format(Locale.ROOT,
        "%d runs, %d passed, %d at a simulation limit, %d violations; campaign seed %d, shard"
            + " %d/%d, semantics %s.", tally.runs, tally.passed, tally.limits,
        tally.failures.size(), plan.seed(), plan.shardIndex(), plan.shardCount(),
        plan.semantics().isEmpty() ? "QEMU 7.2" : String.join(", ", plan.semantics())),
        List.of(), List.of()));
    List<List<String>> rows = new ArrayList<>();
    for (Map<String, Object> f : failures) {
      rows.add(List.of(String.valueOf(f.get("checker")), String.valueOf(f.get("seed")),
          String.valueOf(f.get("message")), "./blocksim run " + f.get("file"),
          String.valueOf(f.get("replay"))));
    }
    sections.add(new Section("Violations", failures.isEmpty() ? "None." : null,
        failures.isEmpty() ? List.of() : List.of("checker", "run seed", "message", "replay",
            "replay checked"), rows));
    coverage(sections, "Backups (sync × bitmap-mode × outcome)", tally.coverage.backups);
    coverage(sections, "Job ends (type × outcome)", tally.coverage.jobEnds);
    coverage(sections, "Verbs (job type × verb × status → reply)", tally.coverage.verbs);
    coverage(sections, "Faults", tally.coverage.faults);
    coverage(sections, "Runs per feature (swarm testing)", tally.coverage.features);
    String timing = String.format(Locale.ROOT, "explore: %.1f s wall time", seconds);
    Reports.write("blocksim explore (seed " + plan.seed() + ")", ReportInputs.fromRun(replays,
        new ArrayList<>(plan.semantics())), sections, null, dir, timing, out, out);
  }

  private static void coverage(List<Section> sections, String title, Map<String, Long> counts) {
    List<List<String>> rows = new ArrayList<>();
    counts.forEach((k, v) -> rows.add(List.of(k, String.valueOf(v))));
    sections.add(new Section(title, counts.size() + " kinds exercised.", List.of("kind", "count"),
        rows));
  }
}
