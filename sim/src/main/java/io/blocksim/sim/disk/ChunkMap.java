package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import java.util.Arrays;

/**
 * A sorted map of chunk index (non-negative) to chunk (a {@link Page} array), for
 * {@link PageImage}: the keys in sorted primitive arrays of at most {@link #BUCKET_MAX} entries
 * each (buckets), the buckets in a sorted array by their lowest key. A million chunks cost
 * about 20 bytes each here against about 70 in a {@code TreeMap<Long, Page[]>} (an entry and a
 * boxed key), and an insertion moves part of one bucket's arrays instead of rebalancing a tree of
 * cache-missing nodes.
 *
 * <p>Invariant: buckets are non-empty; a bucket's map key is at most its first key, and every key
 * of a bucket is below the next bucket's map key.
 */
final class ChunkMap {
  static final int BUCKET_MAX = 256;

  /** Visits chunks in key order. */
  interface ChunkVisitor {
    void visit(long key, Page[] chunk);
  }

  private static final class Bucket {
    long low;
    long[] keys;
    Page[][] chunks;
    /** Whether the chunk array may be another map's too (then it is cloned before a change). */
    boolean[] shared;
    int size;

    Bucket(long low, int capacity) {
      this.low = low;
      this.keys = new long[capacity];
      this.chunks = new Page[capacity][];
      this.shared = new boolean[capacity];
    }
  }

  /** The buckets in key order, and each one's lowest key (its map key), nb of them. */
  private Bucket[] buckets = new Bucket[4];
  private long[] lows = new long[4];
  private int nb;
  private int size;
  /** The bucket the last lookup found and the key range it serves, [cachedLow, cachedHigh). */
  private Bucket cached;
  private long cachedLow;
  private long cachedHigh;
  /**
   * Where recent keys were found: a direct-mapped table (slot: the key's low bits) of bucket and
   * position, trusted only while that bucket still holds the key there (a position that moved
   * or a bucket emptied fails the check), so that a 1 TiB disk's qcow2 metadata, thousands of
   * L2 tables among a million data chunks, is found without two binary searches over
   * cache-missing arrays. It grows with the map, emptied, up to {@link #HINTS_MAX} slots.
   */
  private Bucket[] hintBuckets = new Bucket[HINTS_MIN];
  private int[] hintPositions = new int[HINTS_MIN];
  private static final int HINTS_MIN = 16;
  private static final int HINTS_MAX = 1 << 16;
  /** The bucket {@link #locate} found the key in. */
  private Bucket located;

  /**
   * Returns the key's position in its bucket (then in {@link #located}), or -1 when it is absent
   * (then located is the bucket it would go in, null when below every bucket).
   */
  private int locate(long key) {
    int slot = (int) key & (hintBuckets.length - 1);
    Bucket hint = hintBuckets[slot];
    if (hint != null) {
      int at = hintPositions[slot];
      if (at < hint.size && hint.keys[at] == key) {
        located = hint;
        return at;
      }
    }
    Bucket b = bucketFor(key);
    located = b;
    if (b == null) {
      return -1;
    }
    int at = Arrays.binarySearch(b.keys, 0, b.size, key);
    if (at < 0) {
      return -1;
    }
    hintBuckets[slot] = b;
    hintPositions[slot] = at;
    return at;
  }

  private void growHints() {
    if (size > hintBuckets.length && hintBuckets.length < HINTS_MAX) {
      int length = Math.min(HINTS_MAX, Integer.highestOneBit(size - 1) << 1);
      hintBuckets = new Bucket[length];
      hintPositions = new int[length];
    }
  }

  int size() {
    return size;
  }

  /**
   * Returns a copy sharing every chunk array (each side clones an array before changing it, see
   * {@link #writable}) and so the pages.
   */
  ChunkMap copy() {
    ChunkMap c = new ChunkMap();
    c.buckets = new Bucket[Math.max(4, nb)];
    c.lows = Arrays.copyOf(lows, c.buckets.length);
    for (int j = 0; j < nb; j++) {
      Bucket b = buckets[j];
      Bucket nbk = new Bucket(b.low, b.size);
      System.arraycopy(b.keys, 0, nbk.keys, 0, b.size);
      System.arraycopy(b.chunks, 0, nbk.chunks, 0, b.size);
      Arrays.fill(b.shared, 0, b.size, true);
      Arrays.fill(nbk.shared, 0, b.size, true);
      nbk.size = b.size;
      c.buckets[j] = nbk;
    }
    c.nb = nb;
    c.size = size;
    c.hintBuckets = new Bucket[hintBuckets.length];
    c.hintPositions = new int[hintBuckets.length];
    return c;
  }

  /** Returns the position of the bucket whose key range holds key, or -1 below every bucket. */
  private int floorBucket(long key) {
    if (nb > 0 && key >= lows[nb - 1]) {
      return nb - 1; // At or past the last bucket: a file growing at its end.
    }
    int at = Arrays.binarySearch(lows, 0, nb, key);
    return at >= 0 ? at : -at - 2;
  }

  /** Returns the bucket whose key range holds key, or null when key is below every bucket. */
  private Bucket bucketFor(long key) {
    if (cached != null && key >= cachedLow && key < cachedHigh) {
      return cached;
    }
    int j = floorBucket(key);
    if (j < 0) {
      return null;
    }
    cached = buckets[j];
    cachedLow = lows[j];
    cachedHigh = j + 1 < nb ? lows[j + 1] : Long.MAX_VALUE;
    return cached;
  }

  /** Inserts bucket b at position j of the bucket arrays. */
  private void insertBucket(int j, Bucket b) {
    if (nb == buckets.length) {
      buckets = Arrays.copyOf(buckets, nb * 2);
      lows = Arrays.copyOf(lows, nb * 2);
    }
    System.arraycopy(buckets, j, buckets, j + 1, nb - j);
    System.arraycopy(lows, j, lows, j + 1, nb - j);
    buckets[j] = b;
    lows[j] = b.low;
    nb++;
    cached = null;
  }

  private void removeBucket(int j) {
    System.arraycopy(buckets, j + 1, buckets, j, nb - j - 1);
    System.arraycopy(lows, j + 1, lows, j, nb - j - 1);
    nb--;
    buckets[nb] = null;
    cached = null;
  }

  Page[] get(long key) {
    int at = locate(key);
    return at >= 0 ? located.chunks[at] : null;
  }

  /**
   * Returns the chunk at key for a change, or null: a chunk array this map may share with another
   * is replaced by a clone first.
   */
  Page[] writable(long key) {
    int at = locate(key);
    if (at < 0) {
      return null;
    }
    Bucket b = located;
    if (b.shared[at]) {
      b.chunks[at] = b.chunks[at].clone();
      b.shared[at] = false;
    }
    return b.chunks[at];
  }

  /** Puts chunk (non-null, this map's own array) at key, replacing any chunk there. */
  void put(long key, Page[] chunk) {
    put(key, chunk, false);
  }

  /**
   * Puts the chunk array of another map at key (both then clone it before a change: the other
   * map's entry must be marked with {@link #markShared}).
   */
  void putShared(long key, Page[] chunk) {
    put(key, chunk, true);
  }

  /** Marks the chunk at key (present) as shared with another map. */
  void markShared(long key) {
    int at = locate(key);
    if (!(at >= 0)) {
      throw Check.failure("chunk map: no chunk %d to share", key);
    }
    located.shared[at] = true;
  }

  private void put(long key, Page[] chunk, boolean isShared) {
    if (!(key >= 0 && chunk != null)) {
      throw Check.failure("chunk map: put of key %d", key);
    }
    int found = locate(key);
    if (found >= 0) {
      located.chunks[found] = chunk;
      located.shared[found] = isShared;
      return;
    }
    Bucket b = located;
    if (b == null) {
      cached = null;
      if (nb == 0) {
        b = new Bucket(key, 4);
        insertBucket(0, b);
      } else {
        // Below every bucket: the first bucket now starts at key.
        b = buckets[0];
        b.low = key;
        lows[0] = key;
      }
    }
    int at = Arrays.binarySearch(b.keys, 0, b.size, key);
    if (at >= 0) {
      b.chunks[at] = chunk;
      b.shared[at] = isShared;
      return;
    }
    int insert = -at - 1;
    if (b.size == b.keys.length) {
      int capacity = Math.min(BUCKET_MAX + 1, b.size * 2);
      b.keys = Arrays.copyOf(b.keys, capacity);
      b.chunks = Arrays.copyOf(b.chunks, capacity);
      b.shared = Arrays.copyOf(b.shared, capacity);
    }
    System.arraycopy(b.keys, insert, b.keys, insert + 1, b.size - insert);
    System.arraycopy(b.chunks, insert, b.chunks, insert + 1, b.size - insert);
    System.arraycopy(b.shared, insert, b.shared, insert + 1, b.size - insert);
    b.keys[insert] = key;
    b.chunks[insert] = chunk;
    b.shared[insert] = isShared;
    b.size++;
    size++;
    if (b.size > BUCKET_MAX) {
      split(b);
    }
    growHints();
  }

  private void split(Bucket b) {
    int half = b.size / 2;
    int moved = b.size - half;
    Bucket upper = new Bucket(b.keys[half], BUCKET_MAX + 1);
    System.arraycopy(b.keys, half, upper.keys, 0, moved);
    System.arraycopy(b.chunks, half, upper.chunks, 0, moved);
    System.arraycopy(b.shared, half, upper.shared, 0, moved);
    Arrays.fill(b.chunks, half, b.size, null);
    upper.size = moved;
    b.size = half;
    insertBucket(floorBucket(b.low) + 1, upper);
  }

  /** Removes the chunk at key, if any. */
  void remove(long key) {
    Bucket b = bucketFor(key);
    if (b == null) {
      return;
    }
    int at = Arrays.binarySearch(b.keys, 0, b.size, key);
    if (at < 0) {
      return;
    }
    System.arraycopy(b.keys, at + 1, b.keys, at, b.size - at - 1);
    System.arraycopy(b.chunks, at + 1, b.chunks, at, b.size - at - 1);
    System.arraycopy(b.shared, at + 1, b.shared, at, b.size - at - 1);
    b.size--;
    b.chunks[b.size] = null;
    size--;
    if (b.size == 0) {
      removeBucket(floorBucket(b.low));
    }
  }

  /** Returns the least key at or above key, or -1 if there is none. */
  long ceilingKey(long key) {
    int j = floorBucket(key);
    if (j < 0) {
      return nb == 0 ? -1 : buckets[0].keys[0];
    }
    Bucket b = buckets[j];
    int at = Arrays.binarySearch(b.keys, 0, b.size, key);
    int i = at >= 0 ? at : -at - 1;
    if (i < b.size) {
      return b.keys[i];
    }
    return j + 1 < nb ? buckets[j + 1].keys[0] : -1;
  }

  /** Visits every chunk in key order; the visitor must not change the map. */
  void forEach(ChunkVisitor visitor) {
    for (int j = 0; j < nb; j++) {
      Bucket b = buckets[j];
      for (int i = 0; i < b.size; i++) {
        visitor.visit(b.keys[i], b.chunks[i]);
      }
    }
  }

  /** Returns whether both maps have the same keys and, key by key, chunks that same accepts. */
  boolean allChunksMatch(ChunkMap other, java.util.function.BiPredicate<Page[], Page[]> same) {
    if (size != other.size) {
      return false;
    }
    int oj = 0;
    int oi = 0;
    for (int j = 0; j < nb; j++) {
      Bucket b = buckets[j];
      for (int i = 0; i < b.size; i++) {
        while (oi >= other.buckets[oj].size) { // Buckets are never empty: this ends.
          oj++;
          oi = 0;
        }
        Bucket ob = other.buckets[oj];
        if (b.keys[i] != ob.keys[oi]
            || b.chunks[i] != ob.chunks[oi] && !same.test(b.chunks[i], ob.chunks[oi])) {
          return false;
        }
        oi++;
      }
    }
    return true;
  }
}
