package io.blocksim.model.check;

/**
 * Always-on assertions. A failed check is a bug in blocksim (or a violated invariant of the
 * simulated block layer), never bad input: bad input is reported as a scenario or QMP error.
 */
public final class Check {
  private Check() {}

  /** Throws {@link InvariantViolation} with the formatted message when the condition is false. */
  public static void that(boolean condition, String format, Object... args) {
    if (!condition) {
      throw new InvariantViolation(String.format(java.util.Locale.ROOT, format, args));
    }
  }

  /**
   * Returns the {@link InvariantViolation} a failed {@link #that} throws, for hot paths that test
   * the condition first: {@code if (!ok) throw Check.failure(...)} boxes no argument and builds
   * no varargs array while the condition holds.
   */
  public static InvariantViolation failure(String format, Object... args) {
    return new InvariantViolation(String.format(java.util.Locale.ROOT, format, args));
  }

  /** Marks a branch that must never run. */
  public static InvariantViolation unreachable(String format, Object... args) {
    return new InvariantViolation(
        "unreachable: " + String.format(java.util.Locale.ROOT, format, args));
  }
}
