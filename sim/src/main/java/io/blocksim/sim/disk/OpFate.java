package io.blocksim.sim.disk;

/**
 * What a power loss did to one unflushed request: kept whole, torn (only the first {@code
 * keptBytes}, a whole number of 512-byte sectors of the disk's address space, reached the disk) or
 * dropped. A truncate is never torn.
 */
public record OpFate(DiskOp op, Fate fate, long keptBytes) {

  /** The three outcomes. */
  public enum Fate {
    KEPT,
    TORN,
    DROPPED
  }
}
