package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;
import java.util.Arrays;

/**
 * One L2 slice in memory (the unit QEMU's L2 cache holds: a whole L2 table, or 4 KiB of it when
 * the cache cannot cover the disk). Scattered writes leave most entries zero, so a slice keeps
 * its non-zero entries in two sorted arrays and switches to a dense array only once it is an
 * eighth full: a 1 TiB image with thousands of cached slices then costs kilobytes, not the
 * 32 MiB QEMU spends on the same cache.
 */
final class L2Slice {
  private final int entryCount;
  private int[] sparseIndexes = new int[4];
  private long[] sparseValues = new long[4];
  private int sparseSize;
  private long[] dense;

  L2Slice(int entryCount) {
    this.entryCount = entryCount;
  }

  int entryCount() {
    return entryCount;
  }

  long get(int index) {
    if (!(index >= 0 && index < entryCount)) {
      throw Check.failure("L2 index (%d) outside slice of %d", index, entryCount);
    }
    if (dense != null) {
      return dense[index];
    }
    int at = Arrays.binarySearch(sparseIndexes, 0, sparseSize, index);
    return at >= 0 ? sparseValues[at] : 0;
  }

  void set(int index, long value) {
    if (!(index >= 0 && index < entryCount)) {
      throw Check.failure("L2 index (%d) outside slice of %d", index, entryCount);
    }
    if (dense != null) {
      dense[index] = value;
      return;
    }
    int at = Arrays.binarySearch(sparseIndexes, 0, sparseSize, index);
    if (at >= 0) {
      if (value != 0) {
        sparseValues[at] = value;
      } else {
        System.arraycopy(sparseIndexes, at + 1, sparseIndexes, at, sparseSize - at - 1);
        System.arraycopy(sparseValues, at + 1, sparseValues, at, sparseSize - at - 1);
        sparseSize--;
      }
      return;
    }
    if (value == 0) {
      return;
    }
    if (sparseSize + 1 > entryCount / 8) {
      toDense();
      dense[index] = value;
      return;
    }
    int insert = -at - 1;
    if (sparseSize == sparseIndexes.length) {
      sparseIndexes = Arrays.copyOf(sparseIndexes, sparseSize * 2);
      sparseValues = Arrays.copyOf(sparseValues, sparseSize * 2);
    }
    System.arraycopy(sparseIndexes, insert, sparseIndexes, insert + 1, sparseSize - insert);
    System.arraycopy(sparseValues, insert, sparseValues, insert + 1, sparseSize - insert);
    sparseIndexes[insert] = index;
    sparseValues[insert] = value;
    sparseSize++;
  }

  /** Returns roughly how many bytes of heap this slice's entries occupy. */
  long footprintBytes() {
    return dense != null ? 8L * dense.length : 12L * sparseIndexes.length;
  }

  L2Slice copy() {
    L2Slice c = new L2Slice(entryCount);
    for (int i = 0; i < entryCount; i++) {
      long v = get(i);
      if (v != 0) {
        c.set(i, v);
      }
    }
    return c;
  }

  private void toDense() {
    dense = new long[entryCount];
    for (int i = 0; i < sparseSize; i++) {
      dense[sparseIndexes[i]] = sparseValues[i];
    }
    sparseIndexes = null;
    sparseValues = null;
    sparseSize = 0;
  }

  /** The codec that moves slices between big-endian disk bytes and memory. */
  static Qcow2Cache.TableCodec<L2Slice> codec(int entryCount) {
    return new Qcow2Cache.TableCodec<>() {
      @Override
      public L2Slice decode(byte[] raw) {
        L2Slice s = new L2Slice(entryCount);
        int end = entryCount * 8;
        int nonZero = 0;
        // Zero runs are skipped with a vectorized comparison (most slices of a large disk are
        // almost empty); counting stops past an eighth, where the slice goes dense.
        for (int at = Bytes.nextNonZeroWord(raw, 0, end); at < end && nonZero <= entryCount / 8;
            at = Bytes.nextNonZeroWord(raw, at + 8, end)) {
          nonZero++;
        }
        // As set() would leave it, filled in one pass: dense beyond an eighth, else sparse in
        // index order.
        if (nonZero > entryCount / 8) {
          s.dense = new long[entryCount];
          for (int i = 0; i < entryCount; i++) {
            s.dense[i] = Bytes.getLong(raw, i * 8);
          }
          s.sparseIndexes = null;
          s.sparseValues = null;
          return s;
        }
        if (nonZero > s.sparseIndexes.length) {
          int capacity = s.sparseIndexes.length;
          while (capacity < nonZero) {
            capacity *= 2;
          }
          s.sparseIndexes = new int[capacity];
          s.sparseValues = new long[capacity];
        }
        for (int at = Bytes.nextNonZeroWord(raw, 0, end); at < end;
            at = Bytes.nextNonZeroWord(raw, at + 8, end)) {
          s.sparseIndexes[s.sparseSize] = at / 8;
          s.sparseValues[s.sparseSize] = Bytes.getLong(raw, at);
          s.sparseSize++;
        }
        return s;
      }

      @Override
      public boolean decodeCopies() {
        return true;
      }

      @Override
      public L2Slice zeroed() {
        return new L2Slice(entryCount);
      }

      /**
       * The bytes of the last slice encoded, reused (see {@link Qcow2Cache.TableCodec}); made
       * at the first write-back (an image opened only to be read never needs it).
       */
      private byte[] raw;

      @Override
      public byte[] encode(L2Slice s) {
        if (raw == null) {
          raw = new byte[entryCount * 8];
        }
        if (s.dense != null) {
          for (int i = 0; i < entryCount; i++) {
            Bytes.putLong(raw, i * 8, s.dense[i]);
          }
        } else {
          java.util.Arrays.fill(raw, (byte) 0);
          for (int i = 0; i < s.sparseSize; i++) {
            Bytes.putLong(raw, s.sparseIndexes[i] * 8, s.sparseValues[i]);
          }
        }
        return raw;
      }
    };
  }
}
