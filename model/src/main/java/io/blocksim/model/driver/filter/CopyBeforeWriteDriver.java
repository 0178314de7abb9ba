package io.blocksim.model.driver.filter;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.check.Check;
import io.blocksim.model.driver.ForwardingDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.driver.blockcopy.BlockCopy;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.Map;

/**
 * The {@code copy-before-write} filter of QEMU 7.2 (block/copy-before-write.c), as backup
 * inserts it above its source: before a write, write-zeroes or discard passes down, the
 * clusters it touches that are still dirty in the copy bitmap are copied to the target.
 *
 * <p>Fault model: that copy may fail (source read or target write); then the guest request
 * fails with the copy's error and is not passed down (on-cbw-error=break-guest-write, the
 * default), and the failed clusters stay dirty for the job to copy later.
 *
 * <p>The node carries two disabled bitmaps, listed as QEMU lists them: the access bitmap (a copy
 * of the initial copy bitmap) and the done bitmap (ranges copied by copy-before-write). They only
 * matter to fleecing reads, which blocksim does not model beyond keeping their counts.
 */
public final class CopyBeforeWriteDriver extends ForwardingDriver {
  public static final String TARGET = "target";

  private final BlockCopy blockCopy;
  private final DirtyBitmap doneBitmap;
  private final DirtyBitmap accessBitmap;

  private CopyBeforeWriteDriver(BlockNode node, BlockNode file, BlockCopy blockCopy) {
    super(file);
    this.blockCopy = blockCopy;
    long clusterSize = blockCopy.clusterSize();
    this.doneBitmap = new DirtyBitmap(null, file.length(), clusterSize);
    doneBitmap.setDisabled(true);
    node.bitmaps().add(0, doneBitmap);
    this.accessBitmap = new DirtyBitmap(null, file.length(), clusterSize);
    accessBitmap.setDisabled(true);
    accessBitmap.mergeFrom(blockCopy.copyBitmap(), false);
    node.bitmaps().add(0, accessBitmap);
  }

  /** Checks the node name the filter would get (bdrv_assign_node_name). */
  public static void checkNodeName(BlockLayer layer, String nodeName) throws QmpError {
    if (nodeName == null) {
      return;
    }
    if (!io.blocksim.model.graph.NodeGraph.wellFormed(nodeName)) {
      throw QmpError.generic("Invalid node-name: '" + nodeName + "'");
    }
    if (layer.graph().find(nodeName) != null) {
      throw QmpError.generic("Duplicate nodes with node-name='" + nodeName + "'");
    }
  }

  /**
   * Inserts a filter above source (bdrv_cbw_append): it gets the source as file child and the
   * target as target child, and takes over every other parent and user of the source.
   */
  public static BlockNode insert(BlockLayer layer, BlockNode source, BlockNode target,
      String nodeName, BlockCopy blockCopy) {
    String name = nodeName != null ? nodeName : layer.graph().generateName();
    BlockNode filter = new BlockNode(name, nodeName == null, null);
    filter.setChild(BlockNode.FILE, source);
    filter.setChild(TARGET, target);
    CopyBeforeWriteDriver driver = new CopyBeforeWriteDriver(filter, source, blockCopy);
    driver.skipsCopy = layer.variant(
        io.blocksim.model.semantics.Variant.BACKUP_SKIPS_COPY_BEFORE_WRITE);
    filter.setDriver(driver);
    moveParents(source, filter);
    filter.users().addAll(source.users());
    source.users().clear();
    layer.graph().add(filter);
    return filter;
  }

  /** Removes the filter again (bdrv_cbw_drop): its parents and users go back to its file. */
  public static void drop(BlockLayer layer, BlockNode filter) {
    Check.that(filter.driver() instanceof CopyBeforeWriteDriver, "node '%s' is not a cbw filter",
        filter.name());
    BlockNode file = filter.primaryChild();
    // bdrv_drop_filter drains the filter while its parents move: a job above it pauses.
    layer.drained(filter, () -> moveParents(filter, file));
    file.users().addAll(filter.users());
    filter.users().clear();
    filter.setChild(BlockNode.FILE, null);
    filter.setChild(TARGET, null);
    layer.graph().remove(filter);
  }

  /** Points every parent of from (other than to itself) at to, keeping the child roles. */
  private static void moveParents(BlockNode from, BlockNode to) {
    for (BlockNode parent : new ArrayList<>(from.parents())) {
      if (parent == to) {
        continue;
      }
      for (Map.Entry<String, BlockNode> child : parent.children().entrySet()) {
        if (child.getValue() == from) {
          // Replacing the value in place keeps the role's position among the children.
          child.setValue(to);
          from.parents().remove(parent);
          to.parents().add(parent);
        }
      }
    }
  }

  public BlockCopy blockCopy() {
    return blockCopy;
  }

  public DirtyBitmap doneBitmap() {
    return doneBitmap;
  }

  public DirtyBitmap accessBitmap() {
    return accessBitmap;
  }

  @Override
  public String name() {
    return "copy-before-write";
  }

  @Override
  public boolean isFilter() {
    return true;
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    copyBeforeWrite(offset, length, flags);
    super.write(node, offset, buf, pos, length, flags);
  }

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    copyBeforeWrite(offset, length, flags);
    super.writeZeroes(node, offset, length, flags);
  }

  @Override
  public void discard(BlockNode node, long offset, long length) throws HostIoException {
    copyBeforeWrite(offset, length, 0);
    super.discard(node, offset, length);
  }

  /** bug:backup-skips-copy-before-write: guest writes pass uncopied (planted). */
  private boolean skipsCopy;

  /** cbw_do_copy_before_write. */
  private void copyBeforeWrite(long offset, long length, int flags) throws HostIoException {
    if (RequestFlags.has(flags, RequestFlags.WRITE_UNCHANGED) || length == 0 || skipsCopy) {
      return;
    }
    int result = blockCopy.copyBeforeWrite(offset, length);
    if (result < 0) {
      throw new HostIoException(-result, "copy-before-write failed");
    }
    long cluster = blockCopy.clusterSize();
    long start = offset / cluster * cluster;
    long end = Math.min((offset + length + cluster - 1) / cluster * cluster, file.length());
    if (end > start) {
      doneBitmap.setDirty(start, end - start);
    }
  }
}
