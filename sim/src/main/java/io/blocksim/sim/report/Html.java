package io.blocksim.sim.report;

import java.util.Locale;

/** Escaping and small formatting helpers shared by the pages and pictures. */
final class Html {
  private Html() {}

  /** Escapes text for element content and attribute values. */
  static String esc(Object value) {
    String s = String.valueOf(value);
    StringBuilder out = new StringBuilder(s.length() + 16);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '&' -> out.append("&amp;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c < 0x20 && c != '\n' && c != '\t' ? ' ' : c);
      }
    }
    return out.toString();
  }

  /** Formats virtual nanoseconds for people: 0, 850 ns, 12.5 µs, 3.25 ms, 1.5 s. */
  static String duration(long ns) {
    if (ns == 0) {
      return "0";
    }
    if (ns < 1_000) {
      return ns + " ns";
    }
    if (ns < 1_000_000) {
      return trim(ns / 1e3) + " µs";
    }
    if (ns < 1_000_000_000) {
      return trim(ns / 1e6) + " ms";
    }
    return trim(ns / 1e9) + " s";
  }

  /** Formats a byte count as QEMU users read it: 64 KiB, 1 MiB, 393216 B. */
  static String bytes(long b) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    double v = b;
    while (v >= 1024 && unit < units.length - 1 && b % (1L << (10 * (unit + 1))) == 0) {
      v /= 1024;
      unit++;
    }
    return (unit == 0 ? Long.toString(b) : trim(v)) + " " + units[unit];
  }

  private static String trim(double v) {
    String s = String.format(Locale.ROOT, "%.2f", v);
    s = s.replaceAll("0+$", "");
    return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
  }

  /** The stylesheet every page inlines (no external files, nothing fetched). */
  static final String STYLE = """
      body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
      h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
      h3{font-size:1em;margin:1.2em 0 .3em}
      table{border-collapse:collapse;margin:.5em 0}
      td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;text-align:left}
      th{background:#f0f0f0}
      code,pre,.mono{font-family:ui-monospace,monospace;font-size:12px}
      pre{background:#f7f7f7;padding:6px;overflow-x:auto;margin:0}
      .status{font-weight:bold;padding:0 4px;border-radius:3px}
      .passed{background:#d9f2d9;color:#135e13}.failed,.bug,.limit{background:#f8d0d0;color:#8b0000}
      .not_run{background:#eee;color:#555}
      .changed{background:#fff0c0;color:#7a5400}.new{background:#d8e8ff;color:#1a3e7a}
      .unchanged{color:#777}
      .bad{background:#f8d0d0}.differ{background:#ffe0a0}
      .box{border:2px solid #c33;padding:.5em 1em;background:#fff8f8;margin:1em 0}
      .boxc{border:2px solid #d9a400;padding:.5em 1em;background:#fffbea;margin:1em 0}
      .side{display:flex;gap:1em;flex-wrap:wrap}.side>div{flex:1;min-width:300px}
      .hl{background:#ffd0d0}
      .was{border-left:4px solid #bbb;padding-left:.5em}
      .now{border-left:4px solid #d9a400;padding-left:.5em}
      .err{color:#a00;font-weight:bold}
      .legend span{display:inline-block;margin-right:1em}
      .sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:3px;
          border:1px solid #999}
      svg text{font:11px system-ui,sans-serif}
      .scroll{overflow-x:auto}
      """;
}
