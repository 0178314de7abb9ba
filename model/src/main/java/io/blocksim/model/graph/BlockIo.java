package io.blocksim.model.graph;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.Map;

/**
 * The generic block layer around every driver call (QEMU's block/io.c): bounds checks, the
 * tracked-write completion that dirties a node's enabled bitmaps and bumps its write generation,
 * and the flush algorithm with its blkdebug events.
 *
 * <p>Requests are synchronous at the data level; callers that model time schedule their
 * completion after the latency the host port reports.
 */
public final class BlockIo {
  private BlockIo() {}

  public static void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    checkRequest(node, offset, length);
    if (length == 0) {
      return;
    }
    node.driver().read(node, offset, buf, pos, length);
  }

  /** Returns a fresh buffer with that range. */
  public static byte[] read(BlockNode node, long offset, int length) throws HostIoException {
    byte[] buf = new byte[length];
    read(node, offset, buf, 0, length);
    return buf;
  }

  public static void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    if (RequestFlags.has(flags, RequestFlags.WRITE_UNCHANGED)) {
      WriteUnchangedCheck.Snapshot snapshot = WriteUnchangedCheck.before(node);
      trackedWrite(node, offset, buf, pos, length, flags);
      WriteUnchangedCheck.after(snapshot, offset, length);
    } else {
      trackedWrite(node, offset, buf, pos, length, flags);
    }
  }

  private static void trackedWrite(BlockNode node, long offset, byte[] buf, int pos, int length,
      int flags) throws HostIoException {
    checkRequest(node, offset, length);
    prepareWrite(node, flags);
    if (RequestFlags.has(flags, RequestFlags.COPY_ON_READ_POPULATE)) {
      // Copy-on-read writes data the guest already sees: QEMU issues it below the tracked-write
      // completion, so no bitmap is dirtied and the write generation does not move.
      node.driver().write(node, offset, buf, pos, length, flags);
      return;
    }
    try {
      node.driver().write(node, offset, buf, pos, length, flags & ~RequestFlags.FUA);
      emulateFua(node, flags);
    } finally {
      finishWrite(node, offset, length);
    }
  }

  /**
   * A zero write a parent issues to a child (bdrv_co_pwrite_zeroes): MAY_UNMAP is dropped when
   * the node written was opened without discard=unmap.
   */
  public static void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    if (!node.discardUnmap()) {
      flags &= ~RequestFlags.MAY_UNMAP;
    }
    blkWriteZeroes(node, offset, length, flags);
  }

  /**
   * A zero write a BlockBackend issues to its root node (blk_co_pwrite_zeroes goes to
   * bdrv_co_pwritev_part directly): MAY_UNMAP is kept whatever the root's discard option; only
   * the root's driver passing it to a child drops it there ({@link #writeZeroes}).
   */
  public static void blkWriteZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    if (RequestFlags.has(flags, RequestFlags.WRITE_UNCHANGED)) {
      WriteUnchangedCheck.Snapshot snapshot = WriteUnchangedCheck.before(node);
      trackedWriteZeroes(node, offset, length, flags);
      WriteUnchangedCheck.after(snapshot, offset, length);
    } else {
      trackedWriteZeroes(node, offset, length, flags);
    }
  }

  private static void trackedWriteZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    checkRequest(node, offset, length);
    prepareWrite(node, flags);
    if (RequestFlags.has(flags, RequestFlags.COPY_ON_READ_POPULATE)) {
      node.driver().writeZeroes(node, offset, length, flags);
      return;
    }
    try {
      node.driver().writeZeroes(node, offset, length, flags & ~RequestFlags.FUA);
      emulateFua(node, flags);
    } finally {
      finishWrite(node, offset, length);
    }
  }

  /** Discards; a node opened without discard=unmap ignores it entirely, as QEMU does. */
  public static void discard(BlockNode node, long offset, long length) throws HostIoException {
    checkRequest(node, offset, length);
    if (!node.discardUnmap() || length == 0) {
      return;
    }
    prepareWrite(node, 0);
    try {
      node.driver().discard(node, offset, length);
    } finally {
      finishWrite(node, offset, length);
    }
  }

  /**
   * Flushes the node (bdrv_co_flush): the driver writes back its caches (blkdebug event {@code
   * flush_to_os} on the primary child), then, only if the node was written since its last
   * successful flush, forces them down ({@code flush_to_disk}); then the children the node holds
   * write permission on are flushed ({@link #holdsWrite}).
   */
  public static void flush(BlockNode node) throws HostIoException {
    if (node.readOnly()) {
      return;
    }
    long generation = node.writeGeneration();
    BlockNode primary = node.primaryChild();
    if (node.driver().name().equals("copy-before-write")) {
      // cbw_co_flush replaces the generic flush: the file only, no blkdebug event, no target.
      if (primary != null) {
        flush(primary);
      }
      node.setFlushedGeneration(generation);
      return;
    }
    raiseEvent(primary, "flush_to_os");
    node.driver().flushToOs(node);
    if (node.flushedGeneration() != generation) {
      raiseEvent(primary, "flush_to_disk");
      node.driver().flushToDisk(node);
    }
    HostIoException first = null;
    for (Map.Entry<String, BlockNode> held : new ArrayList<>(node.children().entrySet())) {
      if (!holdsWrite(node, held.getKey())) {
        continue;
      }
      BlockNode child = held.getValue();
      try {
        flush(child);
      } catch (HostIoException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
    node.setFlushedGeneration(generation);
  }

  /**
   * Whether a (writable) node holds write permission on its child in that role, which decides
   * whether a flush reaches the child: never on a backing file (bdrv_default_perms_for_cow asks
   * for consistent read only), never below commit_top (bdrv_commit_top_child_perm asks for
   * nothing), never below snapshot-access (snapshot_access_child_perm asks for nothing); a
   * format's file and data file and a filter's child do. (A copy-before-write filter flushes
   * its file only: see {@link #flush}.)
   */
  public static boolean holdsWrite(BlockNode node, String role) {
    String driver = node.driver().name();
    if (driver.equals("commit_top") || driver.equals("snapshot-access")) {
      return false;
    }
    return !role.equals(BlockNode.BACKING) || node.driver().isFilter();
  }

  /**
   * Resizes the node (bdrv_co_truncate): a read-only node refuses ("Image is read-only"); the
   * driver resizes, then the node's bitmaps follow the new length rounded up to a sector
   * (bdrv_co_write_req_finish with a truncate request: bdrv_dirty_bitmap_truncate).
   */
  public static void truncate(BlockNode node, long length) throws HostIoException {
    if (length < 0) {
      throw new HostIoException(HostIoException.EINVAL, "Invalid length");
    }
    if (node.readOnly()) {
      throw new HostIoException(HostIoException.EACCES, "Image is read-only");
    }
    node.driver().truncate(node, length);
    node.bumpWriteGeneration();
    long bitmapLength = roundUpToSector(length);
    for (DirtyBitmap bitmap : node.bitmaps()) {
      bitmap.truncate(bitmapLength);
    }
  }

  private static long roundUpToSector(long bytes) {
    return (bytes + 511) & ~511L;
  }

  /** Raises a blkdebug event on the node (nothing happens unless it is a blkdebug node). */
  public static void raiseEvent(BlockNode node, String event) {
    if (node != null) {
      node.driver().debugEvent(node, event);
    }
  }

  /** Returns this layer's status of the run at offset, clipped to the node's length. */
  public static BlockStatus blockStatus(BlockNode node, long offset, long maxLength)
      throws HostIoException {
    long clipped = Math.min(maxLength, node.length() - offset);
    if (clipped <= 0) {
      return BlockStatus.zero(Math.max(1, maxLength));
    }
    return node.driver().blockStatus(node, offset, clipped);
  }

  /**
   * Returns the status of the whole backing chain at offset (bdrv_block_status_above with no
   * base): a run is zero if every layer down to the first allocating one says so, and an
   * unallocated run of the bottom layer reads as zeroes.
   */
  public static BlockStatus blockStatusAbove(BlockNode node, long offset, long maxLength)
      throws HostIoException {
    BlockNode layer = node;
    long length = maxLength;
    while (true) {
      BlockStatus status = blockStatus(layer, offset, length);
      length = Math.min(length, status.lengthBytes());
      if (status.allocated() || status.data() || status.zero()) {
        return new BlockStatus(length, status.data(), status.zero(), true);
      }
      BlockNode below = cowChild(layer);
      if (below == null && layer.driver().name().equals("snapshot-access")) {
        // bdrv_co_block_status adds BDRV_BLOCK_ZERO to an unallocated run only for a driver
        // that supports backing files: snapshot-access passes the source's "unallocated here"
        // (its data is in the source's backing file) on as neither data nor zero, so an NBD
        // read reads it.
        return new BlockStatus(length, false, false, false);
      }
      if (below == null || offset >= below.length()) {
        return new BlockStatus(length, false, true, false);
      }
      layer = below;
    }
  }

  /** Returns the node a layer falls through to: its backing file, or a filter's child. */
  public static BlockNode cowChild(BlockNode node) {
    if (node.driver().isFilter()) {
      return node.primaryChild();
    }
    return node.backing();
  }

  /** Returns the named bitmap size rule: bitmaps cover the node length. */
  public static void setDirty(BlockNode node, long offset, long length) {
    for (DirtyBitmap bitmap : node.bitmaps()) {
      if (bitmap.enabled()) {
        bitmap.setDirty(offset, length);
      }
    }
  }

  private static void prepareWrite(BlockNode node, int flags) throws HostIoException {
    if (node.readOnly()) {
      throw new HostIoException(HostIoException.EPERM, "node is read-only");
    }
    for (DirtyBitmap bitmap : node.bitmaps()) {
      if (bitmap.readonly()) {
        throw new HostIoException(HostIoException.EPERM, "bitmap is read-only");
      }
    }
  }

  /**
   * A FUA request is completed by a flush of the node it was sent to, before the request's own
   * completion bumps the write generation: a node written only by that request is not yet
   * "written since its last flush", so this flush raises no {@code flush_to_disk} on it (its
   * children, whose writes have completed, are flushed down). See {@link RequestFlags#FUA}.
   */
  private static void emulateFua(BlockNode node, int flags) throws HostIoException {
    if (RequestFlags.has(flags, RequestFlags.FUA)) {
      flush(node);
    }
  }

  private static void finishWrite(BlockNode node, long offset, long length) {
    node.bumpWriteGeneration();
    // A write past the end grows the node (a protocol node's file): total_sectors and every
    // bitmap follow the new end, rounded up to a sector, before the range is dirtied.
    long end = roundUpToSector(offset + length);
    for (DirtyBitmap bitmap : node.bitmaps()) {
      if (bitmap.sizeBytes() < end) {
        bitmap.truncate(end);
      }
    }
    if (length > 0) {
      setDirty(node, offset, length);
    }
  }

  private static void checkRequest(BlockNode node, long offset, long length)
      throws HostIoException {
    if (offset < 0 || length < 0 || offset > Long.MAX_VALUE - length) {
      throw new HostIoException(HostIoException.EIO, "request out of range");
    }
  }

  /** One run of bdrv_is_allocated_above: its length and whether some layer allocates it. */
  public record Run(long length, boolean allocated) {}

  /**
   * bdrv_is_allocated_above(top, base, include_base=true): whether a layer from top down to base
   * (inclusive) allocates the run at offset, and how far that answer holds (at most length).
   */
  public static Run allocatedAbove(BlockNode top, BlockNode base, long offset, long length)
      throws HostIoException {
    long n = length;
    for (BlockNode layer = top; layer != null; layer = cowChild(layer)) {
      if (offset >= layer.length()) {
        // bdrv_co_common_block_status_above: a layer below the top that the run lies past the
        // end of answers *pnum == 0, and "any zeroes that we synthesize beyond EOF behave as if
        // they were allocated at this layer" (BDRV_BLOCK_ZERO | BDRV_BLOCK_ALLOCATED for the
        // whole run). Past the top's own end nothing is allocated.
        // docs/qemu-behaviour.md §24.8.
        return new Run(n, layer != top);
      }
      BlockStatus status = BlockIo.blockStatus(layer, offset, n);
      n = Math.max(1, Math.min(n, status.lengthBytes()));
      if (status.allocated()) {
        return new Run(n, true);
      }
      if (layer == base) {
        break;
      }
    }
    return new Run(n, false);
  }
}
