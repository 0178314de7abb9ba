package io.blocksim.sim.prng;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import org.junit.jupiter.api.Test;

/** Goal: a Ratio is always a probability in [0, 1]; anything else is a bug caught at once. */
class RatioTest {

  @Test
  void rejectsZeroDenominator() {
    assertThatThrownBy(() -> new Ratio(0, 0))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("denominator (0)");
  }

  @Test
  void rejectsNegativeNumerator() {
    assertThatThrownBy(() -> new Ratio(-1, 2)).isInstanceOf(InvariantViolation.class);
  }

  @Test
  void rejectsNumeratorAboveDenominator() {
    assertThatThrownBy(() -> new Ratio(3, 2))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("numerator (3) exceeds denominator (2)");
  }

  @Test
  void percentIsOverOneHundred() {
    assertThat(Ratio.percent(30)).isEqualTo(new Ratio(30, 100));
    assertThat(Ratio.percent(30).toString()).isEqualTo("30/100");
  }
}
