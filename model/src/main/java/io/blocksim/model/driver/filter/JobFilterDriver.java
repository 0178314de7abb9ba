package io.blocksim.model.driver.filter;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.check.Check;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.ForwardingDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.Map;

/**
 * The pass-through filters block jobs put into the graph: {@code mirror_top} (block/mirror.c,
 * above a mirror's source) and {@code commit_top} (block/commit.c, above an intermediate commit's
 * top). QEMU attaches the filtered node as their {@code backing} child; blocksim uses the
 * {@code file} role so the generic code (cowChild, the guest's view) sees them as filters.
 *
 * <p>A mirror in copy-mode write-blocking also copies each guest write to the target before the
 * write completes: {@link WriteListener} receives it after it reached the source.
 */
public final class JobFilterDriver extends ForwardingDriver {
  /** Sees guest writes around their way to the filtered node (mirror's active write). */
  public interface WriteListener {
    /** Before the write passes down: QEMU's wait for conflicting job operations. */
    void beforeWrite(long offset, long length);

    /** After the write reached the filtered node. */
    void written(long offset, long length, byte[] buf, int pos, boolean zero)
        throws HostIoException;
  }

  private final String name;
  private WriteListener listener;

  private JobFilterDriver(String name, BlockNode file) {
    super(file);
    this.name = name;
  }

  /**
   * Inserts a filter with that driver name above node (bdrv_insert_node / bdrv_append): it takes
   * over every parent and user of node. A null nodeName gives an implicit, generated name.
   */
  public static BlockNode insert(BlockLayer layer, String driverName, BlockNode node,
      String nodeName) throws QmpError {
    CopyBeforeWriteDriver.checkNodeName(layer, nodeName);
    String name = nodeName != null ? nodeName : layer.graph().generateName();
    BlockNode filter = new BlockNode(name, nodeName == null, null);
    if (nodeName == null) {
      filter.markImplicit();
    }
    filter.setDriver(driverName.equals("copy-on-read") ? new CopyOnReadDriver(node)
        : new JobFilterDriver(driverName, node));
    moveParents(node, filter);
    filter.setChild(BlockNode.FILE, node);
    filter.users().addAll(node.users());
    node.users().clear();
    layer.graph().add(filter);
    return filter;
  }

  /** Removes a filter again (bdrv_replace_node onto its child, then its unref). */
  public static void drop(BlockLayer layer, BlockNode filter) {
    Check.that(filter.driver().isFilter(), "node '%s' is not a filter", filter.name());
    BlockNode file = filter.primaryChild();
    // bdrv_drop_filter drains the filter while its parents move: a job above it pauses.
    layer.drained(filter, () -> moveParents(filter, file));
    file.users().addAll(filter.users());
    filter.users().clear();
    filter.setChild(BlockNode.FILE, null);
    layer.graph().remove(filter);
  }

  /**
   * bdrv_replace_node: points every parent of from (except to itself and nodes below to, which
   * would make a loop) at to, keeping each child role and its position.
   */
  public static void moveParents(BlockNode from, BlockNode to) {
    for (BlockNode parent : new ArrayList<>(from.parents())) {
      if (parent == to || reaches(to, parent)) {
        continue;
      }
      for (Map.Entry<String, BlockNode> child : parent.children().entrySet()) {
        if (child.getValue() == from) {
          child.setValue(to);
          if (parent.driver() instanceof io.blocksim.model.driver.ForwardingDriver forwarding) {
            forwarding.retarget(from, to);
          }
          from.parents().remove(parent);
          to.parents().add(parent);
        }
      }
    }
  }

  /** Returns whether node is below (or is) top in the graph. */
  private static boolean reaches(BlockNode top, BlockNode node) {
    if (top == node) {
      return true;
    }
    for (BlockNode child : top.children().values()) {
      if (reaches(child, node)) {
        return true;
      }
    }
    return false;
  }

  public void setWriteListener(WriteListener listener) {
    this.listener = listener;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public boolean isFilter() {
    return true;
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    if (listener != null) {
      listener.beforeWrite(offset, length);
    }
    BlockIo.write(file, offset, buf, pos, length, flags);
    if (listener != null) {
      listener.written(offset, length, buf, pos, false);
    }
  }

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    if (listener != null) {
      listener.beforeWrite(offset, length);
    }
    BlockIo.writeZeroes(file, offset, length, flags);
    if (listener != null) {
      listener.written(offset, length, null, 0, true);
    }
  }
}
