package io.blocksim.sim.explore;

/** blocksim's exit codes (the command line's), for explore, explore-merge and fuzz. */
final class ExitCodes {
  static final int OK = 0;
  static final int FAILED = 1;
  static final int BAD_INPUT = 2;
  static final int INVARIANT = 3;

  private ExitCodes() {}
}
