package io.blocksim.model.driver.filter;

import io.blocksim.model.driver.Driver;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.Permissions;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.List;
import java.util.Map;

/**
 * The {@code snapshot-access} driver of QEMU 7.2 (block/snapshot-access.c): a node over a
 * copy-before-write filter that reads the filter's point-in-time snapshot through its snapshot
 * API (cbw_co_preadv_snapshot, cbw_co_snapshot_block_status, cbw_co_pdiscard_snapshot). It is
 * not a filter (QEMU gives it no is_filter), takes no permission on its child and shares all;
 * writes and write-zeroes fail with ENOTSUP, and so does every request when its file is a node
 * without the snapshot API (bdrv_co_preadv_snapshot and friends). A discard reaches the filter
 * only when the node was opened with discard=unmap, as for any node (bdrv_co_pdiscard).
 */
public final class SnapshotAccessDriver implements Driver {
  private final BlockNode file;

  private SnapshotAccessDriver(BlockNode file) {
    this.file = file;
  }

  /** snapshot_access_open: a required {@code file} child, nothing else. */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    BlockNode file = layer.child(args, "file", true, inherit, created);
    if (file.driver() instanceof CopyBeforeWriteDriver && file.parents().isEmpty()
        && file.primaryChild() != null) {
      // The filter's first parent: cbw_child_perm now unshares write on its source, which a
      // writable export's BlockBackend on the source holds (docs/qemu-behaviour.md §23.2).
      BlockNode source = file.primaryChild();
      for (String user : source.users()) {
        if (user.startsWith(Permissions.EXPORT_USER) && user.endsWith(":write")) {
          String name = source.name();
          throw QmpError.generic("Permission conflict on node '" + name + "': permissions"
              + " 'write' are both required by an unnamed block device (uses node '" + name
              + "' as 'root' child) and unshared by node '" + file.name() + "' (uses node '"
              + name + "' as 'file' child).");
        }
      }
    }
    node.setChild(BlockNode.FILE, file);
    node.setDriver(new SnapshotAccessDriver(file));
  }

  @Override
  public String name() {
    return "snapshot-access";
  }

  @Override
  public long length() {
    return file.length();
  }

  private CopyBeforeWriteDriver snapshot() throws HostIoException {
    if (file.driver() instanceof CopyBeforeWriteDriver cbw) {
      return cbw;
    }
    throw new HostIoException(HostIoException.ENOTSUP, "no snapshot API");
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    snapshot().readSnapshot(offset, buf, pos, length);
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    throw new HostIoException(HostIoException.ENOTSUP, "snapshot-access is read-only");
  }

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    throw new HostIoException(HostIoException.ENOTSUP, "snapshot-access is read-only");
  }

  @Override
  public void discard(BlockNode node, long offset, long length) throws HostIoException {
    snapshot().discardSnapshot(offset, length);
  }

  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength)
      throws HostIoException {
    return snapshot().snapshotBlockStatus(offset, maxLength);
  }
}
