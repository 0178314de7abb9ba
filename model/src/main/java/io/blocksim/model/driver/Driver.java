package io.blocksim.model.driver;

import io.blocksim.model.graph.BlockNode;
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

  /** Whether this format can have a backing file (qcow2). */
  default boolean supportsBacking() {
    return false;
  }

  /** Returns the default dirty-bitmap granularity source: the cluster size, or 0 if none. */
  default long clusterSize() {
    return 0;
  }

  /** Releases driver state on blockdev-del; a format writes back what it must. */
  default void close(BlockNode node) throws HostIoException {}
}
