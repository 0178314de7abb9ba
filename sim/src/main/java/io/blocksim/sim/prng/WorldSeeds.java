package io.blocksim.sim.prng;

/**
 * The seeds of the simulated world's components, drawn from the run's root {@link Prng} in the
 * fixed order of the record components. A new component is appended at the end, so the seeds of
 * the earlier ones stay what they were for a given run seed.
 */
public record WorldSeeds(long diskLatency, long diskPowerLoss, long faultInjector, long swarm) {

  /** Draws every component's seed from the root, in declaration order. */
  public static WorldSeeds draw(Prng root) {
    long diskLatency = root.nextLong();
    long diskPowerLoss = root.nextLong();
    long faultInjector = root.nextLong();
    long swarm = root.nextLong();
    return new WorldSeeds(diskLatency, diskPowerLoss, faultInjector, swarm);
  }
}
