package io.blocksim.model.driver;

import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;

/**
 * A child node seen as a file by a format driver: every request goes through the generic block
 * layer on the child, so a blkdebug node under a qcow2 node sees each request with its host
 * offset, and bitmaps on the child are dirtied as QEMU dirties them.
 */
public final class NodeFile implements HostFile {
  private final BlockNode child;

  public NodeFile(BlockNode child) {
    this.child = child;
  }

  @Override
  public long length() {
    return child.driver().length();
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException {
    long end = child.driver().length();
    // Reads past the end of a protocol node return zeroes (the tail of the last sector).
    int inside = (int) Math.max(0, Math.min(length, end - offset));
    if (inside > 0) {
      BlockIo.read(child, offset, dst, dstOffset, inside);
    }
    java.util.Arrays.fill(dst, dstOffset + inside, dstOffset + length, (byte) 0);
  }

  @Override
  public void write(long offset, byte[] src, int srcOffset, int length) throws HostIoException {
    BlockIo.write(child, offset, src, srcOffset, length, RequestFlags.NONE);
  }

  @Override
  public void writeZeroes(long offset, long length) throws HostIoException {
    BlockIo.writeZeroes(child, offset, length, RequestFlags.MAY_UNMAP);
  }

  @Override
  public void discard(long offset, long length) throws HostIoException {
    BlockIo.discard(child, offset, length);
  }

  @Override
  public void truncate(long length) throws HostIoException {
    BlockIo.truncate(child, length);
  }

  @Override
  public void flush() throws HostIoException {
    BlockIo.flush(child);
  }

  @Override
  public long allocationRun(long offset, long maxLength) {
    try {
      BlockStatus status = BlockIo.blockStatus(child, offset, maxLength);
      return status.zero() && !status.data() ? -status.lengthBytes() : status.lengthBytes();
    } catch (HostIoException e) {
      return maxLength;
    }
  }
}
