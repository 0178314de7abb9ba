package io.blocksim.model.job;

import io.blocksim.model.port.Scheduler;
import java.util.PriorityQueue;

/**
 * A deterministic scheduler for engine tests: a queue ordered by (due time, sequence number),
 * and an I/O latency that depends only on the request size.
 */
final class TestScheduler implements Scheduler {
  private record Entry(long dueNs, long seq, Runnable task) {}

  private final PriorityQueue<Entry> queue = new PriorityQueue<>(
      (a, b) -> a.dueNs != b.dueNs ? Long.compare(a.dueNs, b.dueNs) : Long.compare(a.seq, b.seq));
  private long nowNs;
  private long seq;

  @Override
  public long nowNs() {
    return nowNs;
  }

  @Override
  public void schedule(long delayNs, Runnable task) {
    queue.add(new Entry(nowNs + Math.max(0, delayNs), seq++, task));
  }

  @Override
  public long ioLatencyNs(long bytes) {
    return 10_000 + bytes;
  }

  @Override
  public boolean pollNow(java.util.function.BooleanSupplier done) {
    while (!done.getAsBoolean() && !queue.isEmpty() && queue.peek().dueNs <= nowNs) {
      step();
    }
    return done.getAsBoolean();
  }

  /** Runs the next task; returns false when nothing is queued. */
  boolean step() {
    Entry next = queue.poll();
    if (next == null) {
      return false;
    }
    nowNs = next.dueNs;
    next.task.run();
    return true;
  }

  /** Runs tasks until none is left (at most a bound, so a livelock fails the test). */
  void runUntilIdle() {
    for (int i = 0; i < 10_000_000; i++) {
      if (!step()) {
        return;
      }
    }
    throw new AssertionError("scheduler did not become idle");
  }

  /** Runs tasks due up to nowNs + durationNs, then sets the clock there. */
  void advance(long durationNs) {
    long until = nowNs + durationNs;
    while (!queue.isEmpty() && queue.peek().dueNs <= until) {
      step();
    }
    nowNs = until;
  }

  boolean idle() {
    return queue.isEmpty();
  }
}
