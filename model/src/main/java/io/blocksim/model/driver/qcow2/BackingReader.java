package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostIoException;

/**
 * What the qcow2 engine needs from the backing chain below the image: the data of ranges the image
 * does not allocate itself (guest reads and copy-on-write), and a cheap zero test for COW regions.
 * The node layer owns the chain and implements this (reads beyond the backing file's end must
 * return zeroes, as QEMU's generic layer does). A null reader means "no backing file attached",
 * which changes semantics exactly as {@code bs->backing == NULL} does in QEMU.
 */
public interface BackingReader {
  /** Reads guest bytes of the backing chain into dst (QEMU: bdrv_co_preadv_part(bs->backing)). */
  void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException;

  /**
   * Returns whether block status of the backing chain reports the whole range as zero in one run
   * (QEMU: bdrv_co_is_zero_fast below this image). Returning false is always safe: the engine
   * then copies the data instead of zero-filling the new cluster.
   */
  boolean isZeroFast(long offset, long length) throws HostIoException;

  /**
   * Returns whether the range reads as zeroes through the backing chain, block-status run by run
   * (the loop of is_zero in qcow2.c: runs of different kinds of zeroes, such as an unallocated
   * range and a zero cluster of a lower layer, are not merged into one). Defaults to the one-run
   * test.
   */
  default boolean isZero(long offset, long length) throws HostIoException {
    return isZeroFast(offset, length);
  }
}
