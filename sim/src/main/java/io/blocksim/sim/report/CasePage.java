package io.blocksim.sim.report;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.report.ReportModel.BaselineChange;
import io.blocksim.sim.report.ReportModel.CaseEntry;
import io.blocksim.sim.report.ReportModel.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One case's page: what went wrong (expected and actual side by side, the replay command), the
 * verdict against QEMU, the change since the baseline, the job timeline, the bitmaps at every
 * observe (and the baseline's where they changed), then every step with its output.
 */
final class CasePage {
  private CasePage() {}

  @SuppressWarnings("unchecked")
  static String render(ReportModel model, CaseEntry c) {
    Map<String, Object> o = c.observations();
    StringBuilder b = new StringBuilder();
    b.append("<p><a href=\"../index.html\">← all cases</a></p>\n");
    b.append("<h1>").append(Html.esc(c.displayName())).append(' ')
        .append(HtmlReport.statusBadge(c.status())).append(' ')
        .append(HtmlReport.changeBadge(c.change())).append("</h1>\n");
    b.append("<p>scenario <code>").append(Html.esc(c.scenario())).append("</code>");
    if (!c.caseName().isEmpty()) {
      b.append(", case <code>").append(Html.esc(c.caseName())).append("</code>");
    }
    if (o.get("seed") != null) {
      b.append(", seed ").append(Html.esc(o.get("seed")));
    }
    String time = Summary.virtualTime(c);
    if (!time.isEmpty()) {
      b.append(", ").append(time).append(" of virtual time");
    }
    b.append("</p>\n");
    if (c.replay() != null) {
      b.append("<p>replay: <code class=\"replay\">").append(Html.esc(c.replay()))
          .append("</code></p>\n");
    }
    failure(b, c);
    if (c.conformance() != null) {
      b.append("<h2>Against QEMU 7.2</h2>\n<p class=\"conformance\">")
          .append(Html.esc(c.conformance().verdict()))
          .append(c.conformance().detail() == null ? ""
              : ": " + Html.esc(c.conformance().detail())).append("</p>\n");
      if (!c.conformance().differences().isEmpty()) {
        b.append(HtmlReport.differences(c.conformance().differences(), "QEMU 7.2",
            "simulator"));
      }
    }
    if (c.change() != null) {
      b.append("<h2>Since the baseline (").append(Html.esc(model.baseline())).append(")</h2>\n");
      if (c.change().kind() == BaselineChange.Kind.NEW) {
        b.append("<p>The baseline has no such case.</p>\n");
      } else if (c.change().kind() == BaselineChange.Kind.UNCHANGED) {
        b.append("<p>Observations unchanged.</p>\n");
      } else {
        b.append("<div class=\"boxc\" id=\"change\"><p>The observations changed; the first "
            + "difference of each category:</p>\n");
        b.append(HtmlReport.differences(c.change().differences(), "baseline", "now"));
        b.append("</div>\n");
      }
    }
    String timeline = TimelinePicture.draw(o);
    if (timeline != null) {
      b.append("<h2>Jobs over virtual time</h2>\n<p>One column per step (its number on top, its "
          + "virtual start time below); hover a mark for details.</p>\n<div class=\"scroll\">")
          .append(timeline).append("</div>\n").append(TimelinePicture.legend());
    }
    observations(b, c);
    steps(b, o);
    return HtmlReport.page(c.displayName(), b.toString());
  }

  @SuppressWarnings("unchecked")
  private static void failure(StringBuilder b, CaseEntry c) {
    if (c.status() == Status.PASSED || c.failure() == null) {
      return;
    }
    b.append("<div class=\"box\" id=\"failure\"><h2>")
        .append(c.status() == Status.NOT_RUN ? "Not run" : "What went wrong").append("</h2>\n");
    b.append("<p class=\"failure mono\">").append(Html.esc(c.failure())).append("</p>\n");
    if (c.observations().get("golden_difference") instanceof Map<?, ?> g) {
      int line = ((Number) g.get("line")).intValue();
      int first = ((Number) g.get("first")).intValue();
      b.append("<p>First difference at line ").append(line).append(" of <code>")
          .append(Html.esc(g.get("file"))).append("</code>:</p>\n<div class=\"side\">");
      side(b, "expected (golden file)", (List<Object>) g.get("expected"), first, line);
      side(b, "actual (this run)", (List<Object>) g.get("actual"), first, line);
      b.append("</div>\n");
    }
    if (c.replay() != null) {
      b.append("<p>Replay it: <code>").append(Html.esc(c.replay())).append("</code></p>\n");
    }
    b.append("</div>\n");
  }

  private static void side(StringBuilder b, String title, List<Object> lines, int first,
      int line) {
    b.append("<div class=\"").append(title.startsWith("expected") ? "expected" : "actual")
        .append("\"><h3>").append(Html.esc(title)).append("</h3><pre>");
    for (int i = 0; i < lines.size(); i++) {
      int n = first + i;
      String text = String.format(java.util.Locale.ROOT, "%4d  %s", n, lines.get(i));
      b.append(n == line ? "<span class=\"hl\">" + Html.esc(text) + "</span>" : Html.esc(text))
          .append('\n');
    }
    b.append("</pre></div>");
  }

  @SuppressWarnings("unchecked")
  private static void observations(StringBuilder b, CaseEntry c) {
    List<Object> now = list(c.observations().get("observations"));
    if (now.isEmpty()) {
      return;
    }
    List<Object> before = c.change() != null && c.change().old() != null
        ? list(c.change().old().get("observations")) : List.of();
    List<Object> stepIndex = timelineObserveSteps(c.observations());
    b.append("<h2>Bitmaps at each observe</h2>\n<p class=\"legend\">"
        + "<span><i class=\"sw\" style=\"background:#d62728\"></i>dirty granule</span>"
        + "<span><i class=\"sw\" style=\"background:#e4e4e4\"></i>clean granule</span>"
        + "<span><i class=\"sw\" style=\"background:#e07b00\"></i>dirty in the successor</span>"
        + "<span><i class=\"sw\" style=\"background:#7a7a7a\"></i>dirty, bitmap disabled</span>"
        + "<span><i class=\"sw\" style=\"border:1px dashed #1f5fbf\"></i>frozen: a job holds "
        + "it</span></p>\n");
    for (int i = 0; i < now.size(); i++) {
      Map<String, Object> obs = (Map<String, Object>) now.get(i);
      Map<String, Object> old = i < before.size() ? (Map<String, Object>) before.get(i) : null;
      boolean changed = old != null && !Json.compact(pick(old)).equals(Json.compact(pick(obs)));
      String anchor = i < stepIndex.size() ? "obs-" + stepIndex.get(i) : "obs-i" + i;
      b.append("<section class=\"observation").append(changed ? " changed-obs" : "")
          .append("\" id=\"").append(anchor).append("\" data-label=\"")
          .append(Html.esc(obs.get("label"))).append("\"><h3>observe ")
          .append(Html.esc(obs.get("label")))
          .append(changed ? " <span class=\"status changed\">changed since baseline</span>" : "")
          .append("</h3>\n");
      if (changed) {
        // Stacked rather than side by side: a strip is as wide as a page column.
        b.append("<div class=\"was\"><h3>baseline</h3>");
        observation(b, old);
        b.append("</div><div class=\"now\"><h3>now</h3>");
        observation(b, obs);
        b.append("</div>");
      } else {
        observation(b, obs);
      }
      b.append("</section>\n");
    }
  }

  private static Map<String, Object> pick(Map<String, Object> obs) {
    return Json.object("bitmaps", obs.get("bitmaps"), "jobs", obs.get("jobs"), "images",
        obs.get("images"), "granules", obs.get("granules"));
  }

  @SuppressWarnings("unchecked")
  private static void observation(StringBuilder b, Map<String, Object> obs) {
    List<Object> jobs = list(obs.get("jobs"));
    if (!jobs.isEmpty()) {
      b.append("<p>jobs: ");
      List<String> parts = new ArrayList<>();
      for (Object j : jobs) {
        Map<String, Object> job = (Map<String, Object>) j;
        parts.add(Html.esc(job.get("id") + " (" + job.get("type") + ") " + job.get("status")
            + (job.get("error") == null ? "" : ", error: " + job.get("error"))));
      }
      b.append(String.join("; ", parts)).append("</p>\n");
    }
    List<Object> bitmaps = list(obs.get("bitmaps"));
    List<Object> granules = obs.get("granules") instanceof List<?> g ? (List<Object>) g : null;
    if (bitmaps.isEmpty()) {
      b.append("<p>no bitmaps</p>\n");
    }
    for (int k = 0; k < bitmaps.size(); k++) {
      Map<String, Object> info = (Map<String, Object>) bitmaps.get(k);
      Map<String, Object> row = granules != null && k < granules.size()
          ? (Map<String, Object>) granules.get(k) : null;
      if (row != null && !(String.valueOf(row.get("node")).equals(String.valueOf(info.get("node")))
          && String.valueOf(row.get("name")).equals(String.valueOf(info.get("name"))))) {
        row = null;
      }
      String name = String.valueOf(info.get("name"));
      b.append("<div class=\"bm\"><p><b>").append(Html.esc(info.get("node"))).append(" / ")
          .append(name.isEmpty() ? "(anonymous)" : Html.esc(name)).append("</b>: ")
          .append(Html.esc(info.get("count"))).append(" bytes dirty");
      String flags = BitmapPicture.flags(info, row);
      if (!flags.isEmpty()) {
        b.append(" — ").append(Html.esc(flags));
      }
      b.append("</p>\n");
      if (row == null) {
        b.append("<p><i>granule contents not recorded (observed outside the simulator)</i>"
            + "</p></div>\n");
        continue;
      }
      long size = ((Number) row.get("size")).longValue();
      long granularity = ((Number) row.get("granularity")).longValue();
      boolean frozen = Boolean.TRUE.equals(row.get("frozen"));
      boolean disabled = Boolean.TRUE.equals(row.get("disabled"));
      b.append(BitmapPicture.strip(String.valueOf(info.get("node")), name, "bitmap", size,
          granularity, (List<?>) row.get("dirty"), frozen, disabled)).append('\n');
      if (row.get("successor") instanceof List<?> successor) {
        b.append("<p>its successor (writes since the job took the bitmap):</p>\n")
            .append(BitmapPicture.strip(String.valueOf(info.get("node")), name, "successor",
                size, granularity, successor, false, false)).append('\n');
      }
      b.append("<p class=\"caption\"><small>").append(Html.esc(BitmapPicture.caption(size,
          granularity))).append("</small></p></div>\n");
    }
    List<Object> images = list(obs.get("images"));
    for (Object im : images) {
      Map<String, Object> image = (Map<String, Object>) im;
      b.append("<p>image ").append(Html.esc(image.get("node"))).append(": <code>")
          .append(Html.esc(image.get("sha256"))).append("</code></p>\n");
    }
  }

  @SuppressWarnings("unchecked")
  private static List<Object> timelineObserveSteps(Map<String, Object> o) {
    List<Object> out = new ArrayList<>();
    if (o.get("timeline") instanceof Map<?, ?> t) {
      for (Object s : list(t.get("steps"))) {
        Map<String, Object> step = (Map<String, Object>) s;
        if ("observe".equals(step.get("kind"))) {
          out.add(step.get("step"));
        }
      }
    }
    return out;
  }

  @SuppressWarnings("unchecked")
  private static void steps(StringBuilder b, Map<String, Object> o) {
    if (!(o.get("timeline") instanceof Map<?, ?> t)) {
      List<Object> responses = list(o.get("responses"));
      if (!responses.isEmpty()) {
        b.append("<h2>Replies</h2>\n<pre>");
        for (Object r : responses) {
          b.append(Html.esc(Json.compact(r))).append('\n');
        }
        b.append("</pre>\n");
      }
      return;
    }
    b.append("<h2>Steps</h2>\n<table class=\"steps\"><tr><th>#</th><th>line</th><th>virtual "
        + "time</th><th>step</th><th>output (replies, events, errors)</th></tr>\n");
    for (Object s : list(t.get("steps"))) {
      Map<String, Object> step = (Map<String, Object>) s;
      boolean error = TimelinePicture.hasError(step);
      b.append("<tr").append(error ? " class=\"bad\"" : "").append("><td>")
          .append(step.get("step")).append("</td><td>").append(step.get("line"))
          .append("</td><td>").append(Html.duration(TimelinePicture.lnum(step.get("start_ns"))))
          .append("</td><td class=\"mono\">").append(Html.esc(step.get("kind"))).append(' ')
          .append(Html.esc(Summary.clip(String.valueOf(step.get("text")), 200)));
      if (step.get("node") != null) {
        b.append(" (").append(Html.esc(step.get("node"))).append(')');
      }
      b.append("</td><td class=\"mono\">");
      if ("observe".equals(step.get("kind"))) {
        b.append("<a href=\"#obs-").append(step.get("step")).append("\">bitmaps</a>");
      }
      List<Object> output = list(step.get("output"));
      int shown = 0;
      for (Object line : output) {
        if (shown++ == 40) {
          b.append("… ").append(output.size() - 40).append(" more lines<br>");
          break;
        }
        String text = Summary.clip(String.valueOf(line), 400);
        boolean bad = text.startsWith("{\"error\"") || text.contains(" failed: ")
            || text.startsWith("FAILED");
        b.append(bad ? "<span class=\"err\">" + Html.esc(text) + "</span>" : Html.esc(text))
            .append("<br>");
      }
      b.append("</td></tr>\n");
    }
    b.append("</table>\n");
  }

  @SuppressWarnings("unchecked")
  private static List<Object> list(Object value) {
    return value instanceof List<?> l ? (List<Object>) l : List.of();
  }
}
