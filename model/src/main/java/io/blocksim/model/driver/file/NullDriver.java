package io.blocksim.model.driver.file;

import io.blocksim.model.driver.BlockStatus;
import io.blocksim.model.driver.Driver;
import io.blocksim.model.graph.BlockNode;

/** The {@code null-co} driver: reads zeroes, swallows writes. */
public final class NullDriver implements Driver {
  private final long size;

  public NullDriver(long size) {
    this.size = size;
  }

  @Override
  public String name() {
    return "null-co";
  }

  @Override
  public long length() {
    return size;
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length) {
    java.util.Arrays.fill(buf, pos, pos + length, (byte) 0);
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags) {}

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags) {}

  @Override
  public void discard(BlockNode node, long offset, long length) {}

  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength) {
    return BlockStatus.data(maxLength);
  }
}
