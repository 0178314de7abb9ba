package io.blocksim.sim.explore;

import java.util.List;
import java.util.Set;

/**
 * Explore runs in process, for {@code blocksim bench}: the runs {@code blocksim explore --seed S
 * --runs N} makes (generated runs with every checker after every step, QEMU 7.2 semantics), one
 * after another on the calling thread, without the live line, shrinking or reports. A violation
 * does not stop the runs (as {@code --keep-going}).
 */
public final class ExploreRuns {
  /** What the runs came to. */
  public record Counts(long runs, long passed, long limits, long qemuAborts, long violations,
      long steps) {}

  private ExploreRuns() {}

  /** Makes runs 0 to runs-1 of the campaign with this seed. */
  public static Counts run(long seed, long runs) {
    Campaign.Plan plan = new Campaign.Plan(seed, runs, 0, Set.of(), 0, 1, Profile.DEFAULT, true,
        List.of("all"));
    Campaign.Tally tally = Campaign.run(plan, null);
    return new Counts(tally.runs, tally.passed, tally.limits, tally.qemuAborts,
        tally.failures.size(), tally.steps);
  }
}
