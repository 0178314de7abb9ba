package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sizes mean what qemu-img 7.2 makes of them. The expected byte counts were read from the
 * "Formatting ... size=N" line of {@code qemu-img create -f qcow2 f.qcow2 SIZE}, run by hand.
 */
class SizesTest {
  @ParameterizedTest
  @CsvSource({
    "0, 0",
    "100, 100",
    "1B, 1",
    "1b, 1",
    "64k, 65536",
    "64K, 65536",
    "64M, 67108864",
    "64m, 67108864",
    "1T, 1099511627776",
    "7E, 8070450532247928832",
    "1.5M, 1572864",
    "1.k, 1024",
    "2.0k, 2048",
    "1.0, 1",
    "0.0005E, 576460752303424",
    "1.999999E, 2305841856292189312",
    "0x10000, 65536",
    "0X1f, 31",
    "0x7fffffffffffffff, 9223372036854775807",
    "9223372036854775807, 9223372036854775807",
  })
  void acceptsWhatQemuImgAccepts(String text, long bytes) {
    assertThat(Sizes.parse(text)).isEqualTo(bytes);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "", "64MB", "64KiB", "1e3", "1.5", "1.5b", "64M ", "x", "0x", "k", "1kk", "8E", "16E",
        "0x8000000000000000", "9223372036854775808", "18446744073709551616"
      })
  void refusesWhatQemuImgRefuses(String text) {
    assertThatThrownBy(() -> Sizes.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("invalid size '" + text + "': ");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "-1|a size cannot be negative",
        "0x1M|a suffix on a hex number is deprecated in QEMU; write the hex bytes or a decimal"
            + " with a suffix",
        "1.5|a fraction needs a suffix such as k or M",
        "8E|more than 9223372036854775807 bytes",
        "7.999999999999999999E|the fraction has too many digits",
        "+5|use a number with an optional suffix k, M, G, T, P or E (powers of 1024), or hex"
            + " such as 0x10000",
      })
  void explainsWhyASizeIsRefused(String text, String why) {
    assertThatThrownBy(() -> Sizes.parse(text))
        .hasMessage("invalid size '" + text + "': " + why);
  }
}
