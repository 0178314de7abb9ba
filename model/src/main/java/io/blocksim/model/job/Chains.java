package io.blocksim.model.job;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.ChainReader;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeFilenames;
import io.blocksim.model.graph.Reopen;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.List;
import io.blocksim.model.qapi.QmpError;

/**
 * Backing-chain helpers the stream, commit and mirror jobs share (QEMU's bdrv_filter_or_cow_bs,
 * bdrv_find_overlay, bdrv_is_allocated_above, bdrv_set_backing_hd, bdrv_change_backing_file).
 */
public final class Chains {
  private Chains() {}

  /** bdrv_filter_or_cow_bs: the node a layer falls through to, or null. */
  public static BlockNode below(BlockNode node) {
    return node == null ? null : BlockIo.cowChild(node);
  }

  /** bdrv_skip_filters. */
  public static BlockNode skipFilters(BlockNode node) {
    BlockNode n = node;
    while (n != null && n.driver().isFilter() && n.primaryChild() != null) {
      n = n.primaryChild();
    }
    return n;
  }

  /** bdrv_chain_contains: whether node is top or below it in its filter-or-cow chain. */
  public static boolean contains(BlockNode top, BlockNode node) {
    for (BlockNode n = top; n != null; n = below(n)) {
      if (n == node) {
        return true;
      }
    }
    return false;
  }

  /** bdrv_find_overlay: the node of top's chain directly above base (base null: the bottom). */
  public static BlockNode overlay(BlockNode top, BlockNode base) {
    BlockNode n = top;
    while (n != null && below(n) != base) {
      n = below(n);
    }
    return n;
  }

  /** Returns the host file name under a node (its protocol layer's), not QEMU's bs->filename. */
  public static String filename(BlockNode node) {
    for (BlockNode n = node; n != null; n = n.primaryChild()) {
      if (n.driver().filename() != null) {
        return n.driver().filename();
      }
    }
    return null;
  }

  /**
   * bdrv_set_backing_hd: makes base the backing child of node (null detaches it) and points the
   * format's reads of unallocated ranges at it.
   */
  public static void setBacking(BlockNode node, BlockNode base) {
    node.setChild(BlockNode.BACKING, base);
    if (node.driver() instanceof Qcow2Driver qcow2) {
      qcow2.image().setBackingReader(base == null ? null : new ChainReader(base));
    }
  }

  /** bdrv_change_backing_file: rewrites the backing file name (and format) in the header. */
  public static int changeBackingFile(BlockLayer layer, BlockNode node, String backingFile,
      String backingFormat, boolean fromNode) {
    if (!(node.driver() instanceof Qcow2Driver qcow2)) {
      return 0;
    }
    try {
      qcow2.image().changeBackingFile(backingFile, backingFormat);
    } catch (HostIoException e) {
      return -e.errno();
    }
    node.setBackingFileName(backingFile);
    // bdrv_change_backing_file also sets auto_backing_file: a name taken from a node (the base's
    // refreshed file name) is what that node is called, a user's backing-file string is not.
    node.setAutoBackingFile(backingFile, fromNode);
    String path = NodeFilenames.protocolFilename(node);
    if (path != null) {
      layer.storage().setBackingNameFromNode(path, fromNode ? backingFile : null);
    }
    return 0;
  }

  /** bdrv_reopen_set_read_only: the one reopen path ({@link Reopen}). */
  public static void reopen(BlockLayer layer, BlockNode node, boolean readOnly) throws QmpError {
    Reopen.setReadOnly(layer, node, readOnly);
  }

  /**
   * Releases the nodes of a chain segment that nothing references any more (the unref of
   * bdrv_drop_intermediate): nodes the monitor owns stay, detached; others are closed.
   */
  static void releaseUnreferenced(BlockLayer layer, List<BlockNode> dropped) {
    for (BlockNode node : new ArrayList<>(dropped)) {
      if (layer.graph().find(node.name()) == node && node.parents().isEmpty()
          && node.users().isEmpty() && !layer.graph().isMonitorOwned(node)) {
        layer.release(node);
      }
    }
  }
}
