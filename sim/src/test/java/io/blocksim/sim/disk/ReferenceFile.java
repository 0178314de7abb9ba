package io.blocksim.sim.disk;

import java.util.Arrays;

/**
 * A plain reference model of one host file for the tests: a flat byte array, a length and one
 * allocated flag per 4 KiB block, updated by the rules Linux follows (write allocates; punching a
 * hole or zeroing a range frees the blocks it covers whole; truncate frees blocks beyond the end).
 * It knows nothing of pages, tags or caches, so it checks FakeDisk from the outside.
 */
final class ReferenceFile {
  static final int BLOCK = 4096;

  byte[] bytes;
  boolean[] allocated;
  long length;

  ReferenceFile(int capacityBytes) {
    bytes = new byte[capacityBytes];
    allocated = new boolean[capacityBytes / BLOCK + 1];
  }

  ReferenceFile copy() {
    ReferenceFile copy = new ReferenceFile(bytes.length);
    copy.bytes = bytes.clone();
    copy.allocated = allocated.clone();
    copy.length = length;
    return copy;
  }

  void write(long offset, byte[] data, long count) {
    if (count == 0) {
      return;
    }
    System.arraycopy(data, 0, bytes, (int) offset, (int) count);
    for (long block = offset / BLOCK; block <= (offset + count - 1) / BLOCK; block++) {
      allocated[(int) block] = true;
    }
    length = Math.max(length, offset + count);
  }

  void writeZeroes(long offset, long count) {
    if (count == 0) {
      return;
    }
    zero(offset, count);
    length = Math.max(length, offset + count);
  }

  /** Discards; count is already clipped to the length at request time. */
  void discard(long offset, long count) {
    long clipped = Math.max(0, Math.min(count, length - offset));
    if (clipped > 0) {
      zero(offset, clipped);
    }
  }

  void truncate(long newLength) {
    if (newLength < length) {
      Arrays.fill(bytes, (int) newLength, (int) length, (byte) 0);
      for (int block = 0; block < allocated.length; block++) {
        if ((long) block * BLOCK >= newLength) {
          allocated[block] = false;
        }
      }
    }
    length = newLength;
  }

  byte[] read(long offset, int count) {
    byte[] out = new byte[count];
    for (int i = 0; i < count; i++) {
      long position = offset + i;
      out[i] = position < length ? bytes[(int) position] : 0;
    }
    return out;
  }

  /** Returns the expected allocationRun result, by walking blocks one at a time. */
  long allocationRun(long offset, long maxLength) {
    long end = offset + maxLength;
    boolean data = isData(offset);
    long position = offset;
    while (position < end && isData(position) == data) {
      position = Math.min(end, (position / BLOCK + 1) * BLOCK);
      if (data) {
        position = Math.min(position, length);
      }
    }
    return data ? position - offset : -(position - offset);
  }

  private boolean isData(long position) {
    return position < length && allocated[(int) (position / BLOCK)];
  }

  private void zero(long offset, long count) {
    long end = offset + count;
    Arrays.fill(bytes, (int) offset, (int) end, (byte) 0);
    for (long block = offset / BLOCK; block <= (end - 1) / BLOCK; block++) {
      if (block * BLOCK >= offset && (block + 1) * BLOCK <= end) {
        allocated[(int) block] = false;
      }
    }
  }
}
