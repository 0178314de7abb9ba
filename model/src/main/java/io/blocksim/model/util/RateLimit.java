package io.blocksim.model.util;

/**
 * QEMU's RateLimit (include/qemu/ratelimit.h) in integer arithmetic: a quota of bytes per slice;
 * once a slice's quota is used up, the next request waits until the (extended) slice ends.
 */
public final class RateLimit {
  public static final long BLOCK_COPY_SLICE_NS = 100_000_000L;

  private long sliceStartNs;
  private long sliceEndNs;
  private long sliceQuota;
  private long sliceNs;
  private long dispatched;

  public void setSpeed(long bytesPerSecond, long sliceNs) {
    this.sliceNs = sliceNs;
    if (bytesPerSecond == 0) {
      sliceQuota = 0;
    } else {
      long quota = Math.multiplyHigh(bytesPerSecond, sliceNs) == 0 && bytesPerSecond * sliceNs >= 0
          ? bytesPerSecond * sliceNs / 1_000_000_000L
          : bytesPerSecond / 1_000_000_000L * sliceNs;
      sliceQuota = Math.max(quota, 1);
    }
  }

  /** Accounts n bytes at nowNs; returns how long the caller must wait before the next request. */
  public long calculateDelay(long nowNs, long n) {
    if (sliceQuota == 0) {
      return 0;
    }
    if (sliceEndNs < nowNs) {
      sliceStartNs = nowNs;
      sliceEndNs = nowNs + sliceNs;
      dispatched = 0;
    }
    dispatched += n;
    if (dispatched < sliceQuota) {
      return 0;
    }
    // QEMU computes (double) dispatched / quota * slice_ns; integer division keeps it exact enough
    // and free of floating point.
    long extended = dispatched / sliceQuota * sliceNs
        + (dispatched % sliceQuota) * sliceNs / sliceQuota;
    sliceEndNs = sliceStartNs + extended;
    return sliceEndNs - nowNs;
  }
}
