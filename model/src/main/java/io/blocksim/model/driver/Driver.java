package io.blocksim.model.driver;

import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.port.HostIoException;

/**
 * A block driver: what one node does with the requests that reach it. Requests arrive already
 * tracked by {@link io.blocksim.model.graph.BlockIo}, which does what QEMU's generic block layer does
 * around the driver call (dirty bitmaps, write generation, flush bookkeeping).
 */
public interface Driver {
  /** Returns QEMU's driver name ("qcow2", "raw", "file", "blkdebug", ...). */
  String name();

  /** Returns the node's length in bytes as the guest sees it. */
  long length();

  void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException;

  void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException;

  void writeZeroes(BlockNode node, long offset, long length, int flags) throws HostIoException;

  void discard(BlockNode node, long offset, long length) throws HostIoException;

  /** Writes back the driver's own caches to its children (QEMU's bdrv_co_flush_to_os). */
  default void flushToOs(BlockNode node) throws HostIoException {}

  /** Forces written data to stable storage (bdrv_co_flush_to_disk); only protocol drivers. */
  default void flushToDisk(BlockNode node) throws HostIoException {}

  /** Returns the allocation status of the run starting at offset (this layer only). */
  BlockStatus blockStatus(BlockNode node, long offset, long maxLength) throws HostIoException;

  /** Receives a blkdebug event raised on this node by its parent's driver. */
  default void debugEvent(BlockNode node, String event) {}

  /** Whether the driver passes requests straight to one child (filters). */
  default boolean isFilter() {
    return false;
  }

  /**
   * The host file on which this node holds image-lock bytes (file-posix with locking on or
   * auto: raw_handle_perm_lock), or null: see {@link io.blocksim.model.graph.FileLocks}.
   */
  default String lockedFile() {
    return null;
  }

  /** Whether this format can have a backing file (qcow2). */
  default boolean supportsBacking() {
    return false;
  }

  /** Returns the default dirty-bitmap granularity source: the cluster size, or 0 if none. */
  default long clusterSize() {
    return 0;
  }

  /**
   * The driver's part of bdrv_reopen_prepare when the node switches to {@code readOnly}; throws
   * with QEMU's message to refuse. Nothing has changed yet when it throws.
   */
  default void reopenPrepare(BlockNode node, boolean readOnly) throws HostIoException {}

  /** bdrv_reopen_commit and bdrv_reopen_commit_post: the node now is {@code readOnly}. */
  default void reopenCommit(BlockNode node, boolean readOnly) {}

  /**
   * Resizes the node (the driver's bdrv_co_truncate); the generic layer has checked the request
   * and resizes the bitmaps afterwards. Throws with QEMU's message.
   */
  default void truncate(BlockNode node, long length) throws HostIoException {
    if (isFilter() && node.primaryChild() != null) {
      io.blocksim.model.graph.BlockIo.truncate(node.primaryChild(), length);
      return;
    }
    throw new HostIoException(HostIoException.ENOTSUP,
        "Image format driver does not support resize");
  }

  /** Releases driver state on blockdev-del; a format writes back what it must. */
  default void close(BlockNode node) throws HostIoException {}

  /** Returns the host file name of a protocol node ({@code file}), null for the others. */
  default String filename() {
    return null;
  }

  /**
   * Returns what bdrv_get_allocated_file_size reports: a filter's child's, the sum over a format
   * node's storage children ({@code file}, {@code data-file}); null where QEMU's driver has no
   * such callback (blkdebug, null-co) and nothing below answers.
   */
  default Long allocatedFileSize(BlockNode node) {
    if (isFilter()) {
      BlockNode child = node.primaryChild();
      return child == null ? null : child.driver().allocatedFileSize(child);
    }
    BlockNode file = node.child(BlockNode.FILE);
    Long size = file == null ? null : file.driver().allocatedFileSize(file);
    BlockNode dataFile = node.child(Qcow2Driver.DATA_FILE);
    Long dataSize = dataFile == null ? null : dataFile.driver().allocatedFileSize(dataFile);
    if (size != null && dataSize != null) {
      size += dataSize;
    }
    return size;
  }

  /** Adds the driver's members of QEMU's ImageInfo (cluster size, format-specific...). */
  default void addImageInfo(java.util.Map<String, Object> image) {}

  /** Returns the host file of a protocol node ({@code file}) for a direct peek, else null. */
  default io.blocksim.model.port.HostFile hostFile() {
    return null;
  }
}
