package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Durations are a decimal number and one of the units ns, us, ms, s, m. */
class DurationsTest {
  @ParameterizedTest
  @CsvSource({
    "0ns, 0",
    "1ns, 1",
    "7us, 7000",
    "10ms, 10000000",
    "2s, 2000000000",
    "1.5s, 1500000000",
    "0.000000001s, 1",
    "1.0ns, 1",
    "2m, 120000000000",
    "9223372036854775807ns, 9223372036854775807",
  })
  void parsesDurations(String text, long ns) {
    assertThat(Durations.parseNs(text)).isEqualTo(ns);
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "10|a duration needs a unit (units: ns, us, ms, s, m)",
        "0|a duration needs a unit (units: ns, us, ms, s, m)",
        "-1s|a duration cannot be negative",
        "1.5ns|not a whole number of nanoseconds",
        "9223372036854775808ns|longer than 9223372036854775807ns",
        "1h|write a number and a unit, such as 10ms or 2s (units: ns, us, ms, s, m)",
        "1 s|write a number and a unit, such as 10ms or 2s (units: ns, us, ms, s, m)",
        ".5s|write a number and a unit, such as 10ms or 2s (units: ns, us, ms, s, m)",
        "1e3ms|write a number and a unit, such as 10ms or 2s (units: ns, us, ms, s, m)",
      })
  void explainsWhyADurationIsRefused(String text, String why) {
    assertThatThrownBy(() -> Durations.parseNs(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("invalid duration '" + text + "': " + why);
  }
}
