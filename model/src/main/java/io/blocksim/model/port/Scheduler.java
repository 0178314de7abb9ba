package io.blocksim.model.port;

/**
 * Virtual time and deferred work, supplied by the simulator's event loop. The engine has no clock
 * and no randomness of its own: both come through this port.
 */
public interface Scheduler {
  /** Returns the current virtual time in nanoseconds. */
  long nowNs();

  /**
   * Runs the task after the given virtual delay. Tasks due at the same time run in the order they
   * were scheduled.
   */
  void schedule(long delayNs, Runnable task);

  /** Returns how long an I/O request of that many bytes takes on the host, drawn from the seed. */
  long ioLatencyNs(long bytes);

  /**
   * A nested event loop that lets no virtual time pass (QEMU's AIO_WAIT_WHILE, as in
   * job_finish_sync): runs the tasks due now, and those they schedule for now, until
   * {@code done} holds or none is left due now. Returns whether {@code done} holds.
   */
  boolean pollNow(java.util.function.BooleanSupplier done);
}
