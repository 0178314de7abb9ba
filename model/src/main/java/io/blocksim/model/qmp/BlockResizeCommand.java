package io.blocksim.model.qmp;

import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.Permissions;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.Map;

/**
 * {@code block_resize} (qmp_block_resize): look the node up, refuse a negative size and a node a
 * block job holds or that is a backing file (the resize op blocker), attach a BlockBackend asking for the resize
 * permission, then truncate inside a drained section; the node's bitmaps follow the new length.
 * See docs/qemu-behaviour.md §15.
 */
final class BlockResizeCommand {
  private final BlockLayer layer;

  BlockResizeCommand(BlockLayer layer) {
    this.layer = layer;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("block_resize", this::blockResize);
  }

  private Object blockResize(Args args) throws QmpError {
    String device = args.optStr("device");
    String nodeName = args.optStr("node-name");
    long size = args.integer("size");
    args.checkNoExtra();
    // bdrv_lookup_bs: 'device' names a BlockBackend, and blocksim's nodes have none.
    BlockNode node = nodeName == null ? null : layer.graph().find(nodeName);
    if (node == null) {
      throw QmpError.generic("Cannot find device='" + (device == null ? "" : device)
          + "' nor node-name='" + (nodeName == null ? "" : nodeName) + "'");
    }
    if (size < 0) {
      throw QmpError.generic("Parameter 'size' expects a >0 size");
    }
    // The resize op blocker: a block job's nodes, and a backing file (bdrv_backing_attach).
    if (node.blockingJobType() != null || BlockdevCommands.backingOverlay(node) != null) {
      // QERR_DEVICE_IN_USE with the 'device' argument, which printf shows as "(null)".
      throw QmpError.generic("Device '" + (device == null ? "(null)" : device) + "' is in use");
    }
    String conflict = Permissions.resizeConflict(node);
    if (conflict != null) {
      throw QmpError.generic(conflict);
    }
    for (BlockNode parent : node.parents()) {
      // QEMU lets a parentless fleecing filter's source be resized (cbw_child_perm passes
      // everything through); its block-copy state keeps the old length. Not modelled.
      if (parent.driver().name().equals("copy-before-write")
          && parent.child(BlockNode.FILE) == node) {
        throw QmpError.generic("blocksim does not model block_resize of node '" + node.name()
            + "' while copy-before-write filter '" + parent.name() + "' sits on it");
      }
    }
    HostIoException[] failure = new HostIoException[1];
    layer.drained(node, () -> {
      try {
        BlockIo.truncate(node, size);
      } catch (HostIoException e) {
        failure[0] = e;
      }
    });
    if (failure[0] != null) {
      HostIoException e = failure[0];
      throw QmpError.generic(e.getMessage() != null ? e.getMessage()
          : HostIoException.strerror(e.errno()));
    }
    return null;
  }
}
