package io.blocksim.sim.explore;

/**
 * Sizes of a generated run. The default keeps disks small (a few clusters to a few hundred
 * KiB), which is where explore is fast and where edge cases (sizes that are not multiples of the
 * cluster size or of the bitmap granularity) are dense.
 */
record Profile(long imageBytesMax, int stepsMin, int stepsMax) {
  static final Profile DEFAULT = new Profile(256 * 1024, 4, 30);
}
