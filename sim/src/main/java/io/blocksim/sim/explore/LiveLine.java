package io.blocksim.sim.explore;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The live progress line on a terminal: runs, runs/s, violations, time (or runs) left, redrawn in
 * place at most five times a second. Quiet when the output is not a terminal or under CI.
 */
final class LiveLine implements Campaign.Progress {
  private final PrintStream err;
  private final boolean enabled;
  private final long startedNanos;
  private final long budgetNs;
  private final long runs;
  private long lastDrawNanos;

  private LiveLine(PrintStream err, boolean enabled, long startedNanos, long budgetNs,
      long runs) {
    this.err = err;
    this.enabled = enabled;
    this.startedNanos = startedNanos;
    this.budgetNs = budgetNs;
    this.runs = runs;
  }

  static LiveLine create(PrintStream err, long startedNanos, long budgetNs, long runs) {
    boolean terminal = System.console() != null && System.getenv("CI") == null;
    return new LiveLine(err, terminal, startedNanos, budgetNs, runs);
  }

  @Override
  public void update(Campaign.Tally tally) {
    if (!enabled) {
      return;
    }
    // determinism-ok: time budget (progress display only)
    long now = System.nanoTime();  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
    if (now - lastDrawNanos < 200_000_000L) {
      return;
    }
    lastDrawNanos = now;
    double seconds = Math.max(1e-9, (now - startedNanos) / 1e9);
    String left = budgetNs > 0
        ? String.format(Locale.ROOT, "%.0f s left", Math.max(0, budgetNs / 1e9 - seconds))
        : (runs - tally.runs) + " runs left";
    err.print(String.format(Locale.ROOT, "\rexplore: %d runs, %.0f runs/s, %d violations, %s   ",
        tally.runs, tally.runs / seconds, tally.failures.size(), left));
    err.flush();
  }

  void finish() {
    if (enabled && lastDrawNanos != 0) {
      err.println();
    }
  }
}
