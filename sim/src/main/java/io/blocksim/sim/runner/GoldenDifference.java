package io.blocksim.sim.runner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The first line where a case's log leaves its golden file, with a few lines of context on both
 * sides, so the report shows expected and actual side by side without the files at hand.
 */
public final class GoldenDifference {
  static final int CONTEXT = 4;

  private GoldenDifference() {}

  /** Returns {file, line (1-based), first (1-based line of the context), expected, actual}. */
  public static Map<String, Object> of(String file, String expected, String actual) {
    String[] e = expected.split("\n", -1);
    String[] a = actual.split("\n", -1);
    int line = 0;
    while (line < e.length && line < a.length && e[line].equals(a[line])) {
      line++;
    }
    int first = Math.max(0, line - CONTEXT);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("file", file);
    json.put("line", line + 1);
    json.put("first", first + 1);
    json.put("expected", slice(e, first, line + CONTEXT + 1, "<end of file>"));
    json.put("actual", slice(a, first, line + CONTEXT + 1, "<end of output>"));
    return json;
  }

  private static List<Object> slice(String[] lines, int from, int to, String end) {
    List<Object> out = new ArrayList<>();
    for (int i = from; i < to; i++) {
      if (i < lines.length) {
        out.add(lines[i]);
      } else {
        out.add(end);
        break;
      }
    }
    return out;
  }
}
