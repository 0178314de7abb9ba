package io.blocksim.sim.explore;

/** How long a run's ending waits for the jobs it force-cancelled (virtual time). */
final class JobBudget {
  /** Past the job-state-machine checker's 30 s budget, so a job that does not end is caught. */
  static final long ENDING_NS = 31_000_000_000L;

  private JobBudget() {}
}
