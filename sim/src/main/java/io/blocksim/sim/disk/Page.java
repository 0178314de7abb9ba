package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import java.util.Arrays;

/**
 * One immutable page of a file: either uniform (every byte has one value, stored as that value
 * alone) or a byte array. Pages are shared between a file's durable image and its current image,
 * so every change makes a new page. A page whose bytes turn out to be uniform is stored as a tag,
 * which is what pattern writes ({@code qemu-io write -P}) produce; one that repeats an 8-byte unit
 * is stored as that unit (a qcow2 L2 table page whose every entry is the same, such as a backup
 * target's zero-flagged clusters), and one that is zero but for a few 8-byte words is kept as
 * those words (an L2 table page of a disk written at scattered clusters).
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

  /**
   * A page that reads as zeroes and is allocated but unwritten: what {@code fallocate
   * FALLOC_FL_ZERO_RANGE} leaves on ext4 and xfs (QEMU's file-posix write-zeroes without
   * MAY_UNMAP, handle_aiocb_write_zeroes). It counts in the file's allocated size ({@code du},
   * {@code actual-size}) but {@code SEEK_DATA} skips it, so block status reports a hole. A write
   * into it makes an ordinary page.
   */
  static final Page UNWRITTEN = new Page(null, (byte) 0);

  /** The length of the repeating unit of a periodic page. */
  private static final int UNIT_BYTES = 8;

  private final byte[] bytes; // Null when uniform or periodic.
  private final byte fill;
  private final byte[] unit; // The repeating 8 bytes of a periodic page, else null.
  /** A sparse page: the indexes of its non-zero 8-byte words and their big-endian values. */
  private final short[] wordIndexes;
  private final long[] words;
  /** The most non-zero words a page is kept sparse with (an eighth of its bytes). */
  private static final int SPARSE_WORDS_MAX = SIZE_BYTES / UNIT_BYTES / 8;
  private static final java.lang.invoke.VarHandle LONG_BE =
      java.lang.invoke.MethodHandles.byteArrayViewVarHandle(long[].class,
          java.nio.ByteOrder.BIG_ENDIAN);

  private Page(byte[] bytes, byte fill) {
    this(bytes, fill, null);
  }

  private Page(byte[] bytes, byte fill, byte[] unit) {
    this(bytes, fill, unit, null, null);
  }

  private Page(byte[] bytes, byte fill, byte[] unit, short[] wordIndexes, long[] words) {
    this.bytes = bytes;
    this.fill = fill;
    this.unit = unit;
    this.wordIndexes = wordIndexes;
    this.words = words;
  }

  /** Returns the page as its non-zero words if it has few enough, else null. */
  private static Page sparse(byte[] bytes, int from) {
    int end = from + SIZE_BYTES;
    int nonZero = 0;
    for (int at = nextNonZeroWord(bytes, from, end); at < end;
        at = nextNonZeroWord(bytes, at + UNIT_BYTES, end)) {
      if (++nonZero > SPARSE_WORDS_MAX) {
        return null;
      }
    }
    short[] indexes = new short[nonZero];
    long[] values = new long[nonZero];
    int n = 0;
    for (int at = nextNonZeroWord(bytes, from, end); at < end;
        at = nextNonZeroWord(bytes, at + UNIT_BYTES, end)) {
      indexes[n] = (short) ((at - from) / UNIT_BYTES);
      values[n] = (long) LONG_BE.get(bytes, at);
      n++;
    }
    return new Page(null, (byte) 0, null, indexes, values);
  }

  /** Zero bytes to compare against (never written). */
  private static final byte[] ZEROES = new byte[SIZE_BYTES];

  /**
   * Returns the start of the first 8-byte word at or after at (words counted from a page start
   * at, end at most a page on) that is not zero, or end: zero runs are skipped by a vectorized
   * comparison rather than word by word.
   */
  private static int nextNonZeroWord(byte[] bytes, int at, int end) {
    if (at >= end) {
      return end;
    }
    int m = Arrays.mismatch(bytes, at, end, ZEROES, 0, end - at);
    return m < 0 ? end : at + (m & ~(UNIT_BYTES - 1));
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
    Page compact = compact(bytes, 0);
    return compact != null ? compact : new Page(bytes, (byte) 0);
  }

  /**
   * Returns a page holding a copy of the {@link #SIZE_BYTES} bytes of src from offset: as
   * {@link #ofBytes} of a copy, but the bytes are copied only when the page keeps them as they
   * are (most pages written are uniform, periodic or sparse, and a copy of them was garbage).
   */
  static Page copyOf(byte[] src, int offset) {
    if (!(offset >= 0 && offset + SIZE_BYTES <= src.length)) {
      throw Check.failure("page: copy at %d of %d bytes", offset, src.length);
    }
    Page compact = compact(src, offset);
    return compact != null ? compact : new Page(Arrays.copyOfRange(src, offset,
        offset + SIZE_BYTES), (byte) 0);
  }

  /** The uniform, periodic or sparse page of the page-sized range at from, else null. */
  private static Page compact(byte[] bytes, int from) {
    if (uniform(bytes, from, SIZE_BYTES)) {
      return uniform(bytes[from]);
    }
    if (Arrays.equals(bytes, from, from + SIZE_BYTES - UNIT_BYTES, bytes, from + UNIT_BYTES,
        from + SIZE_BYTES)) {
      return new Page(null, (byte) 0, Arrays.copyOfRange(bytes, from, from + UNIT_BYTES));
    }
    return sparse(bytes, from);
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
    return bytes == null && unit == null && words == null;
  }

  /** Returns the value of every byte; only for a uniform page. */
  byte fill() {
    Check.that(isUniform(), "page: fill() of a non-uniform page");
    return fill;
  }

  /** Returns how many bytes of heap this page holds beyond the shared tags. */
  int retainedBytes() {
    return bytes != null ? SIZE_BYTES : unit != null ? UNIT_BYTES
        : words != null ? words.length * (UNIT_BYTES + 2) : 0;
  }

  /** Returns the identity of the backing array, for counting shared arrays once. */
  byte[] bytesOrNull() {
    return bytes;
  }

  void copyTo(int pageOffset, byte[] dst, int dstOffset, int count) {
    if (words != null) {
      Arrays.fill(dst, dstOffset, dstOffset + count, (byte) 0);
      int end = pageOffset + count;
      for (int i = 0; i < words.length; i++) {
        int start = wordIndexes[i] * UNIT_BYTES;
        if (start + UNIT_BYTES <= pageOffset || start >= end) {
          continue;
        }
        for (int b = Math.max(start, pageOffset); b < Math.min(start + UNIT_BYTES, end); b++) {
          dst[dstOffset + b - pageOffset] = (byte) (words[i] >>> (8 * (UNIT_BYTES - 1 - (b
              - start))));
        }
      }
    } else if (unit != null) {
      // The first unit's worth byte by byte, then doubling copies of what is already there.
      int first = Math.min(count, UNIT_BYTES);
      for (int i = 0; i < first; i++) {
        dst[dstOffset + i] = unit[(pageOffset + i) & (UNIT_BYTES - 1)];
      }
      for (int done = first; done < count; done *= 2) {
        System.arraycopy(dst, dstOffset, dst, dstOffset + done, Math.min(done, count - done));
      }
    } else if (bytes == null) {
      Arrays.fill(dst, dstOffset, dstOffset + count, fill);
    } else {
      System.arraycopy(bytes, pageOffset, dst, dstOffset, count);
    }
  }

  /**
   * Returns whether the two pages read the same bytes and are of one kind (both
   * {@link #UNWRITTEN} or neither); scratchA and scratchB are page-sized buffers for the bytes.
   */
  static boolean sameContent(Page a, Page b, byte[] scratchA, byte[] scratchB) {
    if (a == b) {
      return true;
    }
    if (a == UNWRITTEN || b == UNWRITTEN) {
      return false;
    }
    if (a.isUniform() && b.isUniform()) {
      return a.fill == b.fill;
    }
    a.copyTo(0, scratchA, 0, SIZE_BYTES);
    b.copyTo(0, scratchB, 0, SIZE_BYTES);
    return Arrays.equals(scratchA, scratchB);
  }

  /** Returns the page with {@code count} bytes from src placed at pageOffset. */
  Page overwrite(int pageOffset, byte[] src, int srcOffset, int count) {
    if (count == SIZE_BYTES) {
      return copyOf(src, srcOffset);
    }
    if (isUniform() && allEqual(src, srcOffset, count, fill)) {
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
    if (isUniform() && fill == value) {
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
    copyTo(0, filled, 0, SIZE_BYTES);
    return filled;
  }

  private static boolean allEqual(byte[] src, int offset, int count, byte value) {
    return count == 0 || (src[offset] == value && uniform(src, offset, count));
  }
}
