package io.blocksim.sim.prng;

import io.blocksim.model.check.Check;

/**
 * A probability as a fraction of two integers, so that no floating point decides what happens next.
 * The value is {@code numerator / denominator}, between 0 and 1 inclusive.
 */
public record Ratio(long numerator, long denominator) {
  /** The probability 0: the event never happens. */
  public static final Ratio NEVER = new Ratio(0, 1);

  /** The probability 1: the event always happens. */
  public static final Ratio ALWAYS = new Ratio(1, 1);

  public Ratio {
    Check.that(denominator > 0, "ratio: denominator (%d) must be positive", denominator);
    Check.that(numerator >= 0, "ratio: numerator (%d) must not be negative", numerator);
    Check.that(
        numerator <= denominator,
        "ratio: numerator (%d) exceeds denominator (%d)",
        numerator,
        denominator);
  }

  /** Returns the ratio {@code percent / 100}. */
  public static Ratio percent(long percent) {
    return new Ratio(percent, 100);
  }

  @Override
  public String toString() {
    return numerator + "/" + denominator;
  }
}
