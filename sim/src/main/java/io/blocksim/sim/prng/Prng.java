package io.blocksim.sim.prng;

import io.blocksim.model.check.Check;
import java.util.List;

/**
 * The simulator's only source of randomness: SplitMix64 (Steele, Lea and Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014; the same finaliser as the JDK's {@code
 * SplittableRandom}), with an integer-only API. Probabilities are {@link Ratio}s.
 *
 * <p>The state is one {@code long} that advances by the golden gamma on every draw, so a {@code
 * Prng} built from the same seed yields the same sequence on every JVM. Bounded draws use rejection
 * and are therefore unbiased; how many raw draws a bounded draw consumes depends only on the state,
 * so it is deterministic too.
 *
 * <p><b>Derived seeds.</b> A run's seed creates the root {@code Prng}. Each component receives its
 * own child through {@link #fork()} (one draw from the root), in this fixed order, as {@link
 * WorldSeeds#draw} does it: 1. disk latency ({@code LatencyModel}), 2. power loss ({@code
 * FakeDisk.crashPower}), 3. fault injector, 4. swarm generator. A new component is appended at the
 * end so that the draws of the earlier ones do not move. Components never share a {@code Prng}: a
 * new draw in one must not change the choices of another.
 *
 * <p>Not thread-safe, by design: the simulated world runs on one thread.
 */
public final class Prng {
  private static final long GOLDEN_GAMMA = 0x9e3779b97f4a7c15L;

  private long state;

  /** Creates a generator whose sequence is fixed by the seed. */
  public Prng(long seed) {
    this.state = seed;
  }

  /** Returns the next 64 uniformly distributed bits. */
  public long nextLong() {
    state += GOLDEN_GAMMA;
    long z = state;
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }

  /** Returns a uniformly distributed int in {@code [0, bound)}; bound must be positive. */
  public int nextInt(int bound) {
    Check.that(bound > 0, "prng: bound (%d) must be positive", bound);
    return (int) nextUnsignedBelow(bound);
  }

  /** Returns a uniformly distributed long in {@code [0, bound)}; bound must be positive. */
  public long nextLong(long bound) {
    Check.that(bound > 0, "prng: bound (%d) must be positive", bound);
    return nextUnsignedBelow(bound);
  }

  /** Returns a uniformly distributed long in {@code [lo, hi]}, both inclusive. */
  public long rangeInclusive(long lo, long hi) {
    Check.that(lo <= hi, "prng: range low (%d) exceeds high (%d)", lo, hi);
    long span = hi - lo + 1; // As unsigned; 0 means the full 2^64 range.
    if (span == 0) {
      return nextLong();
    }
    return lo + nextUnsignedBelow(span);
  }

  /**
   * Returns true with the given probability. It draws even for {@link Ratio#NEVER} and {@link
   * Ratio#ALWAYS}, so that tuning a ratio does not shift the draws that follow.
   */
  public boolean chance(Ratio ratio) {
    return nextUnsignedBelow(ratio.denominator()) < ratio.numerator();
  }

  /**
   * Returns a child generator seeded by one draw from this one. Children are handed out in the
   * documented order of the class comment.
   */
  public Prng fork() {
    return new Prng(nextLong());
  }

  /** Returns one element chosen uniformly; the list must not be empty. */
  public <T> T pick(List<T> items) {
    Check.that(!items.isEmpty(), "prng: cannot pick from an empty list");
    return items.get(nextInt(items.size()));
  }

  /** Shuffles the list in place (Fisher-Yates), replacing {@code Collections.shuffle}. */
  public <T> void shuffle(List<T> items) {
    for (int i = items.size() - 1; i > 0; i--) {
      int j = nextInt(i + 1);
      T swapped = items.get(i);
      items.set(i, items.get(j));
      items.set(j, swapped);
    }
  }

  /**
   * Returns a value in {@code [0, bound)} for an unsigned bound, rejecting the low {@code 2^64 mod
   * bound} raw values so that every result is equally likely.
   */
  private long nextUnsignedBelow(long bound) {
    long threshold = Long.remainderUnsigned(-bound, bound);
    while (true) {
      long raw = nextLong();
      if (Long.compareUnsigned(raw, threshold) >= 0) {
        return Long.remainderUnsigned(raw, bound);
      }
    }
  }
}
