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
  /** The file child: follows the child when bdrv_replace_node moves it (see retarget). */
  protected BlockNode file;

  protected ForwardingDriver(BlockNode file) {
    this.file = file;
  }

  /**
   * The parent's file child now points at another node (bdrv_replace_node: a snapshot's
   * bdrv_append moves a job filter above the overlay): requests go to the new child.
   */
  public void retarget(BlockNode from, BlockNode to) {
    if (file == from) {
      file = to;
    }
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
