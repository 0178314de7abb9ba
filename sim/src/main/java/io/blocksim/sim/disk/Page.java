package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import java.util.Arrays;

/**
 * One immutable page of a file: either uniform (every byte has one value, stored as that value
 * alone) or a byte array. Pages are shared between a file's durable image and its current image,
 * so every change makes a new page. A page whose bytes turn out to be uniform is stored as a tag,
 * which is what pattern writes ({@code qemu-io write -P}) produce.
 */
final class Page {
  /** The allocation unit, as a Linux file system's block (ext4, xfs, tmpfs all use 4 KiB). */
  static final int SIZE_BYTES = 4096;

  private static final Page[] UNIFORM = new Page[256];

  static {
    if (!(Integer.bitCount(SIZE_BYTES) == 1)) {
      throw Check.failure("page size (%d) must be a power of 2", SIZE_BYTES);
    }
    if (!(SIZE_BYTES % 512 == 0)) {
      throw Check.failure("page size (%d) must be whole sectors", SIZE_BYTES);
    }
    for (int value = 0; value < 256; value++) {
      UNIFORM[value] = new Page(null, (byte) value);
    }
  }

  private final byte[] bytes; // Null when uniform.
  private final byte fill;

  private Page(byte[] bytes, byte fill) {
    this.bytes = bytes;
    this.fill = fill;
  }

  /** Returns the shared page whose bytes all have the given value. */
  static Page uniform(byte value) {
    return UNIFORM[value & 0xff];
  }

  /** Returns a page holding these bytes (taking ownership), or the uniform page if they are. */
  static Page ofBytes(byte[] bytes) {
    if (!(bytes.length == SIZE_BYTES)) {
      throw Check.failure("page: %d bytes, expected %d", bytes.length, SIZE_BYTES);
    }
    return uniform(bytes, 0, SIZE_BYTES) ? uniform(bytes[0]) : new Page(bytes, (byte) 0);
  }

  /**
   * Returns whether every byte of the range has one value: each byte equals the next, a
   * comparison the JDK vectorizes (a byte loop was a tenth of the corpus profile).
   */
  static boolean uniform(byte[] src, int offset, int count) {
    return count <= 1 || Arrays.equals(src, offset, offset + count - 1, src, offset + 1,
        offset + count);
  }

  boolean isUniform() {
    return bytes == null;
  }

  /** Returns the value of every byte; only for a uniform page. */
  byte fill() {
    Check.that(bytes == null, "page: fill() of a non-uniform page");
    return fill;
  }

  /** Returns how many bytes of heap this page holds beyond the shared tags. */
  int retainedBytes() {
    return bytes == null ? 0 : SIZE_BYTES;
  }

  /** Returns the identity of the backing array, for counting shared arrays once. */
  byte[] bytesOrNull() {
    return bytes;
  }

  void copyTo(int pageOffset, byte[] dst, int dstOffset, int count) {
    if (bytes == null) {
      Arrays.fill(dst, dstOffset, dstOffset + count, fill);
    } else {
      System.arraycopy(bytes, pageOffset, dst, dstOffset, count);
    }
  }

  /** Returns the page with {@code count} bytes from src placed at pageOffset. */
  Page overwrite(int pageOffset, byte[] src, int srcOffset, int count) {
    if (count == SIZE_BYTES) {
      return ofBytes(Arrays.copyOfRange(src, srcOffset, srcOffset + count));
    }
    if (bytes == null && allEqual(src, srcOffset, count, fill)) {
      return this;
    }
    byte[] changed = toBytes();
    System.arraycopy(src, srcOffset, changed, pageOffset, count);
    return ofBytes(changed);
  }

  /** Returns the page with {@code count} bytes at pageOffset set to value. */
  Page fill(int pageOffset, int count, byte value) {
    if (count == SIZE_BYTES) {
      return uniform(value);
    }
    if (bytes == null && fill == value) {
      return this;
    }
    byte[] changed = toBytes();
    Arrays.fill(changed, pageOffset, pageOffset + count, value);
    return ofBytes(changed);
  }

  private byte[] toBytes() {
    if (bytes != null) {
      return bytes.clone();
    }
    byte[] filled = new byte[SIZE_BYTES];
    Arrays.fill(filled, fill);
    return filled;
  }

  private static boolean allEqual(byte[] src, int offset, int count, byte value) {
    return count == 0 || (src[offset] == value && uniform(src, offset, count));
  }
}
