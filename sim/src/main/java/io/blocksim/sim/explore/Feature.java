package io.blocksim.sim.explore;

/**
 * What a generated run may use. Swarm testing: each run switches on a random subset, each with a
 * random weight, so that rare combinations come up (a fixed mix hides them). Every capability the
 * engine gains belongs here.
 */
enum Feature {
  /** Backing chains of depth 2–4 (else every chain is one image). */
  CHAINS,
  /** raw images (a chain's base, a target). */
  RAW,
  /** Targets filled with data before the jobs start. */
  PREFILLED_TARGETS,
  /** Guest writes with a pattern. */
  WRITES,
  /** Guest write-zeroes. */
  ZEROES,
  /** Guest discards. */
  DISCARDS,
  /** Guest reads and flushes. */
  READS,
  /** block-dirty-bitmap-add/-remove. */
  BITMAPS,
  /** block-dirty-bitmap-clear/-enable/-disable/-merge. */
  BITMAP_OPS,
  /** Persistent bitmaps on qcow2 nodes. */
  PERSISTENT,
  /** transaction, with a random failing action (abort) sometimes. */
  TRANSACTIONS,
  BACKUP,
  MIRROR,
  STREAM,
  COMMIT,
  /** Job verbs at random moments (pause, resume, cancel, complete, finalize, dismiss). */
  VERBS,
  /** speed limits and block-job-set-speed. */
  SPEED,
  /** auto-finalize / auto-dismiss off. */
  MANUAL_COMPLETION,
  /** Error policies (on-source-error, on-target-error). */
  ERROR_POLICIES,
  /** blkdebug errors at random I/O events. */
  BLKDEBUG,
  /** crash: process, then the images reopened. */
  CRASH_PROCESS,
  /** crash: power (sim-only), then the images reopened. */
  CRASH_POWER,
  /** Waits for job statuses (else only time passing). */
  AWAITS,
  /** Virtual time passing between steps (under fuzz, real QEMU sleeps as long: left out). */
  TIME,
  /** block_resize of a node: grow, shrink, sizes that are not a multiple of 512. */
  RESIZE,
  /**
   * blockdev-snapshot-sync (the overlay then added above the old top) and blockdev-snapshot of a
   * pre-created overlay added with backing null; both also as transaction actions.
   */
  SNAPSHOTS,
  /** blockdev-reopen read-only / read-write with the node's own options. */
  REOPEN,
  /** nbd-server-start, block-export-add with bitmaps (read-only or writable), nbd-map steps. */
  NBD,
  /**
   * Fleecing: a temporary overlay, a copy-before-write filter on a chain's top and a
   * snapshot-access node on it; guest writes through the filter, reads of the snapshot.
   */
  FLEECING,
  /** qemu-img info -U; qemu-img check and info after a crash, before the images are reopened. */
  IMG,
  /** qcow2 images with an external data file (data_file_raw on or off), made by qemu-img create. */
  DATA_FILE
}
