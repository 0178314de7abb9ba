package io.blocksim.sim.report;

import io.blocksim.sim.report.ReportModel.CaseEntry;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The one call {@code run}, {@code diff} and {@code report} make to write a report. */
public final class Reports {
  private Reports() {}

  /**
   * Writes the report of a run;
   * returns 0, or 2 when the baseline cannot be read.
   */
  public static int write(String title, List<CaseEntry> cases, List<ReportModel.Section> sections,
      Path baseline, Path dir, String timing, PrintStream out, PrintStream err)
      throws IOException {
    ReportModel model = new ReportModel(title, cases, sections, List.of(), null);
    if (baseline != null) {
      if (!Files.isRegularFile(baseline)) {
        err.println(baseline + ": error: no such baseline file");
        err.println("hint: a baseline is an earlier run's --json file or a report's "
            + "observations.json");
        return 2;
      }
      try {
        model = Baseline.apply(model, baseline);
      } catch (IOException e) {
        err.println(baseline + ": error: " + e.getMessage());
        err.println("hint: a baseline is an earlier run's --json file or a report's "
            + "observations.json");
        return 2;
      }
    }
    HtmlReport.write(model, dir, timing);
    out.println("report: " + io.blocksim.sim.runner.ScenarioFiles.display(dir.resolve("index.html"))
        + " (" + Summary.totals(model)
        + (model.baseline() != null ? "; " + Summary.baselineLine(model) : "") + ")");
    return 0;
  }

  /**
   * Writes the report of a comparison run ({@code whatif}): each case's observations under the
   * variant, compared with the same case's observations without it ({@code before}, in the same
   * order; null where that run has none) as a baseline diff is, so every case page shows the
   * two side by side. {@code baselineName} says what the left side is.
   */
  public static void writeComparison(String title, List<CaseEntry> cases,
      List<java.util.Map<String, Object>> before, String baselineName,
      List<ReportModel.Section> sections, Path dir, PrintStream out) throws IOException {
    List<CaseEntry> compared = new java.util.ArrayList<>();
    for (int i = 0; i < cases.size(); i++) {
      CaseEntry c = cases.get(i);
      compared.add(c.withChange(Baseline.change(before.get(i), c.observations())));
    }
    ReportModel model = new ReportModel(title, compared, sections, List.of(), baselineName);
    HtmlReport.write(model, dir, null);
    out.println("report: " + io.blocksim.sim.runner.ScenarioFiles.display(dir.resolve("index.html"))
        + " (" + Summary.totals(model) + "; " + Summary.baselineLine(model) + ")");
  }
}
