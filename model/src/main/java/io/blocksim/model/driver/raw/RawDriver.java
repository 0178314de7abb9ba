package io.blocksim.model.driver.raw;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.ForwardingDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.List;
import java.util.Map;

/**
 * The {@code raw} format: guest offset = host offset. Raises {@code read_aio} / {@code write_aio}
 * on its file child before every read and write, as QEMU's raw driver does (nothing for
 * write-zeroes and discard).
 */
public final class RawDriver extends ForwardingDriver {
  /** Opens a {@code raw} node over its {@code file} child (block/raw-format.c). */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    BlockNode file = layer.child(args, "file", true, inherit, created);
    args.unmodelled("offset", args.optInt("offset"), 0L);
    args.unmodelled("size", args.optInt("size"));
    node.setChild(BlockNode.FILE, file);
    node.setDriver(new RawDriver(file));
  }

  public RawDriver(BlockNode file) {
    super(file);
  }

  @Override
  public String name() {
    return "raw";
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    BlockIo.raiseEvent(file, "read_aio");
    BlockIo.read(file, offset, buf, pos, length);
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    BlockIo.raiseEvent(file, "write_aio");
    BlockIo.write(file, offset, buf, pos, length, flags);
  }
}
