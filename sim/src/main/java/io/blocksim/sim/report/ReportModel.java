package io.blocksim.sim.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What the HTML report is drawn from, whoever produced it: {@code run}, {@code diff}, {@code
 * report FILE.json...}, and later {@code explore} and {@code whatif}.
 *
 * <p>Extension point: a new producer builds {@link CaseEntry} values for the cases it ran (their
 * observations are the contract's case object, with the added {@code timeline}, {@code granules}
 * and {@code seed} fields where the simulator recorded them) and adds one {@link Section} per
 * summary it wants on the index (an explore run's coverage, a what-if's verdicts), then calls
 * {@link HtmlReport#write}. Nothing else needs to change: the index lists the sections after the
 * totals, the Markdown summary repeats them, and every case gets its page.
 *
 * @param title the report's heading, e.g. "blocksim run scenarios"
 * @param cases every case, in run order
 * @param sections producer-specific summaries (explore, what-if), shown on the index
 * @param removed cases the baseline had and this run has not ("path [case]")
 * @param baseline the baseline file's name when {@code --baseline} was given, else null
 */
public record ReportModel(String title, List<CaseEntry> cases, List<Section> sections,
    List<String> removed, String baseline) {

  /** How a case ended; NOT_RUN is never counted as passed. */
  public enum Status { PASSED, FAILED, BUG, LIMIT, NOT_RUN }

  /**
   * One case.
   *
   * @param observations the case object of the observations JSON (never null)
   * @param replay the command that replays the case, or null
   * @param conformance the verdict against QEMU, or null when QEMU was not compared
   * @param change what changed since the baseline, or null without a baseline
   */
  public record CaseEntry(String scenario, String caseName, Status status, String failure,
      String replay, Map<String, Object> observations, Conformance conformance,
      BaselineChange change) {
    public String displayName() {
      return caseName.isEmpty() ? scenario : scenario + " [" + caseName + "]";
    }

    public CaseEntry withConformance(Conformance c) {
      return new CaseEntry(scenario, caseName, status, failure, replay, observations, c, change);
    }

    public CaseEntry withChange(BaselineChange c) {
      return new CaseEntry(scenario, caseName, status, failure, replay, observations,
          conformance, c);
    }
  }

  /** One differing value: where, and the two sides (QEMU/simulator, or baseline/now). */
  public record Difference(String category, String where, String left, String right) {}

  /**
   * A case's verdict against real QEMU ("identical", "known divergence", "differs", "QEMU
   * crashed", "skipped"), its detail, and the first differing value of each category.
   */
  public record Conformance(String verdict, String detail, List<Difference> differences) {
    public boolean bad() {
      return verdict.equals("differs") || verdict.equals("QEMU crashed");
    }
  }

  /**
   * What a case did differently from the baseline run: NEW (the baseline has no such case),
   * CHANGED (with the first difference of each category) or UNCHANGED.
   */
  public record BaselineChange(Kind kind, List<Difference> differences,
      Map<String, Object> old) {
    public enum Kind { UNCHANGED, CHANGED, NEW }
  }

  /** A producer's summary table on the index (explore, what-if): the extension point. */
  public record Section(String title, String text, List<String> headers,
      List<List<String>> rows) {}

  /** Returns a copy with the cases replaced. */
  public ReportModel withCases(List<CaseEntry> newCases, List<String> newRemoved,
      String newBaseline) {
    return new ReportModel(title, new ArrayList<>(newCases), sections, newRemoved, newBaseline);
  }

  /** Counts the cases with this status. */
  public long count(Status status) {
    return cases.stream().filter(c -> c.status() == status).count();
  }
}
