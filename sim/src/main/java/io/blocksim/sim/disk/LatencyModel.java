package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import io.blocksim.sim.prng.Prng;
import java.util.function.LongUnaryOperator;

/**
 * How long a host I/O request takes, in integer virtual nanoseconds: a per-request base drawn
 * uniformly from {@code [baseNsMin, baseNsMax]} (the seeded jitter) plus the transfer time of the
 * bytes at {@code bytesPerSecond}. Deterministic for a seed. Plugs into the event loop as its
 * {@code ioLatencyNs}.
 */
public final class LatencyModel implements LongUnaryOperator {
  private static final long NS_PER_SECOND = 1_000_000_000L;

  private final Prng prng;
  private final long baseNsMin;
  private final long baseNsMax;
  private final long bytesPerSecond;

  /** Creates the default model: 50 to 200 µs per request, plus the bytes at 1 GB/s. */
  public LatencyModel(Prng prng) {
    this(prng, 50_000, 200_000, 1_000_000_000L);
  }

  /** Creates a model with the given base range and throughput. */
  public LatencyModel(Prng prng, long baseNsMin, long baseNsMax, long bytesPerSecond) {
    Check.that(baseNsMin >= 0, "latency: baseNsMin (%d) must not be negative", baseNsMin);
    Check.that(
        baseNsMin <= baseNsMax, "latency: baseNsMin (%d) exceeds baseNsMax (%d)",
        baseNsMin, baseNsMax);
    Check.that(bytesPerSecond > 0, "latency: bytesPerSecond (%d) must be positive", bytesPerSecond);
    // Keeps (bytes % bytesPerSecond) * NS_PER_SECOND below 2^63.
    Check.that(
        bytesPerSecond <= Long.MAX_VALUE / NS_PER_SECOND,
        "latency: bytesPerSecond (%d) exceeds %d", bytesPerSecond, Long.MAX_VALUE / NS_PER_SECOND);
    this.prng = prng;
    this.baseNsMin = baseNsMin;
    this.baseNsMax = baseNsMax;
    this.bytesPerSecond = bytesPerSecond;
  }

  /** Returns the duration of a request of that many bytes; draws once from the seed. */
  public long latencyNs(long bytes) {
    Check.that(bytes >= 0, "latency: request size (%d bytes) must not be negative", bytes);
    long baseNs = prng.rangeInclusive(baseNsMin, baseNsMax);
    return saturatedAdd(baseNs, transferNs(bytes));
  }

  @Override
  public long applyAsLong(long bytes) {
    return latencyNs(bytes);
  }

  private long transferNs(long bytes) {
    long wholeSeconds = bytes / bytesPerSecond;
    long remainderNs = (bytes % bytesPerSecond) * NS_PER_SECOND / bytesPerSecond;
    if (wholeSeconds > (Long.MAX_VALUE - remainderNs) / NS_PER_SECOND) {
      return Long.MAX_VALUE;
    }
    return wholeSeconds * NS_PER_SECOND + remainderNs;
  }

  private static long saturatedAdd(long a, long b) {
    return b > Long.MAX_VALUE - a ? Long.MAX_VALUE : a + b;
  }
}
