package io.blocksim.sim.report;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.report.ReportModel.BaselineChange;
import io.blocksim.sim.report.ReportModel.CaseEntry;
import io.blocksim.sim.report.ReportModel.Difference;
import io.blocksim.sim.report.ReportModel.Section;
import io.blocksim.sim.report.ReportModel.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Writes the report folder: {@code index.html}, one page per case in {@code cases/}, {@code
 * summary.md} (for CI job summaries), {@code junit.xml} (failure messages carry the first
 * difference) and {@code observations.json} (the cases as read, usable as a later {@code
 * --baseline}). Everything is static and inline: no script, no stylesheet or font fetched. The
 * output depends only on the model, so the same run gives the same bytes; wall-clock times go to
 * {@code timing.txt} only, which the repository ignores.
 */
public final class HtmlReport {
  private HtmlReport() {}

  /** Writes the report into dir (created if needed); timing may be null. */
  public static void write(ReportModel model, Path dir, String timing) throws IOException {
    Files.createDirectories(dir.resolve("cases"));
    Map<CaseEntry, String> pages = pageNames(model.cases());
    Set<String> written = new HashSet<>();
    for (CaseEntry c : model.cases()) {
      String name = pages.get(c);
      AtomicFiles.write(dir.resolve("cases").resolve(name), CasePage.render(model, c));
      written.add(name);
    }
    try (var stale = Files.list(dir.resolve("cases"))) {
      for (Path p : stale.toList()) {
        if (p.toString().endsWith(".html") && !written.contains(p.getFileName().toString())) {
          Files.delete(p);
        }
      }
    }
    AtomicFiles.write(dir.resolve("index.html"), index(model, pages));
    AtomicFiles.write(dir.resolve("summary.md"), Summary.markdown(model, "cases/", pages));
    AtomicFiles.write(dir.resolve("junit.xml"), Summary.junit(model));
    List<Object> all = new ArrayList<>();
    for (CaseEntry c : model.cases()) {
      all.add(ReportInputs.toJson(c));
    }
    AtomicFiles.write(dir.resolve("observations.json"), Json.pretty(all) + "\n");
    if (timing != null) {
      AtomicFiles.write(dir.resolve("timing.txt"), timing + "\n");
    }
  }

  /** Returns a file name per case: its path and case, made safe, unique and stable. */
  static Map<CaseEntry, String> pageNames(List<CaseEntry> cases) {
    Map<CaseEntry, String> names = new LinkedHashMap<>();
    Set<String> used = new HashSet<>();
    for (CaseEntry c : cases) {
      String path = c.scenario();
      int under = path.lastIndexOf("scenarios/");
      String base = (under >= 0 ? path.substring(under + "scenarios/".length()) : path)
          .replaceFirst("\\.yaml$", "") + (c.caseName().isEmpty() ? "" : "." + c.caseName());
      base = base.replaceAll("[^A-Za-z0-9._=,+-]", "_");
      String name = base + ".html";
      for (int i = 2; !used.add(name); i++) {
        name = base + "-" + i + ".html";
      }
      names.put(c, name);
    }
    return names;
  }

  static String statusWord(Status s) {
    return s == Status.NOT_RUN ? "not run" : s == Status.BUG ? "BUG"
        : s.name().toLowerCase(Locale.ROOT);
  }

  static String statusBadge(Status s) {
    return "<span class=\"status " + s.name().toLowerCase(Locale.ROOT) + "\">"
        + statusWord(s) + "</span>";
  }

  static String changeBadge(BaselineChange change) {
    if (change == null) {
      return "";
    }
    String word = change.kind().name().toLowerCase(Locale.ROOT);
    return "<span class=\"status " + word + "\" data-change=\"" + word + "\">" + word
        + "</span>";
  }

  static String page(String title, String body) {
    return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        + "<meta name=\"viewport\" content=\"width=device-width\"><title>" + Html.esc(title)
        + "</title><style>" + Html.STYLE + "</style></head><body>\n" + body
        + "\n</body></html>\n";
  }

  private static String index(ReportModel model, Map<CaseEntry, String> pages) {
    StringBuilder b = new StringBuilder();
    b.append("<h1>").append(Html.esc(model.title())).append("</h1>\n");
    b.append("<p id=\"totals\">").append(Html.esc(Summary.totals(model))).append("</p>\n");
    String conformance = Summary.conformanceLine(model);
    if (conformance != null) {
      b.append("<p id=\"conformance\">").append(Html.esc(conformance)).append("</p>\n");
    }
    if (model.baseline() != null) {
      b.append("<p id=\"baseline\">").append(Html.esc(Summary.baselineLine(model)))
          .append("</p>\n");
      if (!model.removed().isEmpty()) {
        b.append("<p id=\"gone\">Gone since the baseline (cases it has and this run has not): ");
        b.append(Html.esc(String.join(", ", model.removed()))).append("</p>\n");
      }
    }
    b.append("<p>Virtual time is the simulator's clock; pages show each case's steps, its bitmaps "
        + "at every observe and its jobs over time. See the repository's README, section "
        + "\"The HTML report\".</p>\n");
    for (Section s : model.sections()) {
      b.append("<h2>").append(Html.esc(s.title())).append("</h2>\n");
      if (s.text() != null) {
        b.append("<p>").append(Html.esc(s.text())).append("</p>\n");
      }
      if (!s.headers().isEmpty()) {
        b.append("<table><tr>");
        for (String h : s.headers()) {
          b.append("<th>").append(Html.esc(h)).append("</th>");
        }
        b.append("</tr>\n");
        for (List<String> row : s.rows()) {
          b.append("<tr>");
          for (String cell : row) {
            b.append("<td>").append(Html.esc(cell)).append("</td>");
          }
          b.append("</tr>\n");
        }
        b.append("</table>\n");
      }
    }
    b.append("<h2>Cases</h2>\n<table id=\"cases\"><tr><th>result</th><th>case</th>");
    boolean anyConformance = model.cases().stream().anyMatch(c -> c.conformance() != null);
    if (anyConformance) {
      b.append("<th>against QEMU 7.2</th>");
    }
    if (model.baseline() != null) {
      b.append("<th>since baseline</th>");
    }
    b.append("<th>virtual time</th><th>first difference</th></tr>\n");
    for (CaseEntry c : model.cases()) {
      b.append("<tr class=\"case\" data-status=\"").append(c.status().name().toLowerCase(
          Locale.ROOT)).append("\"><td>").append(statusBadge(c.status())).append("</td>");
      b.append("<td><a href=\"cases/").append(Html.esc(pages.get(c))).append("\">")
          .append(Html.esc(c.displayName())).append("</a></td>");
      if (anyConformance) {
        b.append("<td").append(c.conformance() != null && c.conformance().bad()
            ? " class=\"bad\"" : "").append(">")
            .append(c.conformance() == null ? "" : Html.esc(c.conformance().verdict()
                + (c.conformance().detail() == null ? "" : ": " + c.conformance().detail())))
            .append("</td>");
      }
      if (model.baseline() != null) {
        b.append("<td>").append(changeBadge(c.change())).append("</td>");
      }
      b.append("<td>").append(Html.esc(Summary.virtualTime(c))).append("</td>");
      String first = Summary.firstDifference(c);
      b.append("<td class=\"mono\">").append(first == null ? "" : Html.esc(Summary.clip(first,
          300))).append("</td></tr>\n");
    }
    b.append("</table>\n");
    return page(model.title(), b.toString());
  }

  /** Renders a list of differences as a two-column table. */
  static String differences(List<Difference> differences, String left, String right) {
    StringBuilder b = new StringBuilder("<table class=\"differences\"><tr><th>category</th>"
        + "<th>where</th><th>" + Html.esc(left) + "</th><th>" + Html.esc(right) + "</th></tr>\n");
    for (Difference d : differences) {
      b.append("<tr class=\"difference\"><td>").append(Html.esc(d.category())).append("</td><td>")
          .append(Html.esc(d.where())).append("</td><td class=\"mono\">")
          .append(Html.esc(Summary.clip(d.left(), 2000))).append("</td><td class=\"mono\">")
          .append(Html.esc(Summary.clip(d.right(), 2000))).append("</td></tr>\n");
    }
    return b.append("</table>\n").toString();
  }
}
