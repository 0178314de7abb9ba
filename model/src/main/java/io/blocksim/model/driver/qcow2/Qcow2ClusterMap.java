package io.blocksim.model.driver.qcow2;

import static io.blocksim.model.driver.qcow2.Qcow2Image.L1E_OFFSET_MASK;
import static io.blocksim.model.driver.qcow2.Qcow2Image.L2E_OFFSET_MASK;
import static io.blocksim.model.driver.qcow2.Qcow2Image.MAX_L1_SIZE_BYTES;
import static io.blocksim.model.driver.qcow2.Qcow2Image.OFLAG_COMPRESSED;
import static io.blocksim.model.driver.qcow2.Qcow2Image.OFLAG_COPIED;
import static io.blocksim.model.driver.qcow2.Qcow2Image.OFLAG_ZERO;
import static io.blocksim.model.driver.qcow2.Qcow2State.ceilDiv;

import io.blocksim.model.check.Check;
import io.blocksim.model.driver.qcow2.Qcow2Refcounts.DiscardType;
import io.blocksim.model.port.HostIoException;
import java.util.Arrays;

/**
 * The guest-to-host mapping of one image: the L1 table and the L2 tables behind the L2 cache,
 * following the lookup and table half of block/qcow2-cluster.c (qcow2_get_host_offset,
 * l2_load, get_cluster_table, l2_allocate, qcow2_grow_l1_table) and its metadata-only updates
 * (qcow2_cluster_discard, qcow2_subcluster_zeroize). Allocating clusters for guest data is
 * {@link Qcow2ClusterAllocator}'s part of the same file.
 */
final class Qcow2ClusterMap {
  /** The cluster types of qcow2_get_cluster_type (no extended L2, so subcluster = cluster). */
  enum ClusterType { UNALLOCATED, NORMAL, COMPRESSED, ZERO_PLAIN, ZERO_ALLOC }

  /** Result of qcow2_get_host_offset: a run of one type, contiguous on the host. */
  record Mapping(long bytes, long hostOffset, ClusterType type) {}

  private final Qcow2State s;
  private long[] l1Table;

  Qcow2ClusterMap(Qcow2State s) {
    this.s = s;
  }

  /** Reads the active L1 table from the file (the L1 part of qcow2_do_open). */
  void loadL1Table() throws HostIoException {
    Qcow2Header h = s.header;
    l1Table = new long[h.l1Size];
    if (h.l1Size > 0) {
      byte[] raw = new byte[h.l1Size * 8];
      s.file.read(h.l1TableOffset, raw, 0, raw.length);
      Bytes.getLongs(raw, l1Table, h.l1Size);
    }
  }

  /** Number of L1 entries held in memory. */
  int l1Entries() {
    return l1Table.length;
  }

  // ---------------------------------------------------------------- lookup

  /**
   * Maps a guest range to the longest run of one cluster type, contiguous on the host, inside
   * one L2 slice (qcow2_get_host_offset).
   */
  Mapping hostOffset(long offset, long bytes) throws HostIoException {
    long clusterSize = s.clusterSize;
    long offsetInCluster = offset & (clusterSize - 1);
    long bytesNeeded = bytes + offsetInCluster;
    long bytesAvailable = (long) (s.l2SliceSize - s.sliceIndex(offset)) << s.clusterBits;
    bytesNeeded = Math.min(bytesNeeded, bytesAvailable);
    long l1Index = offset >>> (s.l2Bits + s.clusterBits);
    long l2Offset = l1Index < l1Table.length ? l1Table[(int) l1Index] & L1E_OFFSET_MASK : 0;
    ClusterType type = ClusterType.UNALLOCATED;
    long host = 0;
    if (l2Offset != 0) {
      if ((l2Offset & (clusterSize - 1)) != 0) {
        throw s.corruption("L2 table offset %#x unaligned (L1 index: %#x)", l2Offset, l1Index);
      }
      int slot = loadL2(offset, l2Offset);
      try {
        L2Slice slice = s.l2Cache.table(slot);
        int l2Index = s.sliceIndex(offset);
        long entry = slice.get(l2Index);
        type = clusterType(entry);
        if (s.header.version < 3
            && (type == ClusterType.ZERO_PLAIN || type == ClusterType.ZERO_ALLOC)) {
          throw s.corruption("Zero cluster entry found in pre-v3 image (L2 offset: %#x, "
              + "L2 index: %#x)", l2Offset, l2Index);
        }
        if (type == ClusterType.COMPRESSED) {
          if (s.hasDataFile) {
            throw s.corruption("Compressed cluster entry found in image with external data "
                + "file (L2 offset: %#x, L2 index: %#x)", l2Offset, l2Index);
          }
          host = entry;
        } else if (type == ClusterType.NORMAL || type == ClusterType.ZERO_ALLOC) {
          long cluster = entry & L2E_OFFSET_MASK;
          if ((cluster & (clusterSize - 1)) != 0) {
            throw s.corruption("Cluster allocation offset %#x unaligned (L2 offset: %#x, "
                + "L2 index: %#x)", cluster, l2Offset, l2Index);
          }
          host = cluster + offsetInCluster;
          if (s.hasDataFile && host != offset) {
            throw s.corruption("External data file host cluster offset %#x does not match "
                + "guest cluster offset: %#x, L2 index: %#x)", cluster,
                offset - offsetInCluster, l2Index);
          }
        }
        int clusters = (int) ceilDiv(bytesNeeded, clusterSize);
        bytesAvailable =
            (long) countContiguousClusters(clusters, slice, l2Index) << s.clusterBits;
      } finally {
        s.l2Cache.put(slot);
      }
    }
    bytesAvailable = Math.min(bytesAvailable, bytesNeeded);
    return new Mapping(bytesAvailable - offsetInCluster, host, type);
  }

  /** count_contiguous_subclusters without subclusters. */
  private int countContiguousClusters(int clusters, L2Slice slice, int l2Index) {
    long first = slice.get(l2Index);
    ClusterType expectedType = clusterType(first);
    if (expectedType == ClusterType.COMPRESSED) {
      return 1;
    }
    boolean checkOffset = expectedType == ClusterType.NORMAL
        || expectedType == ClusterType.ZERO_ALLOC;
    long expectedOffset = first & L2E_OFFSET_MASK;
    int count = 1;
    for (int i = 1; i < clusters; i++) {
      long entry = slice.get(l2Index + i);
      if (clusterType(entry) != expectedType) {
        break;
      }
      if (checkOffset) {
        expectedOffset += s.clusterSize;
        if (expectedOffset != (entry & L2E_OFFSET_MASK)) {
          break;
        }
      }
      count++;
    }
    return count;
  }

  /** qcow2_get_cluster_type. */
  ClusterType clusterType(long entry) {
    if ((entry & OFLAG_COMPRESSED) != 0) {
      return ClusterType.COMPRESSED;
    }
    if ((entry & OFLAG_ZERO) != 0) {
      return (entry & L2E_OFFSET_MASK) != 0 ? ClusterType.ZERO_ALLOC : ClusterType.ZERO_PLAIN;
    }
    if ((entry & L2E_OFFSET_MASK) == 0) {
      // Offset 0 is a valid data file offset; clusters there always have refcount 1, so the
      // COPIED flag tells them from unallocated ones.
      return s.hasDataFile && (entry & OFLAG_COPIED) != 0 ? ClusterType.NORMAL
          : ClusterType.UNALLOCATED;
    }
    return ClusterType.NORMAL;
  }

  private static boolean isAllocated(ClusterType t) {
    return t == ClusterType.COMPRESSED || t == ClusterType.NORMAL || t == ClusterType.ZERO_ALLOC;
  }

  /** Loads the L2 slice covering offset into the cache (l2_load). */
  private int loadL2(long offset, long l2Offset) throws HostIoException {
    int l2Index = (int) ((offset >>> s.clusterBits) & (s.l2Size - 1));
    long startOfSlice = 8L * (l2Index - s.sliceIndex(offset));
    return s.l2Cache.get(l2Offset + startOfSlice);
  }

  // ---------------------------------------------------------------- L1 and L2 tables

  /**
   * Returns the cache slot of the L2 slice for offset, allocating its table if needed
   * (get_cluster_table).
   */
  int clusterTable(long offset) throws HostIoException {
    long l1Index = offset >>> (s.l2Bits + s.clusterBits);
    if (l1Index >= l1Table.length) {
      growL1Table(l1Index + 1, false);
    }
    long l2Offset = l1Table[(int) l1Index] & L1E_OFFSET_MASK;
    if ((l2Offset & (s.clusterSize - 1)) != 0) {
      throw s.corruption("L2 table offset %#x unaligned (L1 index: %#x)", l2Offset, l1Index);
    }
    if ((l1Table[(int) l1Index] & OFLAG_COPIED) == 0) {
      allocateL2((int) l1Index);
      if (l2Offset != 0) {
        s.refcounts.freeClusters(l2Offset, s.clusterSize, DiscardType.OTHER);
      }
      l2Offset = l1Table[(int) l1Index] & L1E_OFFSET_MASK;
    }
    return loadL2(offset, l2Offset);
  }

  /** Allocates and writes a new L2 table, then points the L1 entry at it (l2_allocate). */
  private void allocateL2(int l1Index) throws HostIoException {
    Qcow2Cache<L2Slice> l2Cache = s.l2Cache;
    long oldEntry = l1Table[l1Index];
    long l2Offset = s.refcounts.allocClusters(s.clusterSize);
    if (l2Offset == 0) {
      throw s.corruption("Preventing invalid allocation of L2 table at offset 0");
    }
    int sliceBytes = s.l2SliceSize * 8;
    int slices = (int) (s.clusterSize / sliceBytes);
    try {
      s.refcounts.cache.flush();
      for (int i = 0; i < slices; i++) {
        int slot = l2Cache.getEmpty(l2Offset + (long) i * sliceBytes);
        try {
          long oldL2 = oldEntry & L1E_OFFSET_MASK;
          if (oldL2 != 0) {
            s.raise("l2_alloc_cow_read");
            int oldSlot = l2Cache.get(oldL2 + (long) i * sliceBytes);
            l2Cache.setTable(slot, l2Cache.table(oldSlot).copy());
            l2Cache.put(oldSlot);
          }
          s.raise("l2_alloc_write");
          l2Cache.markDirty(slot);
        } finally {
          l2Cache.put(slot);
        }
      }
      l2Cache.flush();
      l1Table[l1Index] = l2Offset | OFLAG_COPIED;
      writeL1Entry(l1Index);
    } catch (HostIoException e) {
      l1Table[l1Index] = oldEntry;
      s.refcounts.freeClusters(l2Offset, s.clusterSize, DiscardType.ALWAYS);
      throw e;
    }
  }

  /** Writes one L1 entry and flushes (qcow2_write_l1_entry with byte request alignment). */
  private void writeL1Entry(int l1Index) throws HostIoException {
    s.raise("l1_update");
    s.writeSync(s.header.l1TableOffset + 8L * l1Index, Bytes.ofLong(l1Table[l1Index]));
  }

  /** Moves the L1 table to a larger new place (qcow2_grow_l1_table). */
  void growL1Table(long minSize, boolean exactSize) throws HostIoException {
    if (minSize <= l1Table.length) {
      return;
    }
    if (minSize > Integer.MAX_VALUE / 8) {
      throw new HostIoException(HostIoException.EFBIG, "L1 table too large");
    }
    long newSize;
    if (exactSize) {
      newSize = minSize;
    } else {
      newSize = Math.max(l1Table.length, 1);
      while (minSize > newSize) {
        newSize = ceilDiv(newSize * 3, 2);
      }
    }
    if (newSize > MAX_L1_SIZE_BYTES / 8) {
      throw new HostIoException(HostIoException.EFBIG, "L1 table too large");
    }
    long[] newTable = Arrays.copyOf(l1Table, (int) newSize);
    s.raise("l1_grow_alloc_table");
    long newOffset = s.refcounts.allocClusters(newSize * 8);
    try {
      s.refcounts.cache.flush();
      byte[] raw = new byte[(int) newSize * 8];
      for (int i = 0; i < l1Table.length; i++) {
        Bytes.putLong(raw, i * 8, newTable[i]);
      }
      s.raise("l1_grow_write_table");
      s.writeSync(newOffset, raw);
      byte[] fields = new byte[12];
      Bytes.putInt(fields, 0, (int) newSize);
      Bytes.putLong(fields, 4, newOffset);
      s.raise("l1_grow_activate_table");
      s.writeSync(Qcow2Header.OFFSET_L1_SIZE, fields);
    } catch (HostIoException e) {
      s.refcounts.freeClusters(newOffset, newSize * 8, DiscardType.OTHER);
      throw e;
    }
    long oldOffset = s.header.l1TableOffset;
    long oldSize = l1Table.length;
    s.header.l1TableOffset = newOffset;
    s.header.l1Size = (int) newSize;
    l1Table = newTable;
    s.refcounts.freeClusters(oldOffset, oldSize * 8, DiscardType.OTHER);
  }

  /**
   * qcow2_shrink_l1_table: zeroes the entries from newL1Size on (on disk first, then flushes the
   * file) and frees the L2 tables they pointed to; the table keeps its size.
   */
  void shrinkL1Table(long newL1Size) throws HostIoException {
    if (newL1Size >= l1Table.length) {
      return;
    }
    int from = (int) newL1Size;
    s.raise("l1_shrink_write_table");
    try {
      s.writeSync(s.header.l1TableOffset + 8L * from, new byte[(l1Table.length - from) * 8]);
    } catch (HostIoException e) {
      Arrays.fill(l1Table, from, l1Table.length, 0L);
      throw e;
    }
    s.raise("l1_shrink_free_l2_clusters");
    for (int i = l1Table.length - 1; i >= from; i--) {
      long l2Offset = l1Table[i] & L1E_OFFSET_MASK;
      if (l2Offset != 0) {
        s.refcounts.freeClusters(l2Offset, s.clusterSize, DiscardType.ALWAYS);
        l1Table[i] = 0;
      }
    }
  }

  /** The L1 entries a disk of size bytes needs (size_to_l1). */
  long sizeToL1(long size) {
    int shift = s.clusterBits + s.l2Bits;
    return (size + (1L << shift) - 1) >>> shift;
  }

  // ---------------------------------------------------------------- freeing

  /**
   * Drops the reference an L2 entry held (qcow2_free_any_cluster, block/qcow2-refcount.c): it
   * needs the cluster type, which is this class's, and the data file, so it lives here.
   */
  void freeAnyCluster(long entry, DiscardType type) {
    ClusterType clusterType = clusterType(entry);
    if (s.hasDataFile) {
      // qcow2_free_any_cluster: nothing is refcounted; a passed-through discard reaches the
      // data file at once, its result ignored (bdrv_pdiscard).
      if (s.refcounts.passesDiscard(type)
          && (clusterType == ClusterType.NORMAL || clusterType == ClusterType.ZERO_ALLOC)
          && s.dataFileIfOpen() != null) {
        try {
          s.dataFileIfOpen().discard(entry & L2E_OFFSET_MASK, s.clusterSize);
        } catch (HostIoException e) {
          // ignored, as QEMU ignores it
        }
      }
      return;
    }
    switch (clusterType) {
      case COMPRESSED -> {
        int csizeShift = 62 - (s.clusterBits - 8);
        long coffset = entry & ((1L << csizeShift) - 1);
        long sectors = ((entry >>> csizeShift) & ((1L << (s.clusterBits - 8)) - 1)) + 1;
        s.refcounts.freeClusters(coffset, sectors * 512 - (coffset & 511), type);
      }
      case NORMAL, ZERO_ALLOC -> {
        long offset = entry & L2E_OFFSET_MASK;
        if ((offset & (s.clusterSize - 1)) == 0) {
          s.refcounts.freeClusters(offset, s.clusterSize, type);
        }
      }
      case ZERO_PLAIN, UNALLOCATED -> { }
      default -> throw Check.unreachable("cluster type of %x", entry);
    }
  }

  // ---------------------------------------------------------------- zeroes and discard

  /** Marks clusters as zero (qcow2_subcluster_zeroize); false means ENOTSUP. */
  boolean zeroize(long offset, long bytes, boolean mayUnmap) throws HostIoException {
    if (s.header.version < 3) {
      if (s.backing == null) {
        discard(offset, bytes, DiscardType.REQUEST, false);
        return true;
      }
      return false;
    }
    if (s.header.dataFileIsRaw() && s.hasDataFile) {
      // Keep the raw data file in sync: zero it first (qcow2_subcluster_zeroize).
      s.dataFile().writeZeroes(offset, bytes);
    }
    long end = offset + bytes;
    if (!((offset & (s.clusterSize - 1)) == 0)) {
      throw Check.failure("zeroize offset %d unaligned", offset);
    }
    if (!((end & (s.clusterSize - 1)) == 0 || end >= s.header.size)) {
      throw Check.failure("zeroize end %d unaligned", end);
    }
    long clusters = ceilDiv(end - offset, s.clusterSize);
    s.refcounts.cacheDiscards = true;
    boolean ok = false;
    try {
      while (clusters > 0) {
        long cleared = zeroInL2Slice(offset, clusters, mayUnmap);
        clusters -= cleared;
        offset += cleared * s.clusterSize;
      }
      ok = true;
    } finally {
      s.refcounts.cacheDiscards = false;
      s.refcounts.processDiscards(ok);
    }
    return true;
  }

  /** zero_in_l2_slice. */
  private long zeroInL2Slice(long offset, long clusters, boolean mayUnmap)
      throws HostIoException {
    int slot = clusterTable(offset);
    int l2Index = s.sliceIndex(offset);
    clusters = Math.min(clusters, s.l2SliceSize - l2Index);
    try {
      L2Slice slice = s.l2Cache.table(slot);
      for (int i = 0; i < clusters; i++) {
        long old = slice.get(l2Index + i);
        ClusterType type = clusterType(old);
        boolean unmap = type == ClusterType.COMPRESSED || (mayUnmap && isAllocated(type));
        long updated = (unmap ? 0 : old) | OFLAG_ZERO;
        if (old == updated) {
          continue;
        }
        s.l2Cache.markDirty(slot);
        slice.set(l2Index + i, updated);
        if (unmap) {
          freeAnyCluster(old, DiscardType.REQUEST);
        }
      }
    } finally {
      s.l2Cache.put(slot);
    }
    return clusters;
  }

  /** Discards whole clusters (qcow2_cluster_discard). */
  void discard(long offset, long bytes, DiscardType type, boolean fullDiscard)
      throws HostIoException {
    long clusters = ceilDiv(bytes, s.clusterSize);
    s.refcounts.cacheDiscards = true;
    boolean ok = false;
    try {
      while (clusters > 0) {
        long cleared = discardInL2Slice(offset, clusters, type, fullDiscard);
        clusters -= cleared;
        offset += cleared * s.clusterSize;
      }
      ok = true;
    } finally {
      s.refcounts.cacheDiscards = false;
      s.refcounts.processDiscards(ok);
    }
  }

  /** discard_in_l2_slice. */
  private long discardInL2Slice(long offset, long clusters, DiscardType type,
      boolean fullDiscard) throws HostIoException {
    int slot = clusterTable(offset);
    int l2Index = s.sliceIndex(offset);
    clusters = Math.min(clusters, s.l2SliceSize - l2Index);
    try {
      L2Slice slice = s.l2Cache.table(slot);
      for (int i = 0; i < clusters; i++) {
        long old = slice.get(l2Index + i);
        long updated = old;
        if (fullDiscard) {
          updated = 0;
        } else if (s.backing != null || isAllocated(clusterType(old))) {
          updated = s.header.version >= 3 ? OFLAG_ZERO : 0;
        }
        if (old == updated) {
          continue;
        }
        s.l2Cache.markDirty(slot);
        slice.set(l2Index + i, updated);
        freeAnyCluster(old, type);
      }
    } finally {
      s.l2Cache.put(slot);
    }
    return clusters;
  }
}
