package io.blocksim.sim.loop;

import java.util.Locale;

/**
 * A run went past one of the event loop's limits. This is a liveness failure (the run did not
 * settle within its budget), not an invariant violation, and has its own exit code in the runner.
 */
public final class LimitReached extends RuntimeException {
  private final String limitName;
  private final long limit;
  private final long nowNs;

  public LimitReached(String limitName, long limit, long nowNs) {
    super(
        String.format(
            Locale.ROOT,
            "limit reached: %s (%d) at virtual time %d ns",
            limitName,
            limit,
            nowNs));
    this.limitName = limitName;
    this.limit = limit;
    this.nowNs = nowNs;
  }

  /** Returns which limit was passed, e.g. {@code "events per run"}. */
  public String limitName() {
    return limitName;
  }

  /** Returns the value of the limit that was passed. */
  public long limit() {
    return limit;
  }

  /** Returns the virtual time at which the limit was passed. */
  public long nowNs() {
    return nowNs;
  }
}
