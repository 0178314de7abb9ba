package io.blocksim.sim.scenario;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Collects the problems of one file, so that a user sees all of them at once (style.md §6). They
 * are reported in file order, each once (matrix cases may find the same one again), at most
 * {@link #LIMIT} of them.
 */
final class Problems {
  static final int LIMIT = 20;

  private final String path;
  private final List<String> sourceLines;
  private final List<ScenarioError.Problem> problems = new ArrayList<>();
  private final Set<String> seen = new LinkedHashSet<>();
  /** Values that use a refused matrix variable: problems there would only repeat that one. */
  private final Set<Location> suppressed = new LinkedHashSet<>();
  /** Every report, repeats included: what callers compare to see whether a read went wrong. */
  private int reports;

  Problems(String path, String text) {
    this.path = path;
    this.sourceLines = splitLines(text);
  }

  String path() {
    return path;
  }

  /** Returns the location of a 1-based line and column of this file. */
  Location at(int line, int column) {
    return new Location(path, Math.max(1, line), Math.max(1, column));
  }

  /**
   * Returns where {@code needle} is written on the line of {@code start}, at or after its column,
   * to point inside a string; else {@code start}.
   */
  Location locate(Location start, String needle) {
    String line = start.line() <= sourceLines.size() ? sourceLines.get(start.line() - 1) : null;
    if (line != null) {
      int column = line.indexOf(needle, Math.max(0, start.column() - 1));
      if (column >= 0) {
        return at(start.line(), column + 1);
      }
    }
    return start;
  }

  void add(Location where, String message) {
    add(where, message, null);
  }

  /** Stops reporting problems at this place (a value that uses a refused matrix variable). */
  void suppressAt(Location where) {
    suppressed.add(where);
  }

  void add(Location where, String message, String hint) {
    reports++;
    if (suppressed.contains(where)) {
      return;
    }
    String key = where.line() + ":" + where.column() + ":" + message;
    if (seen.add(key)) {
      problems.add(new ScenarioError.Problem(where, message, hint, sourceLine(where.line())));
    }
  }

  boolean isEmpty() {
    return problems.isEmpty();
  }

  /**
   * Returns how many problems were reported so far, repeats included (a repeat found again in
   * another matrix case is shown once, but still means this read went wrong).
   */
  int reports() {
    return reports;
  }

  /** Throws the collected problems, if any, sorted by place and cut at the limit. */
  void throwIfAny() throws ScenarioError {
    if (problems.isEmpty()) {
      return;
    }
    List<ScenarioError.Problem> sorted = new ArrayList<>(problems);
    sorted.sort(
        Comparator.comparingInt((ScenarioError.Problem p) -> p.location().line())
            .thenComparingInt(p -> p.location().column()));
    if (sorted.size() > LIMIT) {
      ScenarioError.Problem next = sorted.get(LIMIT);
      int more = sorted.size() - LIMIT;
      List<ScenarioError.Problem> cut = new ArrayList<>(sorted.subList(0, LIMIT));
      cut.add(
          new ScenarioError.Problem(
              next.location(),
              "too many errors; " + more + " more not shown",
              "fix the errors above and run again",
              next.sourceLine()));
      sorted = cut;
    }
    throw new ScenarioError(sorted);
  }

  /**
   * Returns the line to show above the caret, or null for none. A tab is shown as one space, as
   * columns count it as one character.
   */
  private String sourceLine(int line) {
    if (line < 1 || line > sourceLines.size() || sourceLines.get(line - 1).isEmpty()) {
      return null;
    }
    return sourceLines.get(line - 1).replace('\t', ' ');
  }

  /** Splits as YAML counts lines: CR LF, CR, LF, NEL, LS and PS each end one. */
  static List<String> splitLines(String text) {
    List<String> lines = new ArrayList<>();
    int start = 0;
    int i = 0;
    while (i < text.length()) {
      char c = text.charAt(i);
      if (c == '\r' || c == '\n' || c == '\u0085' || c == '\u2028' || c == '\u2029') {
        lines.add(text.substring(start, i));
        if (c == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') {
          i++;
        }
        start = i + 1;
      }
      i++;
    }
    lines.add(text.substring(start));
    return lines;
  }
}
