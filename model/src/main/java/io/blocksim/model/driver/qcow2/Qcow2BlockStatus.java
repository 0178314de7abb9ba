package io.blocksim.model.driver.qcow2;

/**
 * One run of the image's own allocation map, as qcow2_co_block_status reports it.
 *
 * @param kind what the run is in this layer
 * @param lengthBytes how far the run reaches (at least one byte)
 * @param hostOffset host file offset of the first byte for DATA and for preallocated ZERO
 *     clusters (BDRV_BLOCK_OFFSET_VALID), otherwise -1
 */
public record Qcow2BlockStatus(Kind kind, long lengthBytes, long hostOffset) {
  /** The layer-local status of a run. */
  public enum Kind {
    /** Allocated here; reads return the host data (BDRV_BLOCK_DATA). */
    DATA,
    /** A zero cluster here (BDRV_BLOCK_ZERO), preallocated or not. */
    ZERO,
    /** Not allocated here: the backing file decides (or zeroes when there is none). */
    UNALLOCATED
  }

  /** Returns whether host offset is valid (BDRV_BLOCK_OFFSET_VALID). */
  public boolean hostOffsetValid() {
    return hostOffset >= 0;
  }
}
