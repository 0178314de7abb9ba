package io.blocksim.model.driver;

import io.blocksim.model.driver.qcow2.BackingReader;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.port.HostIoException;
import java.util.Arrays;

/**
 * The backing chain as a qcow2 image reads it (the overlay's reads of unallocated clusters, and
 * its is-zero probe). A backing file shorter than the overlay reads as zeroes past its end, as
 * QEMU's bdrv_aligned_preadv zero-fills beyond a node's EOF; a read starting past the end is all
 * zeroes (the clamp to 0 keeps the fill from starting before the buffer's range).
 */
public final class ChainReader implements BackingReader {
  private final BlockNode backing;

  public ChainReader(BlockNode backing) {
    this.backing = backing;
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int length)
      throws HostIoException {
    long end = backing.length();
    int inside = (int) Math.max(0, Math.min(length, end - offset));
    if (inside > 0) {
      BlockIo.read(backing, offset, dst, dstOffset, inside);
    }
    Arrays.fill(dst, dstOffset + inside, dstOffset + length, (byte) 0);
  }

  @Override
  public boolean isZero(long offset, long length) throws HostIoException {
    while (length > 0) {
      if (offset >= backing.length()) {
        return true;
      }
      long n = Math.min(length, backing.length() - offset);
      BlockStatus status = BlockIo.blockStatusAbove(backing, offset, n);
      if (!status.zero() || status.lengthBytes() <= 0) {
        return false;
      }
      offset += status.lengthBytes();
      length -= status.lengthBytes();
    }
    return true;
  }

  @Override
  public boolean isZeroFast(long offset, long length) throws HostIoException {
    if (offset >= backing.length()) {
      return true;
    }
    BlockStatus status = BlockIo.blockStatusAbove(backing, offset, length);
    return status.zero() && status.lengthBytes() >= length;
  }
}
