package io.blocksim.sim.checker;

/**
 * One invariant of the block layer, checked after every action of a run (FoundationDB's and
 * TigerBeetle's simulators check theirs after every step, not only at the end). A checker keeps
 * what it needs from earlier actions (snapshots, statuses) and reports a violation with {@link
 * World#fail}, which names it.
 */
public interface Checker {
  /** The checker's name, as a violation reports it (kebab-case, e.g. {@code bitmap-coverage}). */
  String name();

  /** Called once before the run's first action (images not created yet). */
  default void start(World world) {}

  /** Checks the world after the action; calls {@link World#fail} on a violation. */
  void after(Action action, World world);
}
