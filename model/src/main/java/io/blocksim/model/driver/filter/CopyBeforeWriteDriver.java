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
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.qapi.Args;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The {@code copy-before-write} filter of QEMU 7.2 (block/copy-before-write.c), as backup
 * inserts it above its source (bdrv_cbw_append) or as a scenario adds it with blockdev-add for
 * fleecing (cbw_open): before a write, write-zeroes or discard passes down, the clusters it
 * touches that are still dirty in the copy bitmap are copied to the target.
 *
 * <p>Fault model: that copy may fail (source read or target write). With on-cbw-error
 * break-guest-write (the default, and always under backup) the guest request fails with the
 * copy's error and is not passed down, and the failed clusters stay dirty. With break-snapshot
 * the request passes down, no later request copies anything, and every snapshot-API request
 * fails with EACCES from then on (docs/qemu-behaviour.md §23).
 *
 * <p>The node carries two disabled bitmaps, listed as QEMU lists them: the access bitmap (a copy
 * of the initial copy bitmap: what a fleecing reader may read) and the done bitmap (ranges
 * copied by copy-before-write: a fleecing read of them goes to the target). The snapshot API
 * (read, block status, discard) is what a {@code snapshot-access} node above calls.
 */
public final class CopyBeforeWriteDriver extends ForwardingDriver {
  public static final String TARGET = "target";

  private final BlockCopy blockCopy;
  private final DirtyBitmap doneBitmap;
  private final DirtyBitmap accessBitmap;
  /** The target child's node (s->target). */
  private final BlockNode target;
  /** Whether blockdev-add opened it (cbw_close then frees the block-copy state). */
  private boolean ownsBlockCopy;
  private boolean breakSnapshot;
  /** s->snapshot_error: 0, or the first failed copy's -errno under break-snapshot. */
  private int snapshotError;

  private CopyBeforeWriteDriver(BlockNode node, BlockNode file, BlockNode target,
      BlockCopy blockCopy) {
    super(file);
    this.target = target;
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
   * Opens a filter from blockdev-add's options (cbw_open): the options are parsed first, then
   * the file child, the target child, the bitmap lookup, the block-copy state (its copy bitmap
   * on the file node: the bitmap's dirty granules, or everything), the done and access bitmaps.
   * Unlike bdrv_cbw_append, nothing moves: the node is one more parent of its file.
   */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    // cbw_parse_options visits the whole BlockdevOptionsCbw before any child is opened.
    if (args.get("target") == null) {
      throw args.missing("target");
    }
    Args bitmapArgs = args.optObject("bitmap");
    String bitmapNode = null;
    String bitmapName = null;
    if (bitmapArgs != null) {
      bitmapNode = bitmapArgs.str("node");
      bitmapName = bitmapArgs.str("name");
      bitmapArgs.checkNoExtra();
    }
    String onError = args.optEnum("on-cbw-error", List.of("break-guest-write",
        "break-snapshot"));
    // cbw-timeout bounds how long one copy may take (whole seconds, 0 none); no copy blocksim
    // models takes time that could reach a second (they are synchronous at the data level), so
    // it never fires: a value of it changes nothing blocksim could show.
    args.optUnsigned("cbw-timeout", 32);
    BlockNode file = layer.child(args, "file", true, inherit, created);
    node.setChild(BlockNode.FILE, file);
    BlockNode target = layer.child(args, TARGET, true, inherit, created);
    node.setChild(TARGET, target);
    DirtyBitmap bitmap = null;
    if (bitmapArgs != null) {
      BlockNode owner = layer.graph().find(bitmapNode);
      if (owner == null) {
        throw QmpError.generic("Node '" + bitmapNode + "' not found");
      }
      bitmap = owner.bitmap(bitmapName);
      if (bitmap == null) {
        throw QmpError.generic("Dirty bitmap '" + bitmapName + "' not found");
      }
    }
    if (target.length() != file.length()) {
      throw QmpError.generic("blocksim does not model a copy-before-write target whose size ("
          + target.length() + ") differs from its file's (" + file.length() + ")");
    }
    BlockCopy bcs;
    try {
      bcs = new BlockCopy(layer, file, target, bitmap);
    } catch (IllegalArgumentException e) {
      throw QmpError.generic("Cannot create block-copy-state: Failed to merge bitmap '"
          + bitmapName + "' to internal copy-bitmap: " + e.getMessage());
    }
    CopyBeforeWriteDriver driver = new CopyBeforeWriteDriver(node, file, target, bcs);
    driver.ownsBlockCopy = true;
    driver.breakSnapshot = "break-snapshot".equals(onError);
    node.setDriver(driver);
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
    CopyBeforeWriteDriver driver = new CopyBeforeWriteDriver(filter, source, target, blockCopy);
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
    // bdrv_cbw_drop unrefs the filter: a file child that only the filter held (a
    // blockdev-snapshot-sync overlay appended under it, whose action's reference is gone) is
    // closed with it.
    if (file.parents().isEmpty() && file.users().isEmpty()
        && !layer.graph().isMonitorOwned(file) && file.blockingJobType() == null
        && file.jobChildren().isEmpty() && layer.graph().find(file.name()) == file) {
      layer.release(file);
    }
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

  /** cbw_close: the access and done bitmaps go, and the block-copy state it opened. */
  @Override
  public void close(BlockNode node) {
    node.bitmaps().remove(accessBitmap);
    node.bitmaps().remove(doneBitmap);
    if (ownsBlockCopy) {
      blockCopy.free();
    }
  }

  /** bdrv_get_info reaches a filter's file: query-named-block-nodes shows its cluster size. */
  @Override
  public void addImageInfo(Map<String, Object> image) {
    if (file.driver().clusterSize() > 0) {
      image.put("cluster-size", file.driver().clusterSize());
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
    if (snapshotError != 0) {
      return;
    }
    int result = blockCopy.copyBeforeWrite(offset, length);
    if (result < 0 && !breakSnapshot) {
      throw new HostIoException(-result, "copy-before-write failed");
    }
    if (result < 0) {
      snapshotError = result;
      return;
    }
    long cluster = blockCopy.clusterSize();
    long start = offset / cluster * cluster;
    long end = Math.min((offset + length + cluster - 1) / cluster * cluster, file.length());
    if (end > start) {
      doneBitmap.setDirty(start, end - start);
    }
  }

  // ------------------------------------------------------------------ the snapshot API

  /** One run of cbw_snapshot_read_lock: where it may be read from, and how far. */
  private record Lock(BlockNode child, long bytes) {}

  /**
   * cbw_snapshot_read_lock: null when the range is not accessible (after a break-snapshot
   * failure, or where the access bitmap is clean); else the child to read and how far the
   * answer holds, from 7.2's hbitmap_status on the done bitmap, which answers "not done" for a
   * range that starts done and becomes not done within it (docs/qemu-behaviour.md §23.3).
   */
  private Lock lock(long offset, long bytes) {
    if (snapshotError != 0) {
      return null;
    }
    if (accessBitmap.hbitmap().nextZero(offset, bytes) != -1) {
      return null;
    }
    long[] pnum = new long[1];
    boolean done = hbitmapStatus(doneBitmap, offset, bytes, pnum);
    return new Lock(done ? target : file, pnum[0]);
  }

  /** hbitmap_status as QEMU 7.2 has it (util/hbitmap.c). */
  public static boolean hbitmapStatus(DirtyBitmap bitmap, long start, long count, long[] pnum) {
    long nextDirty = bitmap.hbitmap().nextDirty(start, count);
    if (nextDirty == -1) {
      pnum[0] = count;
      return false;
    }
    if (nextDirty > start) {
      pnum[0] = nextDirty - start;
      return false;
    }
    long nextZero = bitmap.hbitmap().nextZero(start, count);
    if (nextZero == -1) {
      pnum[0] = count;
      return true;
    }
    pnum[0] = nextZero - start;
    return false; // 7.2 says "not done" here; later versions return true.
  }

  /** cbw_co_preadv_snapshot. */
  public void readSnapshot(long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    long done = 0;
    while (done < length) {
      Lock lock = lock(offset + done, length - done);
      if (lock == null) {
        throw new HostIoException(HostIoException.EACCES, "snapshot not accessible");
      }
      BlockIo.read(lock.child(), offset + done, buf, pos + (int) done, (int) lock.bytes());
      done += lock.bytes();
    }
  }

  /**
   * cbw_co_snapshot_block_status: the status of the child the range would be read from, as
   * bdrv_block_status reports it for that child's own layer (through filters; unallocated
   * without a backing file reads as zeroes).
   */
  public BlockStatus snapshotBlockStatus(long offset, long bytes) throws HostIoException {
    Lock lock = lock(offset, bytes);
    if (lock == null) {
      throw new HostIoException(HostIoException.EACCES, "snapshot not accessible");
    }
    BlockNode child = lock.child();
    while (child.driver().isFilter() && child.primaryChild() != null) {
      child = child.primaryChild();
    }
    BlockStatus status = BlockIo.blockStatus(child, offset, lock.bytes());
    long n = Math.min(status.lengthBytes(), lock.bytes());
    if (!status.allocated() && !status.data() && !status.zero() && child.backing() == null) {
      return new BlockStatus(n, false, true, true);
    }
    return new BlockStatus(n, status.data(), status.zero(), status.allocated());
  }

  /**
   * cbw_co_pdiscard_snapshot: the range leaves the access bitmap and the copy bitmap (no read
   * of it is allowed, no guest write copies it any more), then the target discards it.
   */
  public void discardSnapshot(long offset, long bytes) throws HostIoException {
    long granule = accessBitmap.granularityBytes();
    Check.that(offset % granule == 0
        && (bytes % granule == 0 || offset + bytes >= accessBitmap.sizeBytes()),
        "a snapshot discard of %d bytes at %d is not aligned to the %d-byte copy-before-write"
        + " cluster: QEMU 7.2 aborts in hbitmap_reset", bytes, offset, granule);
    accessBitmap.resetDirty(offset, bytes);
    blockCopy.reset(offset, bytes);
    BlockIo.discard(target, offset, bytes);
  }
}
