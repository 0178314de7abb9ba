package io.blocksim.sim.loop;

import io.blocksim.model.port.Scheduler;

/**
 * The scheduler of work that takes no simulated time: qemu-img-style tools and checks that open
 * images outside a scenario's process. Work runs at once; time stays at zero.
 */
public final class NoTimeScheduler implements Scheduler {
  public static final NoTimeScheduler INSTANCE = new NoTimeScheduler();

  private NoTimeScheduler() {}

  @Override
  public long nowNs() {
    return 0;
  }

  @Override
  public void schedule(long delayNs, Runnable task) {
    task.run();
  }

  @Override
  public long ioLatencyNs(long bytes) {
    return 0;
  }

  @Override
  public boolean pollNow(java.util.function.BooleanSupplier done) {
    return done.getAsBoolean(); // Work ran when it was scheduled: nothing is left to poll.
  }
}
