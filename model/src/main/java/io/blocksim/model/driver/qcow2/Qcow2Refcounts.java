package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reference counting and cluster allocation, following block/qcow2-refcount.c of QEMU 7.2 step by
 * step: the free-cluster cursor, refcount blocks that describe themselves when they have to be
 * created, the -EAGAIN restart when new metadata lands where the caller meant to allocate, and
 * the growth of the refcount table into a fresh self-describing area at the end of the file.
 * Replaying the same steps puts every cluster at the host offset QEMU would choose, so blkdebug
 * {@code sector} rules and crash images line up with real QEMU.
 *
 * <p>Fault model: any host request may fail. Refcount increases that fail are undone in memory,
 * as QEMU undoes them, so a failed allocation leaks at most clusters on disk (which
 * {@code qemu-img check} reports as leaks), never a cluster in use with refcount 0.
 */
final class Qcow2Refcounts {
  /** QEMU's enum qcow2_discard_type, in order. */
  enum DiscardType { NEVER, ALWAYS, REQUEST, SNAPSHOT, OTHER }

  /** Whether discards of this type are passed down (s->discard_passthrough). */
  boolean passesDiscard(DiscardType type) {
    return discardPassthrough[type.ordinal()];
  }

  static final long REFT_OFFSET_MASK = 0xfffffffffffffe00L;
  static final long MAX_CLUSTER_OFFSET = (1L << 56) - 1;
  static final long MAX_REFTABLE_SIZE = 8L * 1024 * 1024;

  private final HostFile file;
  private final Qcow2Events events;
  private final Qcow2Header header;
  private final int clusterBits;
  private final long clusterSize;
  private final int refcountOrder;
  private final int refcountBlockBits;
  private final long refcountBlockSize;
  private final long refcountMax;
  private final boolean[] discardPassthrough;
  private final boolean fileUnmap;
  final Qcow2Cache<byte[]> cache;
  private Qcow2Cache<L2Slice> l2Cache;
  long[] table;
  long tableOffset;
  int maxTableIndex;
  long freeClusterIndex;
  /** Discard regions gathered while {@link #cacheDiscards} is set: {offset, bytes}. */
  private final List<long[]> discards = new ArrayList<>();
  boolean cacheDiscards;
  /** Signals corruption the way the image does (qcow2_signal_corruption); set by Qcow2State. */
  java.util.function.Function<String, HostIoException> onCorruption =
      message -> new HostIoException(HostIoException.EIO, message);

  Qcow2Refcounts(HostFile file, Qcow2Events events, Qcow2Header header, int cacheEntries,
      boolean passDiscardRequest, boolean fileUnmap) {
    this.file = file;
    this.events = events;
    this.header = header;
    this.clusterBits = header.clusterBits;
    this.clusterSize = 1L << clusterBits;
    this.refcountOrder = header.refcountOrder;
    this.refcountBlockBits = clusterBits + 3 - refcountOrder;
    this.refcountBlockSize = 1L << refcountBlockBits;
    this.refcountMax = refcountOrder == 6 ? -1L : (1L << (1 << refcountOrder)) - 1;
    this.discardPassthrough = new boolean[] {false, true, passDiscardRequest, true, false};
    this.fileUnmap = fileUnmap;
    int size = (int) clusterSize;
    this.cache = new Qcow2Cache<>("refcount block", file, events, new Qcow2Cache.TableCodec<>() {
      @Override
      public byte[] decode(byte[] raw) {
        return raw;
      }

      @Override
      public byte[] zeroed() {
        return new byte[size];
      }

      /**
       * The block itself, as QEMU writes the cache's own memory (qcow2_cache_entry_flush): a
       * write is synchronous at the data level (HostFile), so nothing below holds the array
       * once it returns, and no coroutine of this image runs before then (its yield points
       * come after a request completes, YieldingHostFile). A copy was 64 KiB of garbage per
       * refcount write-back, more than half of all allocation in the 1 TiB backup bench.
       */
      @Override
      public byte[] encode(byte[] block) {
        return block;
      }
    }, cacheEntries, size, "refblock_update_part", null);
  }

  void attachL2Cache(Qcow2Cache<L2Slice> l2) {
    this.l2Cache = l2;
  }

  int tableSize() {
    return table.length;
  }

  /**
   * qcow2_shrink_reftable, its I/O: every refblock the table names is read through the cache,
   * then the table is written back synchronously. Not modelled: dropping refblocks that became
   * unused (qcow2_discard_refcount_block); the table is written as it is.
   */
  void shrinkTable() throws HostIoException {
    for (long entry : table) {
      long blockOffset = entry & REFT_OFFSET_MASK;
      if (blockOffset != 0) {
        cache.put(cache.get(blockOffset));
      }
    }
    byte[] raw = new byte[table.length * 8];
    for (int i = 0; i < table.length; i++) {
      Bytes.putLong(raw, i * 8, table[i]);
    }
    writeSync(tableOffset, raw);
  }

  /** Reads the refcount table at open (qcow2_refcount_init). */
  void load() throws HostIoException {
    int entries = (int) ((long) header.refcountTableClusters << (clusterBits - 3));
    tableOffset = header.refcountTableOffset;
    table = new long[entries];
    if (entries > 0) {
      events.event("reftable_load");
      byte[] raw = new byte[entries * 8];
      file.read(tableOffset, raw, 0, raw.length);
      Bytes.getLongs(raw, table, entries);
    }
    updateMaxTableIndex();
  }

  private void updateMaxTableIndex() {
    int i = table.length - 1;
    while (i > 0 && table[i] == 0) {
      i--;
    }
    maxTableIndex = Math.max(i, 0);
  }

  long getEntry(byte[] block, long index) {
    int i = (int) index;
    switch (refcountOrder) {
      case 0: return (block[i >> 3] >> (i & 7)) & 1;
      case 1: return (block[i >> 2] >> (2 * (i & 3))) & 3;
      case 2: return (block[i >> 1] >> (4 * (i & 1))) & 15;
      case 3: return block[i] & 0xff;
      case 4: return ((block[2 * i] & 0xff) << 8) | (block[2 * i + 1] & 0xff);
      case 5: return Integer.toUnsignedLong(Bytes.getInt(block, 4 * i));
      case 6: return Bytes.getLong(block, 8 * i);
      default: throw Check.unreachable("refcount order %d", refcountOrder);
    }
  }

  void setEntry(byte[] block, long index, long value) {
    int i = (int) index;
    switch (refcountOrder) {
      case 0: block[i >> 3] = (byte) ((block[i >> 3] & ~(1 << (i & 7))) | (value << (i & 7)));
        break;
      case 1: block[i >> 2] = (byte) ((block[i >> 2] & ~(3 << (2 * (i & 3))))
          | (value << (2 * (i & 3))));
        break;
      case 2: block[i >> 1] = (byte) ((block[i >> 1] & ~(15 << (4 * (i & 1))))
          | (value << (4 * (i & 1))));
        break;
      case 3: block[i] = (byte) value;
        break;
      case 4: block[2 * i] = (byte) (value >>> 8);
        block[2 * i + 1] = (byte) value;
        break;
      case 5: Bytes.putInt(block, 4 * i, (int) value);
        break;
      case 6: Bytes.putLong(block, 8 * i, value);
        break;
      default: throw Check.unreachable("refcount order %d", refcountOrder);
    }
  }

  /** Returns the refcount of a cluster (qcow2_get_refcount). */
  long getRefcount(long clusterIndex) throws HostIoException {
    long tableIndex = clusterIndex >>> refcountBlockBits;
    if (tableIndex >= table.length) {
      return 0;
    }
    long blockOffset = table[(int) tableIndex] & REFT_OFFSET_MASK;
    if (blockOffset == 0) {
      return 0;
    }
    if ((blockOffset & (clusterSize - 1)) != 0) {
      throw corruption("Refblock offset %#x unaligned (reftable index: %#x)", blockOffset,
          tableIndex);
    }
    int slot = cache.get(blockOffset);
    long refcount = getEntry(cache.table(slot), clusterIndex & (refcountBlockSize - 1));
    cache.put(slot);
    return refcount;
  }

  private int loadRefcountBlock(long offset) throws HostIoException {
    events.event("refblock_load");
    return cache.get(offset);
  }

  /**
   * Returns the cache slot of the refcount block covering the cluster, or -1 (QEMU's -EAGAIN)
   * after creating it, because new metadata may now sit where the caller meant to allocate.
   */
  private int allocRefcountBlock(long clusterIndex) throws HostIoException {
    events.event("refblock_alloc");
    long tableIndex = clusterIndex >>> refcountBlockBits;
    if (tableIndex < table.length) {
      long blockOffset = table[(int) tableIndex] & REFT_OFFSET_MASK;
      if (blockOffset != 0) {
        if ((blockOffset & (clusterSize - 1)) != 0) {
          throw corruption("Refblock offset %#x unaligned (reftable index: %#x)", blockOffset,
              tableIndex);
        }
        return loadRefcountBlock(blockOffset);
      }
    }
    l2Cache.flush();
    long newBlock = allocClustersNoref(clusterSize, Long.MAX_VALUE);
    if (newBlock == 0) {
      throw corruption("Preventing invalid allocation of refcount block at offset 0");
    }
    int slot;
    if (inSameRefcountBlock(newBlock, clusterIndex << clusterBits)) {
      slot = cache.getEmpty(newBlock);
      setEntry(cache.table(slot), (newBlock >>> clusterBits) & (refcountBlockSize - 1), 1);
    } else {
      if (updateRefcount(newBlock, clusterSize, 1, false, DiscardType.NEVER)) {
        return -1;
      }
      cache.flush();
      slot = cache.getEmpty(newBlock);
    }
    try {
      events.event("refblock_alloc_write");
      cache.markDirty(slot);
      cache.flush();
      if (tableIndex < table.length) {
        events.event("refblock_alloc_hookup");
        writeSync(tableOffset + tableIndex * 8, Bytes.ofLong(newBlock));
        table[(int) tableIndex] = newBlock;
        maxTableIndex = (int) Math.max(maxTableIndex, tableIndex);
        return -1;
      }
    } finally {
      cache.put(slot);
    }
    events.event("reftable_grow");
    long blocksUsed = ceilDiv(Math.max(clusterIndex + 1, (newBlock >>> clusterBits) + 1),
        refcountBlockSize);
    long metaOffset = blocksUsed * refcountBlockSize * clusterSize;
    refcountArea(metaOffset, 0, false, (int) tableIndex, newBlock);
    slot = loadRefcountBlock(newBlock);
    cache.put(slot);
    return -1;
  }

  private boolean inSameRefcountBlock(long a, long b) {
    return (a >>> (clusterBits + refcountBlockBits)) == (b >>> (clusterBits + refcountBlockBits));
  }

  /**
   * Creates a self-covering refcount table and blocks at startOffset (the end of the file) and
   * switches the header to it (qcow2_refcount_area). Returns the offset after the new area.
   */
  long refcountArea(long startOffset, long additionalClusters, boolean exactSize,
      int newRefblockIndex, long newRefblockOffset) throws HostIoException {
    Check.that(startOffset % clusterSize == 0, "refcount area start %d unaligned", startOffset);
    long totalRefblockCount = refcountMetadataBlocks(startOffset / clusterSize
        + additionalClusters, !exactSize);
    if (totalRefblockCount > MAX_REFTABLE_SIZE) {
      throw new HostIoException(HostIoException.EFBIG, "refcount table too large");
    }
    int areaTableIndex = (int) ((startOffset / clusterSize) / refcountBlockSize);
    long tableSize = exactSize ? totalRefblockCount
        : totalRefblockCount + ceilDiv(totalRefblockCount, 2);
    long perCluster = clusterSize / 8;
    tableSize = ceilDiv(tableSize, perCluster) * perCluster;
    long tableClusters = tableSize * 8 / clusterSize;
    if (tableSize > MAX_REFTABLE_SIZE) {
      throw new HostIoException(HostIoException.EFBIG, "refcount table too large");
    }
    long[] newTable = new long[(int) tableSize];
    int keep = (int) Math.min(tableSize > maxTableIndex ? maxTableIndex + 1 : tableSize,
        table.length);
    System.arraycopy(table, 0, newTable, 0, keep);
    if (newRefblockOffset != 0) {
      Check.that(newRefblockIndex < totalRefblockCount, "new refblock index %d beyond %d",
          newRefblockIndex, totalRefblockCount);
      newTable[newRefblockIndex] = newRefblockOffset;
    }
    long additionalRefblocks = 0;
    for (int i = areaTableIndex; i < totalRefblockCount; i++) {
      if (newTable[i] == 0) {
        additionalRefblocks++;
      }
    }
    long newTableOffset = startOffset + additionalRefblocks * clusterSize;
    long endOffset = newTableOffset + tableClusters * clusterSize;
    long blockOffset = startOffset;
    for (int i = areaTableIndex; i < totalRefblockCount; i++) {
      int slot;
      if (newTable[i] != 0) {
        slot = cache.get(newTable[i]);
      } else {
        slot = cache.getEmpty(blockOffset);
        cache.markDirty(slot);
        newTable[i] = blockOffset;
        blockOffset += clusterSize;
      }
      long firstCovered = (long) i * refcountBlockSize * clusterSize;
      if (firstCovered < endOffset) {
        long j = firstCovered < startOffset ? (startOffset - firstCovered) / clusterSize : 0;
        long end = Math.min((endOffset - firstCovered) / clusterSize, refcountBlockSize);
        byte[] block = cache.table(slot);
        for (; j < end; j++) {
          Check.that(getEntry(block, j) == 0, "refcount area cluster %d already in use", j);
          setEntry(block, j, 1);
        }
        cache.markDirty(slot);
      }
      cache.put(slot);
    }
    Check.that(blockOffset == newTableOffset, "refcount area: blocks end %d, table at %d",
        blockOffset, newTableOffset);
    events.event("refblock_alloc_write_blocks");
    cache.flush();
    byte[] raw = new byte[(int) (tableSize * 8)];
    for (int i = 0; i < totalRefblockCount; i++) {
      Bytes.putLong(raw, i * 8, newTable[i]);
    }
    events.event("refblock_alloc_write_table");
    writeSync(newTableOffset, raw);
    byte[] fields = new byte[12];
    Bytes.putLong(fields, 0, newTableOffset);
    Bytes.putInt(fields, 8, (int) tableClusters);
    events.event("refblock_alloc_switch_table");
    writeSync(Qcow2Header.OFFSET_REFCOUNT_TABLE_OFFSET, fields);
    long oldOffset = tableOffset;
    long oldSize = table.length;
    table = newTable;
    tableOffset = newTableOffset;
    header.refcountTableOffset = newTableOffset;
    header.refcountTableClusters = (int) tableClusters;
    updateMaxTableIndex();
    freeClusters(oldOffset, oldSize * 8, DiscardType.OTHER);
    return endOffset;
  }

  /** Returns the refcount block count of qcow2_refcount_metadata_size's fixed point. */
  long refcountMetadataBlocks(long clusters, boolean generousIncrease) {
    long blocksPerTableCluster = clusterSize / 8;
    long refcountsPerBlock = refcountBlockSize;
    long tableClusters = 0;
    long blocks = 0;
    long n = 0;
    long last;
    do {
      last = n;
      blocks = ceilDiv(clusters + tableClusters + blocks, refcountsPerBlock);
      tableClusters = ceilDiv(blocks, blocksPerTableCluster);
      n = clusters + blocks + tableClusters;
      if (n == last && generousIncrease) {
        clusters += ceilDiv(tableClusters, 2);
        n = 0;
        generousIncrease = false;
      }
    } while (n != last);
    return blocks;
  }

  /**
   * Adds or subtracts addend from the refcount of every cluster in the range (update_refcount).
   * Returns true for QEMU's -EAGAIN: a refcount block had to be created first, and the caller
   * must search for free clusters again; the partial update has been undone.
   */
  boolean updateRefcount(long offset, long length, long addend, boolean decrease,
      DiscardType type) throws HostIoException {
    Check.that(length >= 0, "refcount update length %d negative", length);
    if (length == 0) {
      return false;
    }
    if (decrease) {
      cache.setDependency(l2Cache);
    }
    long start = offset & ~(clusterSize - 1);
    long last = (offset + length - 1) & ~(clusterSize - 1);
    int slot = -1;
    long oldTableIndex = -1;
    long clusterOffset = start;
    boolean again = false;
    HostIoException failure = null;
    try {
      for (; clusterOffset <= last; clusterOffset += clusterSize) {
        long clusterIndex = clusterOffset >>> clusterBits;
        long tableIndex = clusterIndex >>> refcountBlockBits;
        if (tableIndex != oldTableIndex) {
          if (slot >= 0) {
            cache.put(slot);
            slot = -1;
          }
          slot = allocRefcountBlock(clusterIndex);
          if (slot < 0) {
            freeClusterIndex = Math.min(freeClusterIndex, start >>> clusterBits);
            again = true;
            break;
          }
        }
        oldTableIndex = tableIndex;
        cache.markDirty(slot);
        byte[] block = cache.table(slot);
        long blockIndex = clusterIndex & (refcountBlockSize - 1);
        long refcount = getEntry(block, blockIndex);
        long updated = decrease ? refcount - addend : refcount + addend;
        boolean overflow = decrease ? Long.compareUnsigned(updated, refcount) > 0
            : Long.compareUnsigned(updated, refcount) < 0
                || Long.compareUnsigned(updated, refcountMax) > 0;
        if (overflow) {
          throw new HostIoException(HostIoException.EINVAL, String.format(java.util.Locale.ROOT,
              "refcount of cluster %d would leave 0..%d", clusterIndex, refcountMax));
        }
        if (updated == 0 && clusterIndex < freeClusterIndex) {
          freeClusterIndex = clusterIndex;
        }
        setEntry(block, blockIndex, updated);
        if (updated == 0) {
          int cached = cache.slotOf(offset);
          if (cached >= 0) {
            cache.put(slot);
            slot = -1;
            oldTableIndex = -1;
            cache.discard(cached);
          }
          int cachedL2 = l2Cache.slotOf(offset);
          if (cachedL2 >= 0) {
            l2Cache.discard(cachedL2);
          }
          if (discardPassthrough[type.ordinal()]) {
            addDiscard(clusterOffset, clusterSize);
          }
        }
      }
    } catch (HostIoException e) {
      failure = e;
    }
    if (!cacheDiscards) {
      processDiscards(failure == null && !again);
    }
    if (slot >= 0) {
      cache.put(slot);
    }
    if (failure != null || again) {
      try {
        updateRefcount(offset, clusterOffset - offset, addend, !decrease, DiscardType.NEVER);
      } catch (HostIoException ignored) {
        // QEMU ignores the result of the undo as well ("dummy").
      }
    }
    if (failure != null) {
      throw failure;
    }
    return again;
  }

  /** Finds size bytes of free clusters from the cursor, without taking them (noref). */
  long allocClustersNoref(long size, long max) throws HostIoException {
    if (cacheDiscards) {
      processDiscards(true);
    }
    long clusters = ceilDiv(size, clusterSize);
    boolean retry;
    do {
      retry = false;
      for (long i = 0; i < clusters; i++) {
        long next = freeClusterIndex++;
        if (getRefcount(next) != 0) {
          retry = true;
          break;
        }
      }
    } while (retry);
    if (freeClusterIndex > 0 && freeClusterIndex - 1 > (max >>> clusterBits)) {
      throw new HostIoException(HostIoException.EFBIG, "cluster offset too large");
    }
    return (freeClusterIndex - clusters) << clusterBits;
  }

  /** Allocates size bytes of clusters with refcount 1 (qcow2_alloc_clusters). */
  long allocClusters(long size) throws HostIoException {
    events.event("cluster_alloc");
    long offset;
    do {
      offset = allocClustersNoref(size, MAX_CLUSTER_OFFSET);
    } while (updateRefcount(offset, size, 1, false, DiscardType.NEVER));
    return offset;
  }

  /**
   * Takes up to count free clusters starting exactly at offset and returns how many it took
   * (qcow2_alloc_clusters_at).
   */
  long allocClustersAt(long offset, long count) throws HostIoException {
    if (count == 0) {
      return 0;
    }
    long i;
    do {
      long clusterIndex = offset >>> clusterBits;
      for (i = 0; i < count; i++) {
        if (getRefcount(clusterIndex++) != 0) {
          break;
        }
      }
    } while (updateRefcount(offset, i << clusterBits, 1, false, DiscardType.NEVER));
    return i;
  }

  /** Drops one reference from every cluster of the range; failures only leak (as in QEMU). */
  void freeClusters(long offset, long size, DiscardType type) {
    events.event("cluster_free");
    try {
      updateRefcount(offset, size, 1, true, type);
    } catch (HostIoException e) {
      // QEMU prints "qcow2_free_clusters failed" and leaks the clusters.
    }
  }

  private void addDiscard(long offset, long length) {
    long[] d = null;
    for (long[] r : discards) {
      long newStart = Math.min(offset, r[0]);
      long newEnd = Math.max(offset + length, r[0] + r[1]);
      if (newEnd - newStart <= length + r[1]) {
        r[0] = newStart;
        r[1] = newEnd - newStart;
        d = r;
        break;
      }
    }
    if (d == null) {
      d = new long[] {offset, length};
      discards.add(d);
    }
    for (int i = 0; i < discards.size(); i++) {
      long[] p = discards.get(i);
      if (p == d || p[0] > d[0] + d[1] || d[0] > p[0] + p[1]) {
        continue;
      }
      discards.remove(i--);
      d[0] = Math.min(d[0], p[0]);
      d[1] += p[1];
    }
  }

  /** Passes queued discards down to the file (qcow2_process_discards); errors are ignored. */
  void processDiscards(boolean ok) {
    List<long[]> pending = new ArrayList<>(discards);
    discards.clear();
    if (!ok || !fileUnmap) {
      return;
    }
    for (long[] d : pending) {
      try {
        file.discard(d[0], d[1]);
      } catch (HostIoException e) {
        // Discard is advisory in QEMU too.
      }
    }
  }

  private void writeSync(long offset, byte[] data) throws HostIoException {
    file.write(offset, data, 0, data.length);
    file.flush();
  }

  HostIoException corruption(String format, Object... args) {
    return onCorruption.apply(String.format(java.util.Locale.ROOT, format, args));
  }

  static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
