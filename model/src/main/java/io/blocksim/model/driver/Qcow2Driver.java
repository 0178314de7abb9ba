package io.blocksim.model.driver;

import io.blocksim.model.Engine;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qmp.Args;
import io.blocksim.model.qmp.BlockdevCommands;
import io.blocksim.model.qmp.QmpError;
import java.util.List;
import java.util.Map;

/** Placeholder until the qcow2 format engine lands. */
public final class Qcow2Driver implements Driver {
  public static void open(BlockdevCommands commands, Engine engine, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    throw QmpError.generic("qcow2 is not available yet");
  }

  public int version() {
    return 3;
  }

  public void removeStoredBitmap(String name) {}

  @Override
  public String name() {
    return "qcow2";
  }

  @Override
  public long length() {
    return 0;
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {}

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {}

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags) {}

  @Override
  public void discard(BlockNode node, long offset, long length) {}

  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength) {
    return BlockStatus.unallocated(maxLength);
  }
}
