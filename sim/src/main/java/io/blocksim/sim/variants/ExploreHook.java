package io.blocksim.sim.variants;

import io.blocksim.sim.explore.VariantProbe;
import java.util.Locale;

/**
 * Where the kill table hands a variant to {@code blocksim explore}: a seeded campaign under the
 * variant with every checker, until a checker flags a run or the budget is spent. The budget is
 * a run count and, unless the output must be stable ({@code --no-times}), a wall-clock limit as
 * well; with the run count alone the line depends only on the seed.
 */
public final class ExploreHook {
  private ExploreHook() {}

  /** The budget of one variant's campaign. */
  public record Budget(long seed, long runs, int seconds, boolean wallClock) {}

  /** What exploring found, as the line the kill table prints. */
  public record Result(boolean killed, String line) {}

  /** Explores under the variant. */
  public static Result run(String variant, Budget budget) {
    long started = System.nanoTime();  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
    long deadline = budget.wallClock() && budget.seconds() > 0
        ? started + budget.seconds() * 1_000_000_000L : 0;
    VariantProbe.Outcome o = VariantProbe.run(variant, budget.seed(), budget.runs(), deadline);
    String time = budget.wallClock() ? String.format(Locale.ROOT, " in %.1fs",
        (System.nanoTime() - started) / 1e9) : "";  // determinism-ok: wall time for the user's report only
    if (!o.killed()) {
      return new Result(false, "survived " + o.runs() + (o.runs() == 1 ? " run" : " runs") + " (campaign seed "
          + budget.seed() + ")" + time);
    }
    return new Result(true, "killed by checker " + o.checker() + " at run " + o.runIndex() + " (run seed "
        + o.runSeed() + ", campaign seed " + budget.seed() + ") after " + o.runs()
        + (o.runs() == 1 ? " run" : " runs") + time + ": "
        + KillTable.shorten(o.message()));
  }
}
