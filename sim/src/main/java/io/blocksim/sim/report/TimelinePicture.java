package io.blocksim.sim.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Draws a case's run over virtual time as SVG: one column per step (log steps left out), the
 * events of a step placed inside its column by their virtual time; lanes for the verbs (QMP
 * commands; job verbs bold), one per job with its statuses as coloured segments, the other
 * events, guest I/O (io steps; failed ones red) and faults (blkdebug rules armed, job and I/O
 * errors, failed requests, crashes). Every mark has a tooltip ({@code <title>}), and observe
 * steps link to their bitmap picture. Columns have equal width so that instants crowded with
 * commands stay readable; the axis under them gives each step's virtual start time.
 */
final class TimelinePicture {
  private static final int LEFT = 130;
  private static final int COL = 26;
  private static final int LANE = 20;
  private static final int TOP = 18;
  static final int CHUNK = 40;
  static final Map<String, String> STATUS_COLOURS = new LinkedHashMap<>();

  static {
    STATUS_COLOURS.put("created", "#c7c7c7");
    STATUS_COLOURS.put("running", "#2ca02c");
    STATUS_COLOURS.put("paused", "#bcbd22");
    STATUS_COLOURS.put("ready", "#17becf");
    STATUS_COLOURS.put("standby", "#9edae5");
    STATUS_COLOURS.put("waiting", "#aec7e8");
    STATUS_COLOURS.put("pending", "#1f77b4");
    STATUS_COLOURS.put("aborting", "#d62728");
    STATUS_COLOURS.put("concluded", "#9467bd");
    STATUS_COLOURS.put("undefined", "#ffffff");
  }

  private TimelinePicture() {}

  /** A status a job held from one position to another (positions in columns). */
  private record Span(String job, String status, double from, double to) {}

  /**
   * Returns the SVG pictures (one per {@link #CHUNK} steps, stacked, so that no reader has to
   * scroll sideways), or null when the case has no timeline (observed on QEMU).
   */
  @SuppressWarnings("unchecked")
  static String draw(Map<String, Object> caseObject) {
    if (!(caseObject.get("timeline") instanceof Map<?, ?> timeline)) {
      return null;
    }
    List<Map<String, Object>> steps = new ArrayList<>();
    for (Map<String, Object> s : (List<Map<String, Object>>) timeline.get("steps")) {
      if (!"log".equals(s.get("kind"))) {
        steps.add(s);
      }
    }
    if (steps.isEmpty()) {
      return null;
    }
    List<Object> eventsNs = (List<Object>) timeline.get("events_ns");
    List<Map<String, Object>> events = caseObject.get("events") instanceof List<?> l
        ? (List<Map<String, Object>>) l : List.of();
    // Where each event goes: its step's column, placed by virtual time within it.
    double[] eventPos = new double[events.size()];
    java.util.Arrays.fill(eventPos, -1);
    for (int c = 0; c < steps.size(); c++) {
      Map<String, Object> s = steps.get(c);
      int from = num(s.get("events_from"));
      int to = Math.min(num(s.get("events_to")), events.size());
      long start = lnum(s.get("start_ns"));
      long end = lnum(s.get("end_ns"));
      for (int i = from; i < to; i++) {
        double frac = end > start && i < eventsNs.size()
            ? (lnum(eventsNs.get(i)) - start) / (double) (end - start)
            : (i - from + 1) / (double) (to - from + 1);
        eventPos[i] = c + 0.1 + 0.8 * Math.max(0, Math.min(1, frac));
      }
    }
    // Each job's statuses, from JOB_STATUS_CHANGE; "null" (dismissed) is not drawn.
    List<String> jobs = new ArrayList<>();
    List<Span> spans = new ArrayList<>();
    Map<String, Object[]> current = new LinkedHashMap<>();
    for (int i = 0; i < events.size(); i++) {
      Map<String, Object> e = events.get(i);
      if (!"JOB_STATUS_CHANGE".equals(e.get("event")) || eventPos[i] < 0
          || !(e.get("data") instanceof Map<?, ?> d)) {
        continue;
      }
      String job = String.valueOf(d.get("id"));
      if (!jobs.contains(job)) {
        jobs.add(job);
      }
      Object[] open = current.get(job);
      if (open != null && !"null".equals(open[0])) {
        spans.add(new Span(job, (String) open[0], (double) open[1], eventPos[i]));
      }
      current.put(job, new Object[] {String.valueOf(d.get("status")), eventPos[i]});
    }
    for (Map.Entry<String, Object[]> e : current.entrySet()) {
      if (!"null".equals(e.getValue()[0])) {
        spans.add(new Span(e.getKey(), (String) e.getValue()[0], (double) e.getValue()[1],
            steps.size()));
      }
    }
    StringBuilder out = new StringBuilder();
    for (int c0 = 0; c0 < steps.size(); c0 += CHUNK) {
      out.append(chunk(steps, events, eventsNs, eventPos, jobs, spans, c0,
          Math.min(steps.size(), c0 + CHUNK)));
    }
    return out.toString();
  }

  private static String chunk(List<Map<String, Object>> steps, List<Map<String, Object>> events,
      List<Object> eventsNs, double[] eventPos, List<String> allJobs, List<Span> spans, int c0,
      int c1) {
    List<String> jobs = new ArrayList<>();
    for (String job : allJobs) {
      if (spans.stream().anyMatch(s -> s.job().equals(job) && s.to() > c0 && s.from() < c1)) {
        jobs.add(job);
      }
    }
    int columns = c1 - c0;
    int lanes = 4 + jobs.size();
    int width = LEFT + columns * COL + 10;
    int axisY = TOP + lanes * LANE + 4;
    int height = axisY + 62;
    StringBuilder svg = new StringBuilder();
    svg.append("<svg class=\"timeline\" data-first-step=\"").append(steps.get(c0).get("step"))
        .append("\" width=\"").append(width).append("\" height=\"").append(height)
        .append("\" viewBox=\"0 0 ").append(width).append(' ').append(height)
        .append("\" role=\"img\"><title>job timeline over virtual time</title>");
    String[] laneNames = new String[lanes];
    laneNames[0] = "verbs (QMP)";
    for (int j = 0; j < jobs.size(); j++) {
      laneNames[1 + j] = "job " + jobs.get(j);
    }
    laneNames[1 + jobs.size()] = "events";
    laneNames[2 + jobs.size()] = "guest I/O";
    laneNames[3 + jobs.size()] = "faults";
    for (int i = 0; i < lanes; i++) {
      int y = TOP + i * LANE;
      svg.append("<rect x=\"").append(LEFT).append("\" y=\"").append(y).append("\" width=\"")
          .append(columns * COL).append("\" height=\"").append(LANE - 2)
          .append("\" fill=\"").append(i % 2 == 0 ? "#fafafa" : "#f2f2f2").append("\"/>");
      svg.append("<text x=\"4\" y=\"").append(y + 13).append("\">")
          .append(Html.esc(Summary.clip(laneNames[i], 20))).append("</text>");
    }
    // Column grid, step numbers and virtual start times.
    long lastLabelled = Long.MIN_VALUE;
    for (int c = c0; c < c1; c++) {
      Map<String, Object> s = steps.get(c);
      int x = LEFT + (c - c0) * COL;
      svg.append("<line x1=\"").append(x).append("\" y1=\"").append(TOP).append("\" x2=\"")
          .append(x).append("\" y2=\"").append(axisY).append("\" stroke=\"#ddd\"/>");
      svg.append("<text x=\"").append(x + 2).append("\" y=\"").append(TOP - 5)
          .append("\" fill=\"#666\">").append(s.get("step")).append("</text>");
      long start = lnum(s.get("start_ns"));
      if (start != lastLabelled) {
        svg.append("<text transform=\"translate(").append(x + 9).append(',').append(axisY + 4)
            .append(") rotate(60)\" fill=\"#444\">").append(Html.esc(Html.duration(start)))
            .append("</text>");
        lastLabelled = start;
      }
    }
    int faultsY = TOP + (3 + jobs.size()) * LANE;
    int ioY = TOP + (2 + jobs.size()) * LANE;
    int eventsY = TOP + (1 + jobs.size()) * LANE;
    // Verbs lane, guest I/O lane and the faults steps cause.
    for (int c = c0; c < c1; c++) {
      Map<String, Object> s = steps.get(c);
      String kind = String.valueOf(s.get("kind"));
      int x = LEFT + (c - c0) * COL;
      String tip = "step " + s.get("step") + " (line " + s.get("line") + "): " + kind + " "
          + s.get("text") + " at " + Html.duration(lnum(s.get("start_ns")));
      boolean failed = hasError(s);
      if (kind.equals("qmp")) {
        String cmd = String.valueOf(s.get("text"));
        boolean verb = cmd.startsWith("job-") || cmd.startsWith("block-job-")
            || cmd.endsWith("-backup") || cmd.equals("transaction") || cmd.contains("mirror")
            || cmd.contains("stream") || cmd.contains("commit");
        svg.append("<rect class=\"verb\" x=\"").append(x + 4).append("\" y=\"")
            .append(TOP + 3).append("\" width=\"").append(COL - 8).append("\" height=\"")
            .append(LANE - 8).append("\" fill=\"")
            .append(failed ? "#d62728" : verb ? "#333" : "#bbb").append("\"><title>")
            .append(Html.esc(tip + (failed ? " — error" : ""))).append("</title></rect>");
        if (String.valueOf(s.get("output")).contains("inject-error")) {
          svg.append("<text class=\"armed\" x=\"").append(x + 8).append("\" y=\"")
              .append(faultsY + 14).append("\" fill=\"#d62728\">⚑<title>")
              .append(Html.esc("blkdebug inject-error rules armed: " + tip))
              .append("</title></text>");
        }
      } else if (kind.equals("observe")) {
        svg.append("<a href=\"#obs-").append(s.get("step")).append("\"><polygon points=\"")
            .append(x + COL / 2).append(',').append(TOP + 2).append(' ').append(x + COL - 5)
            .append(',').append(TOP + LANE / 2 - 1).append(' ').append(x + COL / 2).append(',')
            .append(TOP + LANE - 4).append(' ').append(x + 5).append(',')
            .append(TOP + LANE / 2 - 1).append("\" fill=\"#1f5fbf\"><title>")
            .append(Html.esc(tip + " (click for the bitmaps)")).append("</title></polygon></a>");
      } else {
        svg.append("<circle cx=\"").append(x + COL / 2).append("\" cy=\"")
            .append(TOP + LANE / 2 - 1).append("\" r=\"3\" fill=\"")
            .append(failed ? "#d62728" : "#999").append("\"><title>").append(Html.esc(tip))
            .append("</title></circle>");
      }
      if (kind.equals("io")) {
        String ioTip = "step " + s.get("step") + ": " + s.get("text") + " ("
            + Html.duration(lnum(s.get("start_ns"))) + " to "
            + Html.duration(lnum(s.get("end_ns"))) + ")";
        svg.append("<rect class=\"io\" x=\"").append(x + 2).append("\" y=\"").append(ioY + 3)
            .append("\" width=\"").append(COL - 4).append("\" height=\"").append(LANE - 8)
            .append("\" fill=\"").append(failed ? "#d62728" : "#8c564b").append("\"><title>")
            .append(Html.esc(ioTip + (failed ? " — failed" : ""))).append("</title></rect>");
        if (failed) {
          fault(svg, x + COL / 2.0, faultsY, "guest request failed: " + ioTip);
        }
      } else if (kind.equals("crash")) {
        fault(svg, x + COL / 2.0, faultsY, "crash (" + s.get("text") + ")");
      }
    }
    // Job lanes.
    for (Span span : spans) {
      int lane = jobs.indexOf(span.job());
      if (lane < 0 || span.to() <= c0 || span.from() >= c1) {
        continue;
      }
      double from = LEFT + (Math.max(c0, span.from()) - c0) * COL;
      double to = LEFT + (Math.min(c1, span.to()) - c0) * COL;
      segment(svg, span.job(), span.status(), from, to, TOP + (1 + lane) * LANE);
    }
    // Events lane and the faults events report.
    for (int i = 0; i < events.size(); i++) {
      Map<String, Object> e = events.get(i);
      String name = String.valueOf(e.get("event"));
      if (eventPos[i] < c0 || eventPos[i] >= c1 || name.equals("JOB_STATUS_CHANGE")) {
        continue;
      }
      double x = LEFT + (eventPos[i] - c0) * COL;
      String tip = name + " " + io.blocksim.model.qapi.Json.compact(e.get("data")) + " at "
          + (i < eventsNs.size() ? Html.duration(lnum(eventsNs.get(i))) : "?");
      boolean fault = name.equals("BLOCK_JOB_ERROR") || name.equals("BLOCK_IO_ERROR")
          || (e.get("data") instanceof Map<?, ?> d && d.get("error") != null);
      svg.append("<circle class=\"event\" cx=\"").append(fmt(x)).append("\" cy=\"")
          .append(eventsY + LANE / 2 - 1).append("\" r=\"4\" fill=\"")
          .append(fault ? "#d62728" : "#555").append("\"><title>").append(Html.esc(tip))
          .append("</title></circle>");
      if (fault) {
        fault(svg, x, faultsY, tip);
      }
    }
    svg.append("</svg>\n");
    return svg.toString();
  }

  private static void segment(StringBuilder svg, String job, String status, double from,
      double to, int y) {
    double w = Math.max(1.5, to - from);
    svg.append("<rect class=\"status\" data-job=\"").append(Html.esc(job))
        .append("\" data-status=\"").append(Html.esc(status)).append("\" x=\"").append(fmt(from))
        .append("\" y=\"").append(y + 2).append("\" width=\"").append(fmt(w))
        .append("\" height=\"").append(LANE - 6).append("\" fill=\"")
        .append(STATUS_COLOURS.getOrDefault(status, "#ffbb78")).append("\"><title>")
        .append(Html.esc(job + ": " + status)).append("</title></rect>");
    if (w > 8 * status.length()) {
      svg.append("<text x=\"").append(fmt(from + 3)).append("\" y=\"").append(y + 13)
          .append("\" fill=\"#000\">").append(Html.esc(status)).append("</text>");
    }
  }

  private static void fault(StringBuilder svg, double x, int y, String tip) {
    svg.append("<path class=\"fault\" d=\"M").append(fmt(x)).append(' ').append(y + 2)
        .append("l6 13h-12z\" fill=\"#d62728\"><title>").append(Html.esc(tip))
        .append("</title></path>");
  }

  @SuppressWarnings("unchecked")
  static boolean hasError(Map<String, Object> step) {
    if (!(step.get("output") instanceof List<?> lines)) {
      return false;
    }
    for (Object line : lines) {
      String s = String.valueOf(line);
      if (s.startsWith("{\"error\"") || s.contains(" failed: ") || s.startsWith("qemu-io: ")) {
        return true;
      }
    }
    return false;
  }

  private static String fmt(double v) {
    return String.format(java.util.Locale.ROOT, "%.1f", v);
  }

  static int num(Object o) {
    return o instanceof Number n ? n.intValue() : 0;
  }

  static long lnum(Object o) {
    return o instanceof Number n ? n.longValue() : 0;
  }

  /** The legend under the timeline, as HTML. */
  static String legend() {
    StringBuilder html = new StringBuilder("<p class=\"legend\">");
    for (Map.Entry<String, String> e : STATUS_COLOURS.entrySet()) {
      if (e.getKey().equals("undefined")) {
        continue;
      }
      html.append("<span><i class=\"sw\" style=\"background:").append(e.getValue())
          .append("\"></i>").append(e.getKey()).append("</span>");
    }
    html.append("<span><i class=\"sw\" style=\"background:#333\"></i>job verb</span>")
        .append("<span><i class=\"sw\" style=\"background:#bbb\"></i>other command</span>")
        .append("<span><i class=\"sw\" style=\"background:#1f5fbf\"></i>observe</span>")
        .append("<span><i class=\"sw\" style=\"background:#8c564b\"></i>guest I/O</span>")
        .append("<span><i class=\"sw\" style=\"background:#d62728\"></i>error / fault</span>")
        .append("</p>");
    return html.toString();
  }
}
