package io.blocksim.model.driver;

import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.port.HostIoException;

/**
 * A driver that passes requests to its {@code file} child unchanged (raw, and the filters: QEMU's
 * bdrv_co_*_filtered helpers). Subclasses override only what they do differently.
 */
public abstract class ForwardingDriver implements Driver {
  protected final BlockNode file;

  protected ForwardingDriver(BlockNode file) {
    this.file = file;
  }

  @Override
  public long length() {
    return file.length();
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    BlockIo.read(file, offset, buf, pos, length);
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

  /** The child's status; a filter reports it as not its own (BDRV_BLOCK_RAW semantics). */
  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength)
      throws HostIoException {
    BlockStatus below = BlockIo.blockStatus(file, offset, maxLength);
    return new BlockStatus(below.lengthBytes(), below.data(), below.zero(), !isFilter());
  }

  /** A filter's truncate reaches its child (bdrv_co_truncate: bs->file of a filter). */
  @Override
  public void truncate(BlockNode node, long length) throws HostIoException {
    BlockIo.truncate(file, length);
  }
}
