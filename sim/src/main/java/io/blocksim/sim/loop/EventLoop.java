package io.blocksim.sim.loop;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.Scheduler;
import java.util.PriorityQueue;
import java.util.function.BooleanSupplier;
import java.util.function.LongUnaryOperator;

/**
 * The simulated world's only thread of control: virtual time ({@link #nowNs()}) and a queue of
 * tasks ordered by (due time, sequence number). Tasks due at the same time run in the order they
 * were scheduled, whatever the queue's internals, because every task gets a distinct sequence
 * number. Time only moves forward: to the due time of the task being run, or to a deadline.
 *
 * <p>Every run has limits ({@link Limits}): events executed, tasks queued at once and virtual
 * time. Passing one throws {@link LimitReached}, a liveness failure.
 *
 * <p>A task that throws leaves the loop consistent: it was dequeued before it ran, so the caller
 * may report the failure and stop, or go on.
 */
public final class EventLoop implements Scheduler {
  private final LongUnaryOperator ioLatencyNs;
  private final Limits limits;
  private final PriorityQueue<Event> queue =
      new PriorityQueue<>(
          (a, b) ->
              a.dueNs != b.dueNs
                  ? Long.compare(a.dueNs, b.dueNs)
                  : Long.compare(a.sequence, b.sequence));
  private long nowNs;
  private long sequenceNext;
  private long eventsExecuted;

  /**
   * The budget of one run. {@code eventsMax}: tasks executed; {@code queuedMax}: tasks waiting at
   * once; {@code timeNsMax}: the latest virtual time a task may be due or the clock may reach.
   */
  public record Limits(long eventsMax, long queuedMax, long timeNsMax) {
    /** 50 million events, 10 million queued tasks, one virtual day. */
    public static final Limits DEFAULT =
        new Limits(50_000_000L, 10_000_000L, 86_400L * 1_000_000_000L);

    public Limits {
      Check.that(eventsMax > 0, "event loop: eventsMax (%d) must be positive", eventsMax);
      Check.that(queuedMax > 0, "event loop: queuedMax (%d) must be positive", queuedMax);
      Check.that(timeNsMax > 0, "event loop: timeNsMax (%d) must be positive", timeNsMax);
    }
  }

  private static final class Event {
    final long dueNs;
    final long sequence;
    final Runnable task;

    Event(long dueNs, long sequence, Runnable task) {
      this.dueNs = dueNs;
      this.sequence = sequence;
      this.task = task;
    }
  }

  /**
   * Creates a loop at time 0 with the default limits. {@code ioLatencyNs} maps a request size in
   * bytes to its duration (the disk's {@code LatencyModel}).
   */
  public EventLoop(LongUnaryOperator ioLatencyNs) {
    this(ioLatencyNs, Limits.DEFAULT);
  }

  /** Creates a loop at time 0 with the given limits. */
  public EventLoop(LongUnaryOperator ioLatencyNs, Limits limits) {
    this.ioLatencyNs = ioLatencyNs;
    this.limits = limits;
  }

  @Override
  public long nowNs() {
    return nowNs;
  }

  @Override
  public void schedule(long delayNs, Runnable task) {
    Check.that(delayNs >= 0, "event loop: delay (%d ns) must not be negative", delayNs);
    Check.that(task != null, "event loop: task must not be null");
    if (queue.size() >= limits.queuedMax()) {
      throw new LimitReached("queued tasks", limits.queuedMax(), nowNs);
    }
    // A task may be due past the time limit (a job throttled to 1 byte/s arms a timer hours
    // ahead, as QEMU does): it simply does not run unless a run waits that long, which is
    // where the limit bites.
    long dueNs = delayNs > Long.MAX_VALUE - nowNs ? Long.MAX_VALUE : nowNs + delayNs;
    queue.add(new Event(dueNs, sequenceNext++, task));
  }

  @Override
  public long ioLatencyNs(long bytes) {
    Check.that(bytes >= 0, "event loop: I/O size (%d bytes) must not be negative", bytes);
    long latencyNs = ioLatencyNs.applyAsLong(bytes);
    Check.that(latencyNs >= 0, "event loop: I/O latency (%d ns) is negative", latencyNs);
    return latencyNs;
  }

  /**
   * Runs the earliest task, moving the clock to its due time. Returns false, doing nothing, when
   * the queue is empty.
   */
  public boolean runOne() {
    Event event = queue.poll();
    if (event == null) {
      return false;
    }
    if (eventsExecuted >= limits.eventsMax()) {
      queue.add(event); // Leave the queue as it was, so the failure can be inspected.
      throw new LimitReached("events per run", limits.eventsMax(), nowNs);
    }
    Check.that(
        event.dueNs >= nowNs, "event loop: task due at %d ns is before now (%d ns)",
        event.dueNs, nowNs);
    if (event.dueNs > limits.timeNsMax()) {
      queue.add(event);
      throw new LimitReached("virtual time per run, ns", limits.timeNsMax(), nowNs);
    }
    nowNs = event.dueNs;
    eventsExecuted++;
    event.task.run();
    return true;
  }

  /**
   * Runs tasks until the condition holds or the next task is due after {@code deadlineNs}
   * (absolute). Returns whether the condition held. The condition is checked before the first task
   * and after each one. When it does not hold, the clock ends at the deadline, never before now.
   */
  public boolean runUntil(BooleanSupplier condition, long deadlineNs) {
    Check.that(
        deadlineNs >= nowNs, "event loop: deadline (%d ns) is before now (%d ns)",
        deadlineNs, nowNs);
    // A deadline past the time limit is fine as long as the condition comes true before it.
    long stopNs = Math.min(deadlineNs, limits.timeNsMax());
    while (!condition.getAsBoolean()) {
      Event next = queue.peek();
      if (next == null || next.dueNs > stopNs) {
        if (stopNs < deadlineNs) {
          nowNs = stopNs;
          throw new LimitReached("virtual time per run, ns", limits.timeNsMax(), nowNs);
        }
        nowNs = deadlineNs;
        return condition.getAsBoolean(); // It may depend on the clock.
      }
      runOne();
    }
    return true;
  }

  @Override
  public boolean pollNow(BooleanSupplier done) {
    return runUntil(done, nowNs);
  }

  /** Runs every task due up to now + durationNs (including tasks those schedule), then sets now. */
  public void advance(long durationNs) {
    Check.that(durationNs >= 0, "event loop: duration (%d ns) must not be negative", durationNs);
    long deadlineNs = durationNs > Long.MAX_VALUE - nowNs ? Long.MAX_VALUE : nowNs + durationNs;
    runUntil(() -> false, deadlineNs);
  }

  /** Runs tasks until none is left. */
  public void drain() {
    while (runOne()) {
      // Each iteration is bounded by the events-per-run limit.
    }
  }

  /** Returns whether no task is waiting. */
  public boolean isIdle() {
    return queue.isEmpty();
  }

  /** Returns the number of tasks waiting. */
  public int queuedCount() {
    return queue.size();
  }

  /** Returns the due time of the earliest waiting task, or -1 when idle. */
  public long nextDueNs() {
    Event next = queue.peek();
    return next == null ? -1 : next.dueNs;
  }

  /** Returns the number of tasks run since the loop was created. */
  public long eventsExecuted() {
    return eventsExecuted;
  }

  /** Returns the limits of this run. */
  public Limits limits() {
    return limits;
  }
}
