package io.blocksim.model.graph;

import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The one reopen path (QEMU's bdrv_reopen_multiple) every caller takes to switch nodes between
 * read-only and read-write: blockdev-reopen, block-commit's base, block-stream's top, mirror's
 * target after a pivot. The image stays open: caches, bitmaps and names are kept; only the mode
 * and what the driver does on the switch change (docs/qemu-behaviour.md §14).
 */
public final class Reopen {
  /**
   * The option checks of bdrv_reopen_prepare for one queued node (blockdev-reopen's), requested
   * or queued as a child.
   */
  public interface OptionCheck {
    void check(BlockNode node) throws QmpError;
  }

  private Reopen() {}

  /** bdrv_reopen_set_read_only: one node (and the children it opened itself). */
  public static void setReadOnly(BlockLayer layer, BlockNode node, boolean readOnly)
      throws QmpError {
    Map<BlockNode, Boolean> request = new LinkedHashMap<>();
    request.put(node, readOnly);
    reopen(layer, request, n -> { });
  }

  /**
   * bdrv_reopen_multiple over the nodes requested, in order, each with its new read-only flag:
   * inside a drained section of each node's subtree, flush every queued node, let each driver
   * prepare (qcow2 stores its persistent bitmaps going read-only), refresh the permissions (a
   * refusal does not undo what the drivers prepared, as in QEMU), then commit in reverse order.
   */
  public static void reopen(BlockLayer layer, Map<BlockNode, Boolean> requested,
      OptionCheck optionCheck) throws QmpError {
    Map<BlockNode, Boolean> queue = new LinkedHashMap<>();
    for (Map.Entry<BlockNode, Boolean> e : requested.entrySet()) {
      enqueue(queue, e.getKey(), e.getValue());
    }
    List<BlockNode> subtree = new ArrayList<>();
    for (BlockNode node : requested.keySet()) {
      collectSubtree(node, subtree);
    }
    QmpError[] failure = new QmpError[1];
    drainedAll(layer, subtree, 0, () -> {
      try {
        reopenDrained(layer, queue, requested, optionCheck);
      } catch (QmpError e) {
        failure[0] = e;
      }
    });
    if (failure[0] != null) {
      throw failure[0];
    }
  }

  private static void reopenDrained(BlockLayer layer, Map<BlockNode, Boolean> queue,
      Map<BlockNode, Boolean> requested, OptionCheck optionCheck) throws QmpError {
    for (BlockNode node : queue.keySet()) {
      try {
        BlockIo.flush(node);
      } catch (HostIoException e) {
        throw QmpError.generic("Error flushing drive: " + HostIoException.strerror(e.errno()));
      }
    }
    // bdrv_reopen_multiple prepares the queue in order, each node's option checks right before
    // its driver's prepare: a parent (qcow2 storing its bitmaps going read-only) may have
    // prepared before a child's options are refused, and that stays done.
    for (Map.Entry<BlockNode, Boolean> e : queue.entrySet()) {
      optionCheck.check(e.getKey());
      try {
        e.getKey().driver().reopenPrepare(e.getKey(), e.getValue());
      } catch (HostIoException ex) {
        throw QmpError.generic(ex.getMessage() != null ? ex.getMessage()
            : "failed while preparing to reopen image '" + e.getKey().name() + "'");
      }
    }
    checkPermissions(queue);
    checkLocks(layer, queue);
    List<BlockNode> nodes = new ArrayList<>(queue.keySet());
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).setReadOnly(queue.get(nodes.get(i)));
    }
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).driver().reopenCommit(nodes.get(i), queue.get(nodes.get(i)));
    }
  }

  /**
   * bdrv_reopen_multiple's permission update (raw_check_perm on the file nodes below): the
   * nodes' new read-only flags change what their files take, whose image locks test the other
   * file nodes' (BlockLayer.checkLocks); a refusal leaves the flags as they were.
   */
  private static void checkLocks(BlockLayer layer, Map<BlockNode, Boolean> queue)
      throws QmpError {
    Map<BlockNode, Boolean> before = new LinkedHashMap<>();
    for (Map.Entry<BlockNode, Boolean> e : queue.entrySet()) {
      before.put(e.getKey(), e.getKey().readOnly());
      e.getKey().setReadOnly(e.getValue());
    }
    try {
      layer.checkLocks(null, List.of());
    } finally {
      for (Map.Entry<BlockNode, Boolean> e : before.entrySet()) {
        e.getKey().setReadOnly(e.getValue());
      }
    }
  }

  /**
   * bdrv_reopen_queue_child: the node, then the children it opened itself (an inline {@code
   * file}/{@code data-file} dictionary, with or without a node-name), which inherit the new
   * mode. Nodes added on their own keep theirs; backing files stay read-only whatever their
   * overlay does.
   */
  private static void enqueue(Map<BlockNode, Boolean> queue, BlockNode node, boolean readOnly) {
    if (queue.containsKey(node)) {
      return;
    }
    queue.put(node, readOnly);
    for (Map.Entry<String, BlockNode> e : node.children().entrySet()) {
      // bdrv_reopen_queue_child follows children whose inherits_from is this node: the ones
      // opened from its options dictionary, with or without a node-name of their own.
      if (!e.getKey().equals(BlockNode.BACKING) && e.getValue().openedInline()) {
        enqueue(queue, e.getValue(), readOnly);
      }
    }
  }

  /**
   * bdrv_list_refresh_perms' read-only check (bdrv_node_refresh_perm): a node that will be
   * read-only must have no parent that writes to it.
   */
  private static void checkPermissions(Map<BlockNode, Boolean> queue) throws QmpError {
    Set<BlockNode> affected = new LinkedHashSet<>(queue.keySet());
    for (BlockNode node : queue.keySet()) {
      affected.addAll(node.children().values());
    }
    for (BlockNode node : affected) {
      if (readOnlyAfter(node, queue) && hasWriter(node, queue)) {
        if (node.readOnly()) {
          throw QmpError.generic("Block node is read-only");
        }
        throw QmpError.generic("Read-only block node '" + node.name()
            + "' cannot support read-write users");
      }
    }
  }

  private static boolean readOnlyAfter(BlockNode node, Map<BlockNode, Boolean> queue) {
    Boolean queued = queue.get(node);
    return queued != null ? queued : node.readOnly();
  }

  /**
   * Whether some parent will hold write (or write-unchanged) permission on the node: a writable
   * format node on its file or data file, a copy-before-write filter on its target, a
   * copy-on-read filter on its child, a job's own BlockBackend (commit's base, mirror's target),
   * a writable export;
   * other filters pass on what their own parents ask. Backing files and commit_top's child get
   * no write.
   */
  static boolean hasWriter(BlockNode node, Map<BlockNode, Boolean> queue) {
    for (String user : node.users()) {
      if (user.startsWith(Permissions.EXPORT_USER) && user.endsWith(":write")) {
        return true; // A writable NBD export's BlockBackend (blk_exp_add: BLK_PERM_WRITE).
      }
    }
    for (BlockNode.JobChild child : node.jobChildren()) {
      if (child.childName().equals("root")) {
        return true;
      }
    }
    for (BlockNode parent : node.parents()) {
      for (Map.Entry<String, BlockNode> e : parent.children().entrySet()) {
        if (e.getValue() != node || !BlockIo.holdsWrite(parent, e.getKey())
            || readOnlyAfter(parent, queue)) {
          continue;
        }
        String driver = parent.driver().name();
        if (driver.equals("qcow2") || driver.equals("copy-on-read")
            || (driver.equals("copy-before-write") && !e.getKey().equals(BlockNode.FILE))
            || hasWriter(parent, queue)) {
          return true;
        }
      }
    }
    return false;
  }

  private static void collectSubtree(BlockNode node, List<BlockNode> out) {
    if (out.contains(node)) {
      return;
    }
    out.add(node);
    for (BlockNode child : node.children().values()) {
      collectSubtree(child, out);
    }
  }

  /** bdrv_subtree_drained_begin/end: one drained section per node of the subtree, nested. */
  private static void drainedAll(BlockLayer layer, List<BlockNode> nodes, int from,
      Runnable body) {
    if (from == nodes.size()) {
      body.run();
      return;
    }
    layer.drained(nodes.get(from), () -> drainedAll(layer, nodes, from + 1, body));
  }
}
