package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostIoException;
import java.util.Arrays;

/**
 * A backing reader over another engine image, as the node layer would build it for a two-image
 * chain: reads beyond the backing image's end return zeroes, and a range is "zero fast" when the
 * backing image's own status covers it in one run that is ZERO or UNALLOCATED (it has no backing
 * of its own).
 */
final class ImageBacking implements BackingReader {
  private final Qcow2Image base;

  ImageBacking(Qcow2Image base) {
    this.base = base;
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException {
    long inside = Math.max(0, Math.min(length, base.virtualSize() - offset));
    if (inside > 0) {
      base.read(offset, dst, dstOffset, (int) inside);
    }
    Arrays.fill(dst, dstOffset + (int) inside, dstOffset + length, (byte) 0);
  }

  @Override
  public boolean isZeroFast(long offset, long length) throws HostIoException {
    if (offset >= base.virtualSize()) {
      return true;
    }
    if (offset + length > base.virtualSize()) {
      return false;
    }
    Qcow2BlockStatus st = base.blockStatus(offset, length);
    return st.lengthBytes() == length && st.kind() != Qcow2BlockStatus.Kind.DATA;
  }
}
