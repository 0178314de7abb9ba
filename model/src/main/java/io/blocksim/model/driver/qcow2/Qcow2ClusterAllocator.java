package io.blocksim.model.driver.qcow2;

import static io.blocksim.model.driver.qcow2.Qcow2Image.L2E_OFFSET_MASK;
import static io.blocksim.model.driver.qcow2.Qcow2Image.OFLAG_COPIED;
import static io.blocksim.model.driver.qcow2.Qcow2Image.OFLAG_ZERO;
import static io.blocksim.model.driver.qcow2.Qcow2State.ceilDiv;

import io.blocksim.model.check.Check;
import io.blocksim.model.driver.qcow2.Qcow2ClusterMap.ClusterType;
import io.blocksim.model.driver.qcow2.Qcow2Refcounts.DiscardType;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.LinkedList;
import java.util.List;

/**
 * Host clusters for guest writes, following the allocation half of block/qcow2-cluster.c:
 * qcow2_alloc_host_offset with handle_copied and handle_alloc finds clusters that can be
 * written in place or allocates new ones and records each allocation as a {@link L2Meta};
 * after the data is written, qcow2_alloc_cluster_link_l2 copies the untouched parts
 * (perform_cow) and points the L2 entries at the new clusters, or qcow2_alloc_cluster_abort
 * frees them after a failure.
 */
final class Qcow2ClusterAllocator {
  static final long REQUEST_MAX_BYTES = (Integer.MAX_VALUE >> 9) << 9;
  private static final long INVALID_OFFSET = -1;

  /** QEMU's QCowL2Meta: one allocation waiting for its L2 update. */
  static final class L2Meta {
    long allocOffset;
    long offset;
    int clusterCount;
    boolean keepOld;
    long cowStartOffset;
    long cowStartBytes;
    long cowEndOffset;
    long cowEndBytes;
    /** Set by handle_alloc_space when the clusters were zero-filled instead of copied. */
    boolean skipCow;
    /** The guest data merge_cow attached, written together with the COW regions. */
    byte[] data;
    int dataOffset;

    /** Whether the allocation has COW regions at all (has_cow in qcow2_co_pwritev_task). */
    boolean hasCow() {
      return cowStartBytes != 0 || cowEndBytes != 0;
    }
  }

  /** The in/out arguments of handle_copied and handle_alloc, then the result of a run. */
  static final class AllocCursor {
    long clusterOffset = INVALID_OFFSET;
    long bytes;
    /** The allocations that still need their L2 update, most recent first. */
    final LinkedList<L2Meta> metas = new LinkedList<>();
  }

  private final Qcow2State s;
  private final Qcow2ClusterMap map;
  private final Qcow2Reader reader;

  Qcow2ClusterAllocator(Qcow2State s, Qcow2ClusterMap map, Qcow2Reader reader) {
    this.s = s;
    this.map = map;
    this.reader = reader;
  }

  /**
   * Finds or allocates host clusters for as much of the range as is contiguous on the host
   * (qcow2_alloc_host_offset). On return the cursor holds the host offset of offset, the byte
   * count, and the allocations that still need their L2 update (most recent first).
   */
  AllocCursor allocHostOffset(long offset, long bytes) throws HostIoException {
    AllocCursor c = new AllocCursor();
    long start = offset;
    long remaining = bytes;
    long hostOffset = INVALID_OFFSET;
    long curBytes = 0;
    try {
      while (true) {
        if (hostOffset == INVALID_OFFSET && c.clusterOffset != INVALID_OFFSET) {
          hostOffset = c.clusterOffset;
        }
        start += curBytes;
        remaining -= curBytes;
        if (c.clusterOffset != INVALID_OFFSET) {
          c.clusterOffset += curBytes;
        }
        if (remaining == 0) {
          break;
        }
        c.bytes = remaining;
        if (handleCopied(start, c)) {
          curBytes = c.bytes;
          continue;
        }
        if (c.bytes == 0) {
          break;
        }
        if (handleAlloc(start, c)) {
          curBytes = c.bytes;
          continue;
        }
        break;
      }
    } catch (HostIoException e) {
      abort(c.metas);
      throw e;
    }
    c.bytes = bytes - remaining;
    c.clusterOffset = hostOffset;
    if (!(c.bytes > 0)) {
      throw Check.failure("allocation at %d made no progress", offset);
    }
    return c;
  }

  /** Takes clusters that can be overwritten in place (handle_copied). */
  private boolean handleCopied(long guestOffset, AllocCursor c) throws HostIoException {
    long clusterSize = s.clusterSize;
    long offsetInCluster = guestOffset & (clusterSize - 1);
    int l2Index = s.sliceIndex(guestOffset);
    long clusters = Math.min(ceilDiv(offsetInCluster + c.bytes, clusterSize),
        s.l2SliceSize - l2Index);
    clusters = Math.min(clusters, REQUEST_MAX_BYTES >>> s.clusterBits);
    int slot = map.clusterTable(guestOffset);
    long clusterOffset;
    try {
      L2Slice slice = s.l2Cache.table(slot);
      long entry = slice.get(l2Index);
      clusterOffset = entry & L2E_OFFSET_MASK;
      if (needsNewAlloc(entry)) {
        return false;
      }
      if ((clusterOffset & (clusterSize - 1)) != 0) {
        throw s.corruption("%s cluster offset %#x unaligned (guest offset: %#x)",
            (entry & OFLAG_ZERO) != 0 ? "Preallocated zero" : "Data", clusterOffset,
            guestOffset);
      }
      if (c.clusterOffset != INVALID_OFFSET && clusterOffset != c.clusterOffset) {
        c.bytes = 0;
        return false;
      }
      int keep = countSingleWriteClusters((int) clusters, slice, l2Index, false);
      c.bytes = Math.min(c.bytes, keep * clusterSize - offsetInCluster);
      calculateL2Meta(clusterOffset, guestOffset, c.bytes, slice, l2Index, c.metas, true);
    } finally {
      s.l2Cache.put(slot);
    }
    c.clusterOffset = clusterOffset + offsetInCluster;
    return true;
  }

  /** Allocates new clusters for the start of the range (handle_alloc). */
  private boolean handleAlloc(long guestOffset, AllocCursor c) throws HostIoException {
    long clusterSize = s.clusterSize;
    long offsetInCluster = guestOffset & (clusterSize - 1);
    int l2Index = s.sliceIndex(guestOffset);
    long clusters = Math.min(ceilDiv(offsetInCluster + c.bytes, clusterSize),
        s.l2SliceSize - l2Index);
    clusters = Math.min(clusters, REQUEST_MAX_BYTES >>> s.clusterBits);
    int slot = map.clusterTable(guestOffset);
    try {
      L2Slice slice = s.l2Cache.table(slot);
      clusters = countSingleWriteClusters((int) clusters, slice, l2Index, true);
      if (!(clusters > 0)) {
        throw Check.failure("handle_alloc found nothing to allocate at %d", guestOffset);
      }
      long allocOffset;
      if (s.hasDataFile) {
        // do_alloc_cluster_offset: data clusters sit at their guest offset, unrefcounted.
        allocOffset = guestOffset & ~(clusterSize - 1);
      } else if (c.clusterOffset == INVALID_OFFSET) {
        allocOffset = s.refcounts.allocClusters(clusters * clusterSize);
      } else {
        allocOffset = c.clusterOffset & ~(clusterSize - 1);
        clusters = s.refcounts.allocClustersAt(allocOffset, clusters);
      }
      if (clusters == 0) {
        c.bytes = 0;
        return false;
      }
      long requested = c.bytes + offsetInCluster;
      long available = clusters << s.clusterBits;
      long nbBytes = Math.min(requested, available);
      c.clusterOffset = allocOffset + offsetInCluster;
      c.bytes = Math.min(c.bytes, nbBytes - offsetInCluster);
      calculateL2Meta(allocOffset, guestOffset, c.bytes, slice, l2Index, c.metas, false);
      return true;
    } finally {
      s.l2Cache.put(slot);
    }
  }

  /** cluster_needs_new_alloc. */
  private boolean needsNewAlloc(long entry) {
    return switch (map.clusterType(entry)) {
      case NORMAL, ZERO_ALLOC -> (entry & OFLAG_COPIED) == 0;
      case UNALLOCATED, COMPRESSED, ZERO_PLAIN -> true;
    };
  }

  /** count_single_write_clusters. */
  private int countSingleWriteClusters(int clusters, L2Slice slice, int l2Index,
      boolean newAlloc) {
    long expected = slice.get(l2Index) & L2E_OFFSET_MASK;
    int i;
    for (i = 0; i < clusters; i++) {
      long entry = slice.get(l2Index + i);
      if (needsNewAlloc(entry) != newAlloc) {
        break;
      }
      if (!newAlloc) {
        if (expected != (entry & L2E_OFFSET_MASK)) {
          break;
        }
        expected += s.clusterSize;
      }
    }
    return i;
  }

  /** Records the COW regions of an allocation (calculate_l2_meta, without subclusters). */
  private void calculateL2Meta(long hostClusterOffset, long guestOffset, long bytes,
      L2Slice slice, int l2Index, LinkedList<L2Meta> metas, boolean keepOld) {
    long clusterSize = s.clusterSize;
    long cowStartTo = guestOffset & (clusterSize - 1);
    long cowEndFrom = cowStartTo + bytes;
    int clusters = (int) ceilDiv(cowEndFrom, clusterSize);
    if (!(clusters <= s.l2SliceSize - l2Index)) {
      throw Check.failure("L2 meta of %d clusters crosses the slice", clusters);
    }
    boolean skipCow = keepOld;
    for (int i = 0; i < clusters && skipCow; i++) {
      if (map.clusterType(slice.get(l2Index + i)) != ClusterType.NORMAL) {
        skipCow = false;
      }
    }
    if (skipCow) {
      return;
    }
    ClusterType firstType = map.clusterType(slice.get(l2Index));
    ClusterType lastType = map.clusterType(slice.get(l2Index + clusters - 1));
    long cowStartFrom = keepOld && firstType == ClusterType.NORMAL ? cowStartTo : 0;
    long cowEndTo = keepOld && lastType == ClusterType.NORMAL ? cowEndFrom
        : ceilDiv(cowEndFrom, clusterSize) * clusterSize;
    L2Meta m = new L2Meta();
    m.allocOffset = hostClusterOffset;
    m.offset = guestOffset & ~(clusterSize - 1);
    m.clusterCount = clusters;
    m.keepOld = keepOld;
    m.cowStartOffset = cowStartFrom;
    m.cowStartBytes = cowStartTo - cowStartFrom;
    m.cowEndOffset = cowEndFrom;
    m.cowEndBytes = cowEndTo - cowEndFrom;
    metas.addFirst(m);
  }

  /** Frees the clusters of allocations that will not be linked (qcow2_alloc_cluster_abort). */
  void abort(LinkedList<L2Meta> metas) {
    for (L2Meta m : metas) {
      if (!m.keepOld && !s.hasDataFile) {
        s.refcounts.freeClusters(m.allocOffset, (long) m.clusterCount << s.clusterBits,
            DiscardType.NEVER);
      }
    }
    metas.clear();
  }

  /** Links every allocation of a finished run, or frees them all after a failure. */
  void linkAll(LinkedList<L2Meta> metas) throws HostIoException {
    while (!metas.isEmpty()) {
      L2Meta m = metas.getFirst();
      try {
        linkL2(m);
      } catch (HostIoException e) {
        abort(metas);
        throw e;
      }
      metas.removeFirst();
    }
  }

  /** Performs COW, then points the L2 entries at the new clusters (link_l2). */
  private void linkL2(L2Meta m) throws HostIoException {
    performCow(m);
    s.l2Cache.setDependency(s.refcounts.cache);
    int slot = map.clusterTable(m.offset);
    int l2Index = s.sliceIndex(m.offset);
    List<Long> oldEntries = new ArrayList<>();
    try {
      s.l2Cache.markDirty(slot);
      L2Slice slice = s.l2Cache.table(slot);
      for (int i = 0; i < m.clusterCount; i++) {
        long hostCluster = m.allocOffset + ((long) i << s.clusterBits);
        long old = slice.get(l2Index + i);
        if (old != 0) {
          oldEntries.add(old);
        }
        slice.set(l2Index + i, hostCluster | OFLAG_COPIED);
      }
    } finally {
      s.l2Cache.put(slot);
    }
    if (!m.keepOld) {
      for (long old : oldEntries) {
        map.freeAnyCluster(old, DiscardType.NEVER);
      }
    }
  }

  /** Copies the untouched parts of new clusters (perform_cow). */
  private void performCow(L2Meta m) throws HostIoException {
    long dataBytes = m.cowEndOffset - (m.cowStartOffset + m.cowStartBytes);
    if (!m.hasCow() || m.skipCow) {
      return;
    }
    int startBytes = (int) m.cowStartBytes;
    int endBytes = (int) m.cowEndBytes;
    byte[] startBuffer = new byte[startBytes];
    byte[] endBuffer = new byte[endBytes];
    boolean mergeReads = startBytes > 0 && endBytes > 0 && dataBytes <= 16384;
    if (mergeReads) {
      byte[] all = new byte[(int) (startBytes + dataBytes + endBytes)];
      cowRead(m.offset + m.cowStartOffset, all);
      System.arraycopy(all, 0, startBuffer, 0, startBytes);
      System.arraycopy(all, all.length - endBytes, endBuffer, 0, endBytes);
    } else {
      cowRead(m.offset + m.cowStartOffset, startBuffer);
      cowRead(m.offset + m.cowEndOffset, endBuffer);
    }
    if (m.data != null) {
      byte[] all = new byte[(int) (startBytes + dataBytes + endBytes)];
      System.arraycopy(startBuffer, 0, all, 0, startBytes);
      System.arraycopy(m.data, m.dataOffset, all, startBytes, (int) dataBytes);
      System.arraycopy(endBuffer, 0, all, (int) (startBytes + dataBytes), endBytes);
      s.raise("write_aio");
      cowWrite(m.allocOffset + m.cowStartOffset, all);
    } else {
      cowWrite(m.allocOffset + m.cowStartOffset, startBuffer);
      cowWrite(m.allocOffset + m.cowEndOffset, endBuffer);
    }
    s.l2Cache.dependOnFlush();
  }

  /** do_perform_cow_read: the image's own view, backing chain included. */
  private void cowRead(long guestOffset, byte[] buffer) throws HostIoException {
    if (buffer.length == 0) {
      return;
    }
    s.raise("cow_read");
    reader.readOwnLayer(guestOffset, buffer, 0, buffer.length);
  }

  /** do_perform_cow_write. */
  private void cowWrite(long hostOffset, byte[] buffer) throws HostIoException {
    if (buffer.length == 0) {
      return;
    }
    s.raise("cow_write");
    s.dataFile().write(hostOffset, buffer, 0, buffer.length);
  }
}
