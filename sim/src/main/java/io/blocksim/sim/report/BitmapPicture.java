package io.blocksim.sim.report;

import java.util.List;
import java.util.Map;

/**
 * Draws one bitmap as an SVG strip of its granules, wrapped into rows: one mark per granule
 * (dirty or clean), so a reader sees at a glance which clusters a backup will copy. A bitmap of
 * more than {@link #MAX_MARKS} granules (a 1 TiB disk) is drawn with one mark per group of
 * granules, dirty when any granule in it is, and the caption says how many each mark covers.
 *
 * <p>Marks are the subpaths of two paths, {@code class="d"} (dirty) and {@code class="c"}
 * (clean): {@code M x y h.. v.. h.. z} each, at column {@code x / CELL} and row {@code y /
 * ROW}; the svg carries {@code data-marks}, {@code data-per-row} and {@code data-per-mark}.
 */
final class BitmapPicture {
  static final int MAX_MARKS = 2048;
  static final int PER_ROW = 128;
  static final int CELL = 7;
  static final int ROW = 13;
  private static final int MARK_W = 6;
  private static final int MARK_H = 11;

  private BitmapPicture() {}

  /** Returns the granule count of a bitmap of this size and granularity. */
  static long granules(long size, long granularity) {
    return (size + granularity - 1) / granularity;
  }

  /** Returns which marks are dirty, from [offset, length] runs. */
  static boolean[] dirtyMarks(List<?> runs, long size, long granularity, long perMark,
      int marks) {
    boolean[] dirty = new boolean[marks];
    if (runs == null) {
      return dirty;
    }
    long granules = granules(size, granularity);
    for (Object run : runs) {
      List<?> r = (List<?>) run;
      long offset = ((Number) r.get(0)).longValue();
      long length = ((Number) r.get(1)).longValue();
      if (length <= 0) {
        continue;
      }
      long firstGranule = offset / granularity;
      long lastGranule = Math.min(granules - 1, (offset + length - 1) / granularity);
      for (long m = firstGranule / perMark; m <= lastGranule / perMark && m < marks; m++) {
        dirty[(int) m] = true;
      }
    }
    return dirty;
  }

  /**
   * Returns the SVG of one strip. {@code role} is "bitmap" or "successor"; {@code state} adds
   * "frozen" or "disabled" drawing (dashed frame, grey marks).
   */
  static String strip(String node, String name, String role, long size, long granularity,
      List<?> runs, boolean frozen, boolean disabled) {
    long granules = granules(size, granularity);
    long perMark = Math.max(1, (granules + MAX_MARKS - 1) / MAX_MARKS);
    int marks = (int) ((granules + perMark - 1) / perMark);
    boolean[] dirty = dirtyMarks(runs, size, granularity, perMark, marks);
    int perRow = Math.min(PER_ROW, Math.max(1, marks));
    int rows = (marks + perRow - 1) / perRow;
    int width = perRow * CELL + 4;
    int height = rows * ROW + 4;
    StringBuilder dirtyPath = new StringBuilder();
    StringBuilder cleanPath = new StringBuilder();
    for (int i = 0; i < marks; i++) {
      StringBuilder path = dirty[i] ? dirtyPath : cleanPath;
      path.append('M').append(2 + (i % perRow) * CELL).append(' ').append(2 + (i / perRow) * ROW)
          .append('h').append(MARK_W).append('v').append(MARK_H).append('h').append(-MARK_W)
          .append('z');
    }
    String state = (frozen ? " frozen" : "") + (disabled ? " disabled" : "");
    StringBuilder svg = new StringBuilder();
    svg.append("<svg class=\"bitmap ").append(role).append(state).append("\" data-node=\"")
        .append(Html.esc(node)).append("\" data-name=\"").append(Html.esc(name))
        .append("\" data-marks=\"").append(marks).append("\" data-per-row=\"").append(perRow)
        .append("\" data-per-mark=\"").append(perMark).append("\" width=\"").append(width)
        .append("\" height=\"").append(height).append("\" viewBox=\"0 0 ").append(width)
        .append(' ').append(height).append("\" role=\"img\">");
    svg.append("<title>").append(Html.esc(role + " " + node + " '" + name + "': " + granules
        + " granules of " + Html.bytes(granularity))).append("</title>");
    if (frozen) {
      svg.append("<rect x=\"0.5\" y=\"0.5\" width=\"").append(width - 1).append("\" height=\"")
          .append(height - 1).append("\" fill=\"none\" stroke=\"#1f5fbf\" ")
          .append("stroke-dasharray=\"4 2\"/>");
    }
    String dirtyFill = disabled ? "#7a7a7a" : role.equals("successor") ? "#e07b00" : "#d62728";
    svg.append("<path class=\"c\" fill=\"").append(disabled ? "#f4f4f4" : "#e4e4e4")
        .append("\" d=\"").append(cleanPath).append("\"/>");
    svg.append("<path class=\"d\" fill=\"").append(dirtyFill).append("\" d=\"").append(dirtyPath)
        .append("\"/>");
    svg.append("</svg>");
    return svg.toString();
  }

  /** Returns the caption under a strip: what one mark is, and where rows start. */
  static String caption(long size, long granularity) {
    long granules = granules(size, granularity);
    long perMark = Math.max(1, (granules + MAX_MARKS - 1) / MAX_MARKS);
    long rowBytes = Math.min(PER_ROW, granules) * perMark * granularity;
    return granules + " granules of " + Html.bytes(granularity) + " over " + Html.bytes(size)
        + (perMark > 1 ? "; each mark covers " + perMark + " granules (dirty if any is)"
            : "; one mark per granule")
        + "; each row is " + Html.bytes(rowBytes);
  }

  /** Returns the state words of a bitmap row for its heading. */
  static String flags(Map<?, ?> info, Map<?, ?> granuleRow) {
    StringBuilder s = new StringBuilder();
    if (granuleRow != null && Boolean.TRUE.equals(granuleRow.get("frozen"))) {
      s.append(" frozen (a job holds it; new writes go to its successor)");
    }
    if (info != null && Boolean.FALSE.equals(info.get("recording"))) {
      s.append(" disabled (not recording)");
    }
    if (info != null && Boolean.TRUE.equals(info.get("busy"))) {
      s.append(" busy");
    }
    if (info != null && Boolean.TRUE.equals(info.get("persistent"))) {
      s.append(" persistent");
    }
    if (info != null && Boolean.TRUE.equals(info.get("inconsistent"))) {
      s.append(" INCONSISTENT");
    }
    return s.toString().strip();
  }
}
