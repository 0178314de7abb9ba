package io.blocksim.model.driver.filter;

import io.blocksim.model.driver.BlockStatus;
import io.blocksim.model.driver.Driver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.io.BlockIo;
import io.blocksim.model.io.RequestFlags;
import io.blocksim.model.port.HostIoException;

/**
 * The {@code copy-on-read} filter: a read of a range not allocated in the top image reads it
 * through the backing chain and writes it into the top image with a population write that dirties
 * no bitmap (qemu-semantics.md §8), unless the {@code bug:write-unchanged-dirties} variant asks
 * for the old behaviour.
 */
public final class CopyOnReadDriver implements Driver {
  private final BlockNode file;
  private boolean populateDirties;

  public CopyOnReadDriver(BlockNode file) {
    this.file = file;
  }

  /** Switches on the historical bug where population writes dirtied bitmaps. */
  public void setPopulateDirties(boolean populateDirties) {
    this.populateDirties = populateDirties;
  }

  @Override
  public String name() {
    return "copy-on-read";
  }

  @Override
  public long length() {
    return file.length();
  }

  @Override
  public boolean isFilter() {
    return true;
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    long done = 0;
    while (done < length) {
      BlockStatus status = BlockIo.blockStatus(file, offset + done, length - done);
      int run = (int) Math.min(status.lengthBytes(), length - done);
      BlockIo.read(file, offset + done, buf, pos + (int) done, run);
      if (!status.allocated() && file.backing() != null) {
        BlockIo.raiseEvent(node, "cor_write");
        int flags = RequestFlags.WRITE_UNCHANGED
            | (populateDirties ? 0 : RequestFlags.COPY_ON_READ_POPULATE);
        BlockIo.write(file, offset + done, buf, pos + (int) done, run, flags);
      }
      done += run;
    }
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    BlockIo.write(file, offset, buf, pos, length, flags);
  }

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    BlockIo.writeZeroes(file, offset, length, flags);
  }

  @Override
  public void discard(BlockNode node, long offset, long length) throws HostIoException {
    BlockIo.discard(file, offset, length);
  }

  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength)
      throws HostIoException {
    BlockStatus below = BlockIo.blockStatus(file, offset, maxLength);
    return new BlockStatus(below.lengthBytes(), below.data(), below.zero(), false);
  }
}
