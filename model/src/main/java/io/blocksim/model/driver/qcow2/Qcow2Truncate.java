package io.blocksim.model.driver.qcow2;

import static io.blocksim.model.driver.qcow2.Qcow2State.ceilDiv;

import io.blocksim.model.driver.qcow2.Qcow2Refcounts.DiscardType;
import io.blocksim.model.port.HostIoException;

/**
 * qcow2_co_truncate (block/qcow2.c) without preallocation: block_resize and commit's growing of
 * its base (docs/qemu-behaviour.md §15).
 */
final class Qcow2Truncate {
  private Qcow2Truncate() {}

  /**
   * Growing makes the L1 table cover the new size exactly; shrinking discards every cluster past
   * the new end (rounded up to a cluster), zeroes the L1 entries past it and frees their L2
   * tables, then cuts the file after the last cluster in use. With zeroNewArea (the backing file
   * is longer than the image was: BDRV_REQ_ZERO_WRITE) the grown area is zeroed. Then the size
   * field of the header is written. Then qcow2_update_options flushes both
   * caches and replaces them.
   * The refcount-table shrink (qcow2_shrink_reftable) reads every refblock and rewrites the
   * table; dropping refblocks that became unused is not modelled.
   */
  static void truncate(Qcow2Image image, long newSize, boolean zeroNewArea)
      throws HostIoException {
    Qcow2State s = image.s;
    s.checkUsable();
    if (newSize % 512 != 0) {
      throw new HostIoException(HostIoException.EINVAL,
          "The new size must be a multiple of 512");
    }
    if (s.hasDataFile && s.header.dataFileIsRaw()) {
      // Measured on qemu-storage-daemon 7.2: block_resize (grow or shrink) of a qcow2 node with
      // a raw external data file dies in bdrv_co_write_req_prepare (docs/qemu-behaviour.md
      // §22.4).
      throw new io.blocksim.model.check.QemuAbort("bdrv_co_write_req_prepare: Assertion"
          + " `child->perm & BLK_PERM_WRITE' failed (qcow2 resize with a raw data file)");
    }
    long oldSize = s.header.size;
    long newL1Size = image.map.sizeToL1(newSize);
    if (newSize < oldSize) {
      long from = ceilDiv(newSize, s.clusterSize) * s.clusterSize;
      // qcow2_co_truncate names the stage that failed, then strerror (error_setg_errno).
      if (from < oldSize) {
        try {
          image.map.discard(from, oldSize - from, DiscardType.ALWAYS, true);
        } catch (HostIoException e) {
          throw stage(e, "Failed to discard cropped clusters");
        }
      }
      try {
        image.map.shrinkL1Table(newL1Size);
      } catch (HostIoException e) {
        throw stage(e, "Failed to reduce the number of L2 tables");
      }
      try {
        s.refcounts.shrinkTable();
      } catch (HostIoException e) {
        throw stage(e, "Failed to discard unused refblocks");
      }
      // The file is cut before the caches reach the disk, as in QEMU.
      long fileLength = s.file.length();
      long last = lastClusterInUse(s, fileLength);
      if ((last + 1) * s.clusterSize < fileLength) {
        try {
          s.file.truncate((last + 1) * s.clusterSize);
        } catch (HostIoException e) {
          // "Failed to truncate the tail of the image": a warning only.
        }
      }
    } else {
      image.map.growL1Table(newL1Size, true);
    }
    if (s.hasDataFile) {
      s.dataFile().truncate(newSize);
    }
    s.header.size = newSize;
    if (zeroNewArea && newSize > oldSize) {
      image.writeZeroes(oldSize, newSize - oldSize, false);
    }
    s.writeSync(Qcow2Header.OFFSET_SIZE, Bytes.ofLong(newSize));
    // "Update cache sizes": qcow2_update_options -> qcow2_update_options_prepare flushes the L2
    // cache, then the refcount cache, and creates new (empty) ones. So a resized image's
    // metadata is on disk, the discards of a shrink included, before anything else happens.
    s.l2Cache.replace();
    s.refcounts.cache.replace();
  }

  private static HostIoException stage(HostIoException e, String what) {
    if (e.errno() <= 0) {
      return e;
    }
    return new HostIoException(e.errno(), what + ": " + HostIoException.strerror(e.errno()));
  }

  /** qcow2_get_last_cluster: the last cluster below the file's end with a refcount, or -1. */
  private static long lastClusterInUse(Qcow2State s, long fileLength) throws HostIoException {
    // size_to_clusters rounds up: a partly written last cluster (a bitmap directory) counts.
    for (long i = ceilDiv(fileLength, s.clusterSize) - 1; i >= 0; i--) {
      if (s.refcounts.getRefcount(i) > 0) {
        return i;
      }
    }
    return -1;
  }
}
