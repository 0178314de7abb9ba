package io.blocksim.sim.scenario;

import java.util.List;

/**
 * Bad input: one or more located problems in a scenario file, reported as
 * {@code path:line:col: error: message} with an optional hint and never with a stack trace.
 */
public final class ScenarioError extends Exception {
  private final List<Problem> problems;

  public ScenarioError(List<Problem> problems) {
    super(problems.isEmpty() ? "error" : problems.get(0).render());
    this.problems = List.copyOf(problems);
  }

  public List<Problem> problems() {
    return problems;
  }

  /** Returns every problem, rendered, one after another. */
  public String render() {
    StringBuilder out = new StringBuilder();
    for (Problem p : problems) {
      out.append(p.render());
    }
    return out.toString();
  }

  /** One problem. {@code sourceLine} is the offending line of the file (for the caret), or null. */
  public record Problem(Location location, String message, String hint, String sourceLine) {
    public String render() {
      StringBuilder out = new StringBuilder();
      out.append(location).append(": error: ").append(message).append('\n');
      if (sourceLine != null) {
        out.append("    ").append(sourceLine).append('\n');
        out.append("    ").append(" ".repeat(Math.max(0, location.column() - 1))).append("^\n");
      }
      if (hint != null) {
        out.append("hint: ").append(hint).append('\n');
      }
      return out.toString();
    }
  }
}
