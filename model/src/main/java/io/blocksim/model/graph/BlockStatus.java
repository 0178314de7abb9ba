package io.blocksim.model.graph;

/**
 * One run of a node's allocation map, as bdrv_co_block_status reports it for one layer.
 *
 * @param lengthBytes how far the run reaches (at least one byte)
 * @param data the range holds data in this layer (BDRV_BLOCK_DATA)
 * @param zero the range reads as zeroes (BDRV_BLOCK_ZERO)
 * @param allocated this layer decides the contents (BDRV_BLOCK_ALLOCATED); if false, the backing
 *     file does
 */
public record BlockStatus(long lengthBytes, boolean data, boolean zero, boolean allocated) {
  public static BlockStatus data(long length) {
    return new BlockStatus(length, true, false, true);
  }

  public static BlockStatus zero(long length) {
    return new BlockStatus(length, false, true, true);
  }

  public static BlockStatus unallocated(long length) {
    return new BlockStatus(length, false, false, false);
  }
}
