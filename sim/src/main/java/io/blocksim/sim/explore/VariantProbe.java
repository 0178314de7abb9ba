package io.blocksim.sim.explore;

import java.util.List;
import java.util.Set;

/**
 * A small exploration campaign under one engine variant, for {@code blocksim semantics --kill}:
 * seeded runs with every checker until one flags a run or the budget is spent. The budget is a
 * run count, and optionally a wall-clock deadline too; with the run count alone the outcome
 * depends on the seed only.
 */
public final class VariantProbe {
  /** What the campaign found: the checker that fired (null if none) and the runs it took. */
  public record Outcome(String checker, String message, long runs, long runIndex,
      long runSeed) {
    public boolean killed() {
      return checker != null;
    }
  }

  private VariantProbe() {}

  /**
   * Explores under {@code variant} with campaign seed {@code seed} for at most {@code runs} runs
   * and, when {@code deadlineNanos} is not 0, until that wall-clock value (the time budget only; runs use virtual time).
   */
  public static Outcome run(String variant, long seed, long runs, long deadlineNanos) {
    Campaign.Plan plan = new Campaign.Plan(seed, runs, deadlineNanos, Set.of(variant), 0, 1,
        Profile.DEFAULT, false, List.of("all"));
    Campaign.Tally tally = Campaign.run(plan, null);
    if (tally.failures.isEmpty()) {
      return new Outcome(null, null, tally.runs, -1, -1);
    }
    Campaign.Failure f = tally.failures.get(0);
    return new Outcome(f.failure().checker(), f.failure().message(), tally.runs, f.runIndex(),
        f.runSeed());
  }
}
