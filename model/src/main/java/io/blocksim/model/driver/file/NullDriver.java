package io.blocksim.model.driver.file;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.Driver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.List;
import java.util.Map;

/** The {@code null-co} driver: reads zeroes, swallows writes. */
public final class NullDriver implements Driver {
  /** Opens a {@code null-co} node (block/null.c). */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    long size = args.optInt("size") == null ? 1L << 30 : args.optInt("size");
    args.unmodelled("read-zeroes", args.optBool("read-zeroes"), false);
    args.unmodelled("latency-ns", args.optInt("latency-ns"), 0L);
    node.setDriver(new NullDriver(size));
  }

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

  @Override
  public Long allocatedFileSize(BlockNode node) {
    return null; // block/null.c has no bdrv_get_allocated_file_size
  }
}
