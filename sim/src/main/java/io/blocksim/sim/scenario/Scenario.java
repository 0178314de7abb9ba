package io.blocksim.sim.scenario;

import io.blocksim.sim.port.Backend.ImageSpec;
import java.util.List;
import java.util.Map;

/**
 * A parsed scenario file, before matrix expansion. {@code matrix} keeps the variables in the
 * order they are written; {@code cases()} of {@link ScenarioParser} expands it. {@code checkers}
 * names the invariant checkers ({@code sim.checker}) that run after every step, {@code all} for
 * every one; empty for none (the default: checkers read the nodes, which warms their caches).
 * {@code schedules} (at least 1) is how many schedules {@code blocksim diff} may try before it
 * calls the case different from QEMU: a racy case whose QEMU outcome is one of several correct
 * ones opts in with {@code schedules: N}.
 */
public record Scenario(
    String path,
    String name,
    String description,
    long seed,
    boolean simOnly,
    List<String> semantics,
    Map<String, List<Object>> matrix,
    List<Case> cases,
    List<String> checkers,
    int schedules) {

  /** A scenario with one schedule. */
  public Scenario(String path, String name, String description, long seed, boolean simOnly,
      List<String> semantics, Map<String, List<Object>> matrix, List<Case> cases,
      List<String> checkers) {
    this(path, name, description, seed, simOnly, semantics, matrix, cases, checkers, 1);
  }

  /** A scenario without invariant checkers. */
  public Scenario(String path, String name, String description, long seed, boolean simOnly,
      List<String> semantics, Map<String, List<Object>> matrix, List<Case> cases) {
    this(path, name, description, seed, simOnly, semantics, matrix, cases, List.of());
  }

  /**
   * One case: the matrix variables substituted, {@code when} applied. {@code name} is the empty
   * string for a scenario without a matrix, else {@code var=value,var=value}.
   */
  public record Case(
      String name, Map<String, Object> variables, List<ImageSpec> images, List<Step> steps) {}
}
