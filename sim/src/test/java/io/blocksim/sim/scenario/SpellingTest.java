package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** "Did you mean" suggests only likely typos, and deterministically. */
class SpellingTest {
  private static final List<String> KINDS = StepReader.KINDS;

  @Test
  void suggestsForOneEditInAShortWordAndTwoInALongerOne() {
    assertThat(Spelling.closest("qpm", KINDS)).isEqualTo("qmp"); // swapped neighbours
    assertThat(Spelling.closest("wait", KINDS)).isEqualTo("await"); // one missing letter
    assertThat(Spelling.closest("Log", KINDS)).isEqualTo("log"); // case
    assertThat(Spelling.closest("obsevre", KINDS)).isEqualTo("observe");
    assertThat(Spelling.closest("expcet", KINDS)).isEqualTo("expect");
  }

  @Test
  void staysQuietForUnrelatedWords() {
    assertThat(Spelling.closest("sleep", KINDS)).isNull();
    assertThat(Spelling.closest("xy", KINDS)).isNull();
    assertThat(Spelling.closest("", KINDS)).isNull();
  }

  @Test
  void tiesGoToTheEarlierCandidate() {
    assertThat(Spelling.closest("ab", List.of("ac", "ad"))).isEqualTo("ac");
    assertThat(Spelling.closest("ab", List.of("ad", "ac"))).isEqualTo("ad");
    assertThat(Spelling.closest("abcde", List.of("abcdx", "abcdy"))).isEqualTo("abcdx");
    assertThat(Spelling.closest("abcde", List.of("abcdy", "abcdx"))).isEqualTo("abcdy");
  }

  @Test
  void distanceCountsASwapAsOneEdit() {
    assertThat(Spelling.distance("ab", "ba")).isEqualTo(1);
    assertThat(Spelling.distance("kitten", "sitting")).isEqualTo(3);
    assertThat(Spelling.distance("", "abc")).isEqualTo(3);
  }
}
