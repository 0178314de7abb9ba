package io.blocksim.sim.diff;

import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The distinct outcomes of one case over several schedules (issue 13: racy cases have more than
 * one correct outcome on QEMU, when concurrent jobs' events interleave by timing or a cancel
 * races a completion). Schedule 0 is the case's own run; schedule i runs it with seed {@code
 * base + i} on a disk of a speed drawn from that seed (SimBackend's perturbed world), so
 * schedules differ in the order requests complete and jobs reach their yield points. Two runs are the same outcome when {@link Comparison} finds no difference between them,
 * that is, exactly when {@code blocksim diff} would call them identical.
 */
public final class OutcomeSet {
  /** One distinct outcome: the first run that gave it, and every seed that gave it. */
  public record Outcome(CaseResult first, List<Long> seeds) {}

  private final List<Outcome> outcomes = new ArrayList<>();
  private final int schedules;

  private OutcomeSet(int schedules) {
    this.schedules = schedules;
  }

  /** Runs the case under {@code schedules} schedules from {@code baseSeed} on. */
  public static OutcomeSet of(ScenarioRunner runner, Scenario scenario, Scenario.Case c,
      Set<String> semantics, long baseSeed, int schedules) {
    OutcomeSet set = new OutcomeSet(schedules);
    for (int i = 0; i < schedules; i++) {
      long seed = baseSeed + i;
      set.add(runner.simulate(scenario, c, semantics, seed, i > 0), seed);
    }
    return set;
  }

  private void add(CaseResult result, long seed) {
    for (Outcome o : outcomes) {
      if (o.first().kind() == result.kind()
          && Comparison.compare(o.first().observations(), result.observations()).isEmpty()) {
        o.seeds().add(seed);
        return;
      }
    }
    List<Long> seeds = new ArrayList<>();
    seeds.add(seed);
    outcomes.add(new Outcome(result, seeds));
  }

  public List<Outcome> outcomes() {
    return outcomes;
  }

  public int schedules() {
    return schedules;
  }

  /** Returns the first outcome identical to QEMU's observation, or null. */
  public Outcome matching(Map<String, Object> qemu) {
    for (Outcome o : outcomes) {
      if (Comparison.compare(qemu, o.first().observations()).isEmpty()) {
        return o;
      }
    }
    return null;
  }

  /** Returns the first run that violated an invariant or hit a limit, or null. */
  public Outcome bug() {
    for (Outcome o : outcomes) {
      if (o.first().kind() == CaseResult.Kind.INVARIANT
          || o.first().kind() == CaseResult.Kind.LIMIT) {
        return o;
      }
    }
    return null;
  }

  /**
   * The lines {@code run --schedules} prints: one per outcome with its count and seeds, and how
   * it differs from the first outcome (the scenario's own seed's).
   */
  public List<String> describe() {
    List<String> lines = new ArrayList<>();
    Map<String, Object> reference = outcomes.get(0).first().observations();
    for (int i = 0; i < outcomes.size(); i++) {
      Outcome o = outcomes.get(i);
      StringBuilder line = new StringBuilder(String.format(java.util.Locale.ROOT,
          "outcome %d: %d of %d schedules (seed%s %s)", i + 1, o.seeds().size(), schedules,
          o.seeds().size() == 1 ? "" : "s", seeds(o.seeds())));
      CaseResult r = o.first();
      if (r.kind() != CaseResult.Kind.PASSED) {
        line.append(": ").append(r.kind().name().toLowerCase(java.util.Locale.ROOT))
            .append(r.failure() == null ? "" : " (" + r.failure() + ")");
      }
      lines.add(line.toString());
      if (i > 0) {
        for (Comparison.Difference d : Comparison.compare(reference, r.observations())) {
          String left = "outcome 1: ";
          String right = String.format(java.util.Locale.ROOT, "%-" + left.length() + "s", "outcome " + (i + 1) + ":");
          lines.add("  " + d.render(left, right));
        }
      }
    }
    return lines;
  }

  private static String seeds(List<Long> seeds) {
    List<String> shown = new ArrayList<>();
    for (int i = 0; i < Math.min(8, seeds.size()); i++) {
      shown.add(String.valueOf(seeds.get(i)));
    }
    return String.join(", ", shown) + (seeds.size() > 8 ? ", …" : "");
  }
}
