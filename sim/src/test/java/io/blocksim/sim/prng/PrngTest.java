package io.blocksim.sim.prng;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Goal: the PRNG is SplitMix64, its bounded draws stay in range without bias, and seeds derive in
 * the documented order. Method: compare raw output with the JDK's SplittableRandom (the same
 * algorithm, an independent implementation), and count outcomes over many draws with tolerances
 * far wider than the expected spread.
 */
class PrngTest {

  @Test
  void nextLongMatchesSplittableRandomForTheSameSeed() {
    for (long seed : new long[] {0, 1, -1, 42, 0x123456789abcdefL}) {
      Prng prng = new Prng(seed);
      SplittableRandom reference = new SplittableRandom(seed);
      for (int i = 0; i < 1000; i++) {
        assertThat(prng.nextLong()).as("seed %d draw %d", seed, i).isEqualTo(reference.nextLong());
      }
    }
  }

  @Test
  void firstDrawOfSeedZeroIsThePublishedSplitMix64Value() {
    // The first output of SplitMix64 seeded with 0, as in Vigna's reference splitmix64.c.
    assertThat(new Prng(0).nextLong()).isEqualTo(0xe220a8397b1dcdafL);
  }

  @Test
  void sameSeedGivesSameSequenceAndDifferentSeedsDiffer() {
    Prng a = new Prng(7);
    Prng b = new Prng(7);
    Prng c = new Prng(8);
    List<Long> drawsA = new ArrayList<>();
    List<Long> drawsB = new ArrayList<>();
    List<Long> drawsC = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      drawsA.add(a.nextLong());
      drawsB.add(b.nextLong());
      drawsC.add(c.nextLong());
    }
    assertThat(drawsA).isEqualTo(drawsB).isNotEqualTo(drawsC);
  }

  @Test
  void nextIntStaysBelowBoundAndHitsEveryValueEvenly() {
    Prng prng = new Prng(1);
    int[] counts = new int[6];
    for (int i = 0; i < 60_000; i++) {
      counts[prng.nextInt(6)]++;
    }
    // Expected 10,000 each; the standard deviation is about 91.
    for (int count : counts) {
      assertThat(count).isBetween(9_500, 10_500);
    }
  }

  @Test
  void nextLongWithBoundNearTwoToThe63IsUnbiasedAcrossHalves() {
    // With bound 0x6000...0 a plain modulo of 64 raw bits would favour [0, 2^62) two to one.
    long bound = 0x6000000000000000L;
    Prng prng = new Prng(3);
    int low = 0;
    for (int i = 0; i < 30_000; i++) {
      long value = prng.nextLong(bound);
      assertThat(value).isBetween(0L, bound - 1);
      if (value < bound / 2) {
        low++;
      }
    }
    assertThat(low).isBetween(14_400, 15_600);
  }

  @Test
  void boundOfOneAlwaysGivesZero() {
    Prng prng = new Prng(5);
    assertThat(IntStream.range(0, 100).map(i -> prng.nextInt(1))).containsOnly(0);
  }

  @Test
  void nonPositiveBoundIsABug() {
    Prng prng = new Prng(5);
    assertThatThrownBy(() -> prng.nextInt(0)).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> prng.nextLong(-3)).isInstanceOf(InvariantViolation.class);
  }

  @Test
  void rangeInclusiveCoversBothEnds() {
    Prng prng = new Prng(11);
    boolean sawLow = false;
    boolean sawHigh = false;
    for (int i = 0; i < 1000; i++) {
      long value = prng.rangeInclusive(-2, 2);
      assertThat(value).isBetween(-2L, 2L);
      sawLow |= value == -2;
      sawHigh |= value == 2;
    }
    assertThat(sawLow).isTrue();
    assertThat(sawHigh).isTrue();
    assertThat(prng.rangeInclusive(9, 9)).isEqualTo(9);
  }

  @Test
  void rangeInclusiveHandlesTheFullLongRange() {
    Prng prng = new Prng(12);
    Prng reference = new Prng(12);
    assertThat(prng.rangeInclusive(Long.MIN_VALUE, Long.MAX_VALUE)).isEqualTo(reference.nextLong());
    long value = prng.rangeInclusive(Long.MIN_VALUE, Long.MAX_VALUE - 1);
    assertThat(value).isLessThan(Long.MAX_VALUE);
  }

  @Test
  void invertedRangeIsABug() {
    assertThatThrownBy(() -> new Prng(1).rangeInclusive(3, 2))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("(3)")
        .hasMessageContaining("(2)");
  }

  @Test
  void chanceFollowsTheRatio() {
    Prng prng = new Prng(13);
    int hits = 0;
    for (int i = 0; i < 40_000; i++) {
      if (prng.chance(new Ratio(1, 4))) {
        hits++;
      }
    }
    assertThat(hits).isBetween(9_500, 10_500);
  }

  @Test
  void chanceNeverAndAlwaysAreExactAndStillDrawOnce() {
    Prng prng = new Prng(14);
    Prng reference = new Prng(14);
    for (int i = 0; i < 100; i++) {
      assertThat(prng.chance(Ratio.NEVER)).isFalse();
      assertThat(prng.chance(Ratio.ALWAYS)).isTrue();
      reference.nextLong();
      reference.nextLong();
    }
    assertThat(prng.nextLong()).isEqualTo(reference.nextLong());
  }

  @Test
  void forkSeedsTheChildWithOneDrawOfTheParent() {
    Prng parent = new Prng(21);
    Prng twin = new Prng(21);
    Prng child = parent.fork();
    Prng expectedChild = new Prng(twin.nextLong());
    assertThat(child.nextLong()).isEqualTo(expectedChild.nextLong());
    assertThat(parent.nextLong()).isEqualTo(twin.nextLong());
  }

  @Test
  void worldSeedsAreTheRootsFirstDrawsInDeclarationOrder() {
    Prng twin = new Prng(99);
    WorldSeeds seeds = WorldSeeds.draw(new Prng(99));
    assertThat(seeds.diskLatency()).isEqualTo(twin.nextLong());
    assertThat(seeds.diskPowerLoss()).isEqualTo(twin.nextLong());
    assertThat(seeds.faultInjector()).isEqualTo(twin.nextLong());
    assertThat(seeds.swarm()).isEqualTo(twin.nextLong());
  }

  @Test
  void shuffleIsADeterministicPermutation() {
    List<Integer> first = new ArrayList<>(IntStream.range(0, 50).boxed().toList());
    List<Integer> second = new ArrayList<>(first);
    new Prng(4).shuffle(first);
    new Prng(4).shuffle(second);
    assertThat(first).isEqualTo(second).containsExactlyInAnyOrderElementsOf(
        IntStream.range(0, 50).boxed().toList());
    assertThat(first).isNotEqualTo(IntStream.range(0, 50).boxed().toList());
  }

  @Test
  void pickReturnsAnElement() {
    assertThat(new Prng(6).pick(List.of("a", "b", "c"))).isIn("a", "b", "c");
  }
}
