package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * A sorted map of chunk index (non-negative) to chunk (a {@link Page} array), for
 * {@link PageImage}: the keys in sorted primitive arrays of at most {@link #BUCKET_MAX} entries
 * each (buckets), the buckets in a small sorted map by their lowest key. A million chunks cost
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
    int size;

    Bucket(long low, int capacity) {
      this.low = low;
      this.keys = new long[capacity];
      this.chunks = new Page[capacity][];
    }
  }

  private final TreeMap<Long, Bucket> buckets = new TreeMap<>();
  private int size;
  /** The bucket the last lookup found and the key range it serves, [cachedLow, cachedHigh). */
  private Bucket cached;
  private long cachedLow;
  private long cachedHigh;

  int size() {
    return size;
  }

  /** Returns a copy with every chunk array cloned (the pages are shared). */
  ChunkMap copy() {
    ChunkMap c = new ChunkMap();
    for (Bucket b : buckets.values()) {
      Bucket nb = new Bucket(b.low, b.size);
      System.arraycopy(b.keys, 0, nb.keys, 0, b.size);
      for (int i = 0; i < b.size; i++) {
        nb.chunks[i] = b.chunks[i].clone();
      }
      nb.size = b.size;
      c.buckets.put(nb.low, nb);
    }
    c.size = size;
    return c;
  }

  /** Returns the bucket whose key range holds key, or null when key is below every bucket. */
  private Bucket bucketFor(long key) {
    if (cached != null && key >= cachedLow && key < cachedHigh) {
      return cached;
    }
    Map.Entry<Long, Bucket> e = buckets.floorEntry(key);
    if (e == null) {
      return null;
    }
    Long next = buckets.higherKey(e.getKey());
    cached = e.getValue();
    cachedLow = e.getKey();
    cachedHigh = next == null ? Long.MAX_VALUE : next;
    return cached;
  }

  Page[] get(long key) {
    Bucket b = bucketFor(key);
    if (b == null) {
      return null;
    }
    int at = Arrays.binarySearch(b.keys, 0, b.size, key);
    return at >= 0 ? b.chunks[at] : null;
  }

  /** Puts chunk (non-null) at key, replacing any chunk there. */
  void put(long key, Page[] chunk) {
    if (!(key >= 0 && chunk != null)) {
      throw Check.failure("chunk map: put of key %d", key);
    }
    Bucket b = bucketFor(key);
    if (b == null) {
      cached = null;
      if (buckets.isEmpty()) {
        b = new Bucket(key, 4);
        buckets.put(key, b);
      } else {
        // Below every bucket: the first bucket now starts at key.
        b = buckets.pollFirstEntry().getValue();
        b.low = key;
        buckets.put(key, b);
      }
    }
    int at = Arrays.binarySearch(b.keys, 0, b.size, key);
    if (at >= 0) {
      b.chunks[at] = chunk;
      return;
    }
    int insert = -at - 1;
    if (b.size == b.keys.length) {
      int capacity = Math.min(BUCKET_MAX + 1, b.size * 2);
      b.keys = Arrays.copyOf(b.keys, capacity);
      b.chunks = Arrays.copyOf(b.chunks, capacity);
    }
    System.arraycopy(b.keys, insert, b.keys, insert + 1, b.size - insert);
    System.arraycopy(b.chunks, insert, b.chunks, insert + 1, b.size - insert);
    b.keys[insert] = key;
    b.chunks[insert] = chunk;
    b.size++;
    size++;
    if (b.size > BUCKET_MAX) {
      split(b);
    }
  }

  private void split(Bucket b) {
    int half = b.size / 2;
    int moved = b.size - half;
    Bucket upper = new Bucket(b.keys[half], BUCKET_MAX + 1);
    System.arraycopy(b.keys, half, upper.keys, 0, moved);
    System.arraycopy(b.chunks, half, upper.chunks, 0, moved);
    Arrays.fill(b.chunks, half, b.size, null);
    upper.size = moved;
    b.size = half;
    buckets.put(upper.low, upper);
    cached = null;
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
    b.size--;
    b.chunks[b.size] = null;
    size--;
    if (b.size == 0) {
      buckets.remove(b.low);
      cached = null;
    }
  }

  /** Returns the least key at or above key, or -1 if there is none. */
  long ceilingKey(long key) {
    Bucket b = bucketFor(key);
    if (b == null) {
      Map.Entry<Long, Bucket> first = buckets.firstEntry();
      return first == null ? -1 : first.getValue().keys[0];
    }
    int at = Arrays.binarySearch(b.keys, 0, b.size, key);
    int i = at >= 0 ? at : -at - 1;
    if (i < b.size) {
      return b.keys[i];
    }
    Map.Entry<Long, Bucket> after = buckets.higherEntry(b.low);
    return after == null ? -1 : after.getValue().keys[0];
  }

  /** Visits every chunk in key order; the visitor must not change the map. */
  void forEach(ChunkVisitor visitor) {
    for (Bucket b : buckets.values()) {
      for (int i = 0; i < b.size; i++) {
        visitor.visit(b.keys[i], b.chunks[i]);
      }
    }
  }
}
