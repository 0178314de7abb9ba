package io.blocksim.model.driver.qcow2;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** Big-endian field access on byte arrays: every qcow2 integer is big-endian on disk. */
final class Bytes {
  /** A big-endian long view of a byte array (one load, not eight). */
  private static final VarHandle LONG_BE =
      MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  private Bytes() {}

  static long getLong(byte[] b, int at) {
    return (long) LONG_BE.get(b, at);
  }

  /** Decodes count big-endian longs from the start of b into the start of dst, in bulk. */
  static void getLongs(byte[] b, long[] dst, int count) {
    java.nio.ByteBuffer.wrap(b).asLongBuffer().get(dst, 0, count);
  }

  static int getInt(byte[] b, int at) {
    return ((b[at] & 0xff) << 24) | ((b[at + 1] & 0xff) << 16) | ((b[at + 2] & 0xff) << 8)
        | (b[at + 3] & 0xff);
  }

  static void putLong(byte[] b, int at, long v) {
    LONG_BE.set(b, at, v);
  }

  static void putInt(byte[] b, int at, int v) {
    b[at] = (byte) (v >>> 24);
    b[at + 1] = (byte) (v >>> 16);
    b[at + 2] = (byte) (v >>> 8);
    b[at + 3] = (byte) v;
  }

  static byte[] ofLong(long v) {
    byte[] b = new byte[8];
    putLong(b, 0, v);
    return b;
  }

  /** Zero bytes to compare against (never written). */
  private static final byte[] ZEROES = new byte[65536];

  /**
   * Returns the offset of the first 8-byte word at or after from (a multiple of 8, as end is)
   * that is not zero, or end: zero runs are skipped by a vectorized comparison.
   */
  static int nextNonZeroWord(byte[] b, int from, int end) {
    int at = from;
    while (at < end) {
      int n = Math.min(end - at, ZEROES.length);
      int m = java.util.Arrays.mismatch(b, at, at + n, ZEROES, 0, n);
      if (m >= 0) {
        return at + (m & ~7);
      }
      at += n;
    }
    return end;
  }

  /** Returns whether the range holds only zero bytes. */
  static boolean isZero(byte[] b, int from, int length) {
    for (int i = from; i < from + length; i++) {
      if (b[i] != 0) {
        return false;
      }
    }
    return true;
  }
}
