package io.blocksim.model.bitmap;

import java.util.BitSet;

/**
 * A deliberately plain model of QEMU's HBitmap for property tests: one java.util.BitSet bit per
 * granule, every operation written from its byte-level definition in docs/qemu-behaviour.md §1 rather
 * than from the word algorithms of {@link HBitmap}. Sizes are limited to 2^31 bits by BitSet.
 */
final class ReferenceBitmap {
  final int granularityLog2;
  long origSizeBytes;
  long sizeBits;
  final BitSet bits = new BitSet();

  ReferenceBitmap(long origSizeBytes, int granularityLog2) {
    this.granularityLog2 = granularityLog2;
    this.origSizeBytes = origSizeBytes;
    this.sizeBits = ceilDiv(origSizeBytes, granularity());
  }

  long granularity() {
    return 1L << granularityLog2;
  }

  long granuleOf(long byteOffset) {
    return byteOffset / granularity();
  }

  boolean dirty(long granule) {
    return bits.get(Math.toIntExact(granule));
  }

  /** Every granule that holds a byte of the range becomes dirty. */
  void set(long offset, long length) {
    if (length > 0) {
      bits.set(
          Math.toIntExact(granuleOf(offset)), Math.toIntExact(granuleOf(offset + length - 1) + 1));
    }
  }

  void reset(long offset, long length) {
    if (length > 0) {
      bits.clear(
          Math.toIntExact(granuleOf(offset)), Math.toIntExact(granuleOf(offset + length - 1) + 1));
    }
  }

  long countBits() {
    return bits.cardinality();
  }

  /** The first byte in [start, start + count) ∩ [0, size) whose granule is dirty. */
  long nextDirty(long start, long count) {
    if (start >= origSizeBytes || count == 0) {
      return -1;
    }
    long end = count > origSizeBytes - start ? origSizeBytes : start + count;
    // The granule of start counts from start itself; later granules from their first byte.
    long granule = bits.nextSetBit(Math.toIntExact(granuleOf(start)));
    long x = granule < 0 ? end : Math.max(start, granule * granularity());
    return x < end ? x : -1;
  }

  /**
   * The first byte in [start, start + count) whose granule is clean; a range reaching past the
   * size searches to the end of the last granule (hbitmap_next_zero uses the bit size there).
   */
  long nextZero(long start, long count) {
    if (start >= origSizeBytes || count == 0) {
      return -1;
    }
    long end = count > origSizeBytes - start ? sizeBits * granularity() : start + count;
    long granule = bits.nextClearBit(Math.toIntExact(granuleOf(start)));
    long x = Math.max(start, granule * granularity());
    return x < end ? x : -1;
  }

  /** Walks granule by granule from the first dirty byte until a clean one or the limit. */
  long[] nextDirtyArea(long start, long end, long max) {
    long clippedEnd = Math.min(end, origSizeBytes);
    if (start >= clippedEnd) {
      return null;
    }
    long first = nextDirty(start, clippedEnd - start);
    if (first < 0) {
      return null;
    }
    long limit = first + Math.min(clippedEnd - first, max);
    long y = first;
    while (y < limit && dirty(granuleOf(y))) {
      y = Math.min(limit, (granuleOf(y) + 1) * granularity());
    }
    return new long[] {first, y - first};
  }

  /** Each dirty granule of source, clipped to the size, is set() here. */
  void mergeFrom(ReferenceBitmap source) {
    BitSet snapshot = (BitSet) source.bits.clone();
    for (int b = snapshot.nextSetBit(0); b >= 0; b = snapshot.nextSetBit(b + 1)) {
      long lo = b * source.granularity();
      long hi = Math.min((b + 1) * source.granularity(), source.origSizeBytes);
      set(lo, hi - lo);
    }
  }

  void truncate(long newSize) {
    long newBits = ceilDiv(newSize, granularity());
    if (newBits < sizeBits) {
      bits.clear(Math.toIntExact(newBits), Math.toIntExact(sizeBits));
    }
    origSizeBytes = newSize;
    sizeBits = newBits;
  }

  /** Bit i is bit i % 8 of byte i / 8, over max(ceil(bits / 64), 1) whole 64-bit words. */
  byte[] serialize() {
    long words = Math.max(ceilDiv(sizeBits, 64), 1);
    byte[] out = new byte[Math.toIntExact(words * 8)];
    for (int b = bits.nextSetBit(0); b >= 0; b = bits.nextSetBit(b + 1)) {
      out[b / 8] |= (byte) (1 << (b % 8));
    }
    return out;
  }

  ReferenceBitmap copy() {
    ReferenceBitmap copy = new ReferenceBitmap(origSizeBytes, granularityLog2);
    copy.bits.or(bits);
    return copy;
  }

  static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
