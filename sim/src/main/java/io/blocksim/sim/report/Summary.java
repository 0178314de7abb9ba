package io.blocksim.sim.report;

import io.blocksim.sim.report.ReportModel.BaselineChange;
import io.blocksim.sim.report.ReportModel.CaseEntry;
import io.blocksim.sim.report.ReportModel.Difference;
import io.blocksim.sim.report.ReportModel.Section;
import io.blocksim.sim.report.ReportModel.Status;
import java.util.List;
import java.util.Map;

/** The texts shared by the index, the Markdown summary and the JUnit XML. */
final class Summary {
  private static final int MARKDOWN_ROWS = 50;

  private Summary() {}

  static String totals(ReportModel m) {
    return m.cases().size() + " cases: " + m.count(Status.PASSED) + " passed, "
        + m.count(Status.FAILED) + " failed, " + m.count(Status.BUG) + " bugs (invariant "
        + "violated), " + m.count(Status.LIMIT) + " hit a limit, " + m.count(Status.NOT_RUN)
        + " not run";
  }

  static String conformanceLine(ReportModel m) {
    List<CaseEntry> compared = m.cases().stream().filter(c -> c.conformance() != null
        && !c.conformance().verdict().equals("skipped")).toList();
    if (compared.isEmpty()) {
      return null;
    }
    long identical = compared.stream().filter(c -> c.conformance().verdict().equals("identical"))
        .count();
    long known = compared.stream()
        .filter(c -> c.conformance().verdict().equals("known divergence")).count();
    long bad = compared.stream().filter(c -> c.conformance().bad()).count();
    return "against QEMU 7.2: " + identical + "/" + compared.size() + " identical, " + known
        + " known divergences, " + bad + " differ";
  }

  static String baselineLine(ReportModel m) {
    long changed = m.cases().stream().filter(c -> c.change() != null
        && c.change().kind() == BaselineChange.Kind.CHANGED).count();
    long added = m.cases().stream().filter(c -> c.change() != null
        && c.change().kind() == BaselineChange.Kind.NEW).count();
    return "since baseline " + m.baseline() + ": " + changed + " cases changed, " + added
        + " new, " + m.removed().size() + " gone";
  }

  /** Returns the case's simulated duration, or "" when it has no timeline. */
  static String virtualTime(CaseEntry c) {
    if (c.observations().get("timeline") instanceof Map<?, ?> t
        && t.get("end_ns") instanceof Number n) {
      return Html.duration(n.longValue());
    }
    return "";
  }

  /**
   * Returns the first thing a reader should see: the golden file's first differing line, the
   * failure, the first difference from QEMU, or the first change since the baseline.
   */
  static String firstDifference(CaseEntry c) {
    if (c.observations().get("golden_difference") instanceof Map<?, ?> g) {
      int line = ((Number) g.get("line")).intValue();
      int first = ((Number) g.get("first")).intValue();
      List<?> expected = (List<?>) g.get("expected");
      List<?> actual = (List<?>) g.get("actual");
      int i = line - first;
      return g.get("file") + " line " + line + ": expected '"
          + (i < expected.size() ? expected.get(i) : "") + "', got '"
          + (i < actual.size() ? actual.get(i) : "") + "'";
    }
    if (c.failure() != null && c.status() != Status.PASSED) {
      return c.failure();
    }
    if (c.conformance() != null && !c.conformance().differences().isEmpty()) {
      Difference d = c.conformance().differences().get(0);
      return "QEMU differs: " + d.category() + " at " + d.where() + ": qemu " + d.left()
          + ", sim " + d.right();
    }
    if (c.change() != null && !c.change().differences().isEmpty()) {
      Difference d = c.change().differences().get(0);
      return "changed: " + d.category() + " at " + d.where() + ": was " + d.left() + ", now "
          + d.right();
    }
    return null;
  }

  static String clip(String s, int max) {
    return s == null || s.length() <= max ? s : s.substring(0, max) + "…";
  }

  static String markdown(ReportModel m, String casesDir, Map<CaseEntry, String> pages) {
    StringBuilder md = new StringBuilder("## ").append(m.title()).append("\n\n");
    md.append(totals(m)).append("\n");
    String conformance = conformanceLine(m);
    if (conformance != null) {
      md.append("\n").append(conformance).append("\n");
    }
    if (m.baseline() != null) {
      md.append("\n").append(baselineLine(m)).append("\n");
    }
    for (Section s : m.sections()) {
      md.append("\n### ").append(s.title()).append("\n\n");
      if (s.text() != null) {
        md.append(s.text()).append("\n");
      }
    }
    List<CaseEntry> notable = m.cases().stream().filter(c -> c.status() != Status.PASSED
        || (c.conformance() != null && c.conformance().bad())
        || (c.change() != null && c.change().kind() != BaselineChange.Kind.UNCHANGED)).toList();
    if (!notable.isEmpty()) {
      md.append("\n| result | case | first difference |\n| --- | --- | --- |\n");
      for (CaseEntry c : notable.subList(0, Math.min(MARKDOWN_ROWS, notable.size()))) {
        String result = HtmlReport.statusWord(c.status())
            + (c.change() != null && c.change().kind() != BaselineChange.Kind.UNCHANGED
                ? ", " + c.change().kind().name().toLowerCase(java.util.Locale.ROOT) : "")
            + (c.conformance() != null && c.conformance().bad() ? ", QEMU "
                + c.conformance().verdict() : "");
        String first = firstDifference(c);
        md.append("| ").append(result).append(" | [").append(cell(c.displayName())).append("](")
            .append(casesDir).append(pages.get(c).replace(" ", "%20")).append(") | ")
            .append(first == null ? "" : "`" + cell(clip(first, 200)).replace("`", "'") + "`")
            .append(" |\n");
      }
      if (notable.size() > MARKDOWN_ROWS) {
        md.append("\n…and ").append(notable.size() - MARKDOWN_ROWS)
            .append(" more in index.html\n");
      }
    }
    return md.toString();
  }

  private static String cell(String s) {
    return s.replace("|", "\\|").replace("\n", " ");
  }

  static String junit(ReportModel m) {
    long failures = m.cases().stream().filter(c -> c.status() != Status.PASSED
        && c.status() != Status.NOT_RUN || (c.conformance() != null && c.conformance().bad()))
        .count();
    long skipped = m.count(Status.NOT_RUN);
    StringBuilder xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.append("<testsuite name=\"").append(Html.esc(m.title())).append("\" tests=\"")
        .append(m.cases().size()).append("\" failures=\"").append(failures)
        .append("\" skipped=\"").append(skipped).append("\">\n");
    for (CaseEntry c : m.cases()) {
      xml.append("  <testcase classname=\"").append(Html.esc(c.scenario())).append("\" name=\"")
          .append(Html.esc(c.caseName().isEmpty() ? c.scenario() : c.caseName())).append('"');
      boolean bad = c.conformance() != null && c.conformance().bad();
      if (c.status() == Status.PASSED && !bad) {
        xml.append("/>\n");
        continue;
      }
      xml.append(">\n");
      if (c.status() == Status.NOT_RUN) {
        xml.append("    <skipped message=\"").append(Html.esc(c.failure())).append("\"/>\n");
      } else {
        String first = firstDifference(c);
        xml.append("    <failure message=\"").append(Html.esc(clip(first, 1000))).append("\">")
            .append(Html.esc((c.failure() == null ? "" : c.failure() + "\n")
                + (c.replay() == null ? "" : "replay: " + c.replay())))
            .append("</failure>\n");
      }
      xml.append("  </testcase>\n");
    }
    return xml.append("</testsuite>\n").toString();
  }
}
