package io.blocksim.sim.scenario;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Virtual-time durations: a decimal number and a unit, {@code ns}, {@code us}, {@code ms},
 * {@code s} or {@code m} (minutes): {@code 10ms}, {@code 2s}, {@code 1.5s}. A fraction is allowed
 * when the result is a whole number of nanoseconds. The unit is required, even for zero, because a
 * bare number would be read in some unit by guesswork.
 */
public final class Durations {
  private static final Pattern DURATION = Pattern.compile("([0-9]+(?:\\.[0-9]+)?)(ns|us|ms|s|m)");
  private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);
  static final String UNITS = "units: ns, us, ms, s, m";

  private Durations() {}

  /**
   * Returns the duration in nanoseconds; throws IllegalArgumentException with a message that names
   * the text and says what is wrong.
   */
  public static long parseNs(String text) {
    Matcher m = DURATION.matcher(text);
    if (!m.matches()) {
      String why =
          text.matches("[0-9]+(\\.[0-9]+)?")
              ? "a duration needs a unit (" + UNITS + ")"
              : text.startsWith("-")
                  ? "a duration cannot be negative"
                  : "write a number and a unit, such as 10ms or 2s (" + UNITS + ")";
      throw new IllegalArgumentException("invalid duration '" + text + "': " + why);
    }
    long unitNs =
        switch (m.group(2)) {
          case "ns" -> 1L;
          case "us" -> 1_000L;
          case "ms" -> 1_000_000L;
          case "s" -> 1_000_000_000L;
          case "m" -> 60_000_000_000L;
          default -> throw new IllegalStateException("unit " + m.group(2));
        };
    BigDecimal ns = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unitNs));
    BigInteger whole;
    try {
      whole = ns.stripTrailingZeros().toBigIntegerExact();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(
          "invalid duration '" + text + "': not a whole number of nanoseconds");
    }
    if (whole.compareTo(LONG_MAX) > 0) {
      throw new IllegalArgumentException(
          "invalid duration '" + text + "': longer than " + Long.MAX_VALUE + "ns");
    }
    return whole.longValueExact();
  }
}
