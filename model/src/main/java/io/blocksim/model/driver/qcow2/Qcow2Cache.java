package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;

/**
 * QEMU 7.2's qcow2 metadata cache (block/qcow2-cache.c), slot for slot: a fixed number of
 * entries, LRU replacement with the same scan order and tie-breaking, write-back of dirty entries
 * on eviction and flush, and the two ordering devices QEMU uses for crash safety: a dependency
 * on another cache (that cache is flushed first) and "depends on flush" (the file is flushed
 * first). Keeping the slots identical makes cache misses, and so {@code l2_load} events and
 * write-backs, happen at the same moments as in QEMU.
 *
 * <p>Fault model: a failed write-back leaves the entry dirty (as QEMU does); a failed load leaves
 * the slot empty.
 *
 * @param <T> the in-memory form of one table
 */
final class Qcow2Cache<T> {
  private final String name;
  private final HostFile file;
  private final Qcow2Events events;
  private final TableCodec<T> codec;
  private final int tableSizeBytes;
  private final String updateEvent;
  private final String loadEvent;
  private final long[] offsets;
  private final long[] lruCounters;
  private final int[] refs;
  private final boolean[] dirty;
  private final Object[] tables;
  /** Hit lookups only; the slot arrays stay authoritative (the hash order never leaks). */
  private final OffsetSlots slotByOffset;
  /**
   * Replacement candidates, kept so that a miss need not scan every slot (8192 of them for a
   * 1 TiB disk): unreferenced slots by LRU stamp (stamps above 0 are unique), and unreferenced
   * slots never used or discarded (stamp 0), where QEMU's scan order from the hash position
   * breaks the tie.
   */
  private final LruList slotByLru;
  private final java.util.BitSet slotsWithoutLru = new java.util.BitSet();
  private Qcow2Cache<?> depends;
  private boolean dependsOnFlush;
  private long lruCounter;
  /** Whether misses read into one buffer (the codec copies out of it), else a new array each. */
  private final boolean reuseReadBuffer;
  /** That buffer, made at the first miss (an image opened only to be checked never needs it). */
  private byte[] readBuffer;

  /** A table decoded by a miss's read before the read yields. */
  private static final class Decoded<T> implements Runnable {
    private final TableCodec<T> codec;
    private final byte[] raw;
    T table;

    Decoded(TableCodec<T> codec, byte[] raw) {
      this.codec = codec;
      this.raw = raw;
    }

    @Override
    public void run() {
      table = codec.decode(raw);
    }
  }

  /** How a table moves between disk bytes and memory. */
  interface TableCodec<T> {
    T decode(byte[] raw);

    /**
     * Whether decode copies what it needs out of raw (then a miss reads into a buffer the
     * cache reuses), rather than keeping the array.
     */
    default boolean decodeCopies() {
      return false;
    }

    T zeroed();

    /**
     * Returns the table's disk bytes, an array valid only until the next encode: the cache
     * writes it at once, and a write is synchronous at the data level (HostFile), so nothing
     * keeps it; it may be a buffer the codec reuses, or the table itself.
     */
    byte[] encode(T table);
  }

  Qcow2Cache(String name, HostFile file, Qcow2Events events, TableCodec<T> codec, int entryCount,
      int tableSizeBytes, String updateEvent, String loadEvent) {
    if (!(entryCount > 0)) {
      throw Check.failure("%s cache: entry count (%d) not positive", name, entryCount);
    }
    if (!(Integer.bitCount(tableSizeBytes) == 1)) {
      throw Check.failure("%s cache: table size (%d) not a power of 2", name, tableSizeBytes);
    }
    this.name = name;
    this.file = file;
    this.events = events;
    this.codec = codec;
    this.tableSizeBytes = tableSizeBytes;
    this.updateEvent = updateEvent;
    this.loadEvent = loadEvent;
    this.offsets = new long[entryCount];
    this.lruCounters = new long[entryCount];
    this.refs = new int[entryCount];
    this.dirty = new boolean[entryCount];
    this.tables = new Object[entryCount];
    this.slotByLru = new LruList(entryCount);
    this.slotByOffset = new OffsetSlots(entryCount);
    this.reuseReadBuffer = codec.decodeCopies() && file instanceof YieldingHostFile;
    slotsWithoutLru.set(0, entryCount);
  }

  private void removeCandidate(int slot) {
    if (refs[slot] != 0) {
      return;
    }
    if (lruCounters[slot] == 0) {
      slotsWithoutLru.clear(slot);
    } else {
      slotByLru.remove(slot);
    }
  }

  private void addCandidate(int slot) {
    if (refs[slot] != 0) {
      return;
    }
    if (lruCounters[slot] == 0) {
      slotsWithoutLru.set(slot);
    } else {
      slotByLru.addNewest(slot);
    }
  }

  int entryCount() {
    return offsets.length;
  }

  int tableSizeBytes() {
    return tableSizeBytes;
  }

  /** Returns the heap bytes the cached tables occupy, as measured by the given function. */
  @SuppressWarnings("unchecked")
  long footprintBytes(java.util.function.ToLongFunction<T> tableBytes) {
    long sum = 0;
    for (Object t : tables) {
      if (t != null) {
        sum += tableBytes.applyAsLong((T) t);
      }
    }
    return sum;
  }

  /** Returns the slot holding the table at offset, reading it on a miss (qcow2_cache_get). */
  int get(long offset) throws HostIoException {
    return doGet(offset, true);
  }

  /** Returns a slot for the table at offset without reading it; the table is all zeroes. */
  int getEmpty(long offset) throws HostIoException {
    return doGet(offset, false);
  }

  @SuppressWarnings("unchecked")
  T table(int slot) {
    if (!(offsets[slot] != 0)) {
      throw Check.failure("%s cache: slot %d is empty", name, slot);
    }
    return (T) tables[slot];
  }

  void setTable(int slot, T table) {
    tables[slot] = table;
  }

  /** Releases a slot obtained by get (qcow2_cache_put); the last release bumps its LRU stamp. */
  void put(int slot) {
    if (!(refs[slot] > 0)) {
      throw Check.failure("%s cache: slot %d released too often", name, slot);
    }
    refs[slot]--;
    if (refs[slot] == 0) {
      lruCounters[slot] = ++lruCounter;
      addCandidate(slot);
    }
  }

  void markDirty(int slot) {
    if (!(offsets[slot] != 0)) {
      throw Check.failure("%s cache: marking empty slot %d dirty", name, slot);
    }
    dirty[slot] = true;
  }

  boolean hasDirtyEntries() {
    for (int i = 0; i < offsets.length; i++) {
      if (dirty[i] && offsets[i] != 0) {
        return true;
      }
    }
    return false;
  }

  /** Writes every dirty entry back, in slot order (qcow2_cache_write). */
  void write() throws HostIoException {
    HostIoException first = null;
    for (int i = 0; i < offsets.length; i++) {
      try {
        flushEntry(i);
      } catch (HostIoException e) {
        if (first == null || first.errno() != HostIoException.ENOSPC) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** Writes every dirty entry back, then flushes the file (qcow2_cache_flush). */
  void flush() throws HostIoException {
    write();
    file.flush();
  }

  /** Makes this cache flush the other one before writing any entry (set_dependency). */
  void setDependency(Qcow2Cache<?> dependency) throws HostIoException {
    if (dependency.depends != null) {
      dependency.flushDependency();
    }
    if (depends != null && depends != dependency) {
      flushDependency();
    }
    depends = dependency;
  }

  /** Makes the next entry write-back flush the file first (qcow2_cache_depends_on_flush). */
  void dependOnFlush() {
    dependsOnFlush = true;
  }

  /** Returns the slot caching the table at offset, or -1 (qcow2_cache_is_table_offset). */
  int slotOf(long offset) {
    return slotByOffset.get(offset);
  }

  /** Drops a table without writing it back (qcow2_cache_discard). */
  void discard(int slot) {
    if (!(refs[slot] == 0)) {
      throw Check.failure("%s cache: discarding slot %d in use", name, slot);
    }
    slotByOffset.remove(offsets[slot]);
    removeCandidate(slot);
    offsets[slot] = 0;
    lruCounters[slot] = 0;
    addCandidate(slot);
    dirty[slot] = false;
    tables[slot] = null;
  }

  /** Flushes, then forgets every table (qcow2_cache_empty). */
  void empty() throws HostIoException {
    flush();
    for (int i = 0; i < offsets.length; i++) {
      if (!(refs[i] == 0)) {
        throw Check.failure("%s cache: emptying slot %d in use", name, i);
      }
      offsets[i] = 0;
      lruCounters[i] = 0;
      tables[i] = null;
    }
    slotByOffset.clear();
    slotByLru.clear();
    slotsWithoutLru.set(0, offsets.length);
    lruCounter = 0;
  }

  /**
   * Flushes, forgets every table and every dependency: the cache qcow2_update_options_prepare
   * puts in this one's place after flushing it.
   */
  void replace() throws HostIoException {
    empty();
    depends = null;
    dependsOnFlush = false;
  }

  private void flushDependency() throws HostIoException {
    depends.flush();
    depends = null;
    dependsOnFlush = false;
  }

  private void flushEntry(int slot) throws HostIoException {
    if (!dirty[slot] || offsets[slot] == 0) {
      return;
    }
    if (depends != null) {
      flushDependency();
    } else if (dependsOnFlush) {
      file.flush();
      dependsOnFlush = false;
    }
    if (updateEvent != null) {
      events.event(updateEvent);
    }
    @SuppressWarnings("unchecked")
    byte[] raw = codec.encode((T) tables[slot]);
    if (!(raw.length == tableSizeBytes)) {
      throw Check.failure("%s cache: encoded %d bytes, table is %d",
          name, raw.length, tableSizeBytes);
    }
    file.write(offsets[slot], raw, 0, raw.length);
    dirty[slot] = false;
  }

  private int doGet(long offset, boolean readFromDisk) throws HostIoException {
    if (!(offset != 0)) {
      throw Check.failure("%s cache: table offset 0", name);
    }
    if (offset % tableSizeBytes != 0) {
      throw new HostIoException(HostIoException.EIO, String.format(java.util.Locale.ROOT,
          "Cannot get entry from %s cache: Offset %#x is unaligned", name, offset));
    }
    int hit = slotByOffset.get(offset);
    if (hit >= 0) {
      removeCandidate(hit);
      refs[hit]++;
      return hit;
    }
    int slot = leastRecentlyUsedSlot(offset);
    flushEntry(slot);
    slotByOffset.remove(offsets[slot]);
    offsets[slot] = 0;
    tables[slot] = null;
    if (readFromDisk) {
      if (loadEvent != null) {
        events.event(loadEvent);
      }
      if (reuseReadBuffer) {
        if (readBuffer == null) {
          readBuffer = new byte[tableSizeBytes];
        }
        // Decoded as the read completes, before its yield point lets another coroutine of
        // the image miss in this cache and read into the same buffer.
        Decoded<T> decoded = new Decoded<>(codec, readBuffer);
        ((YieldingHostFile) file).read(offset, readBuffer, 0, readBuffer.length, decoded);
        tables[slot] = decoded.table;
      } else {
        byte[] raw = new byte[tableSizeBytes];
        file.read(offset, raw, 0, raw.length);
        tables[slot] = codec.decode(raw);
      }
    } else {
      tables[slot] = codec.zeroed();
    }
    offsets[slot] = offset;
    slotByOffset.put(offset, slot);
    removeCandidate(slot);
    refs[slot]++;
    return slot;
  }

  /**
   * Returns the slot QEMU's scan picks: starting at the hash position, the first unreferenced
   * slot with the least LRU stamp.
   */
  private int leastRecentlyUsedSlot(long offset) {
    int lookup = (int) Long.remainderUnsigned(offset / tableSizeBytes * 4, offsets.length);
    if (!slotsWithoutLru.isEmpty()) {
      int atOrAfter = slotsWithoutLru.nextSetBit(lookup);
      return atOrAfter >= 0 ? atOrAfter : slotsWithoutLru.nextSetBit(0);
    }
    Check.that(!slotByLru.isEmpty(), "%s cache: every slot is in use", name);
    return slotByLru.oldest();
  }

  /**
   * The unreferenced slots with an LRU stamp, oldest stamp first: a slot is only ever added with
   * a stamp above every other (put() stamps it as it adds it), so insertion order is stamp order
   * and a doubly linked list over slot numbers replaces a sorted map.
   */
  private static final class LruList {
    private final int[] prev;
    private final int[] next;
    private final boolean[] member;
    private int head = -1;
    private int tail = -1;

    LruList(int slots) {
      prev = new int[slots];
      next = new int[slots];
      member = new boolean[slots];
    }

    boolean isEmpty() {
      return head < 0;
    }

    int oldest() {
      return head;
    }

    void addNewest(int slot) {
      if (member[slot]) {
        throw Check.failure("cache LRU list: slot %d added twice", slot);
      }
      member[slot] = true;
      prev[slot] = tail;
      next[slot] = -1;
      if (tail >= 0) {
        next[tail] = slot;
      } else {
        head = slot;
      }
      tail = slot;
    }

    void remove(int slot) {
      if (!member[slot]) {
        return;
      }
      member[slot] = false;
      if (prev[slot] >= 0) {
        next[prev[slot]] = next[slot];
      } else {
        head = next[slot];
      }
      if (next[slot] >= 0) {
        prev[next[slot]] = prev[slot];
      } else {
        tail = prev[slot];
      }
    }

    void clear() {
      java.util.Arrays.fill(member, false);
      head = -1;
      tail = -1;
    }
  }
}
