package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostIoException;
import java.util.Arrays;
import java.util.Locale;

/**
 * One guest request in a test scenario, with the three things a test does with it: apply it to
 * the engine, spell it as a qemu-io command, and apply it to a plain byte-array reference model.
 */
record GuestOp(Kind kind, long offset, long length, int pattern) {
  enum Kind { WRITE, ZERO, ZERO_UNMAP, DISCARD, FLUSH, READ }

  static GuestOp write(long offset, long length, int pattern) {
    return new GuestOp(Kind.WRITE, offset, length, pattern);
  }

  static GuestOp zero(long offset, long length, boolean unmap) {
    return new GuestOp(unmap ? Kind.ZERO_UNMAP : Kind.ZERO, offset, length, 0);
  }

  static GuestOp discard(long offset, long length) {
    return new GuestOp(Kind.DISCARD, offset, length, 0);
  }

  static GuestOp read(long offset, long length) {
    return new GuestOp(Kind.READ, offset, length, 0);
  }

  static GuestOp flush() {
    return new GuestOp(Kind.FLUSH, 0, 0, 0);
  }

  void applyTo(Qcow2Image image) throws HostIoException {
    switch (kind) {
      case WRITE -> {
        byte[] data = new byte[(int) length];
        Arrays.fill(data, (byte) pattern);
        image.write(offset, data, 0, data.length);
      }
      case ZERO -> image.writeZeroes(offset, length, false);
      case ZERO_UNMAP -> image.writeZeroes(offset, length, true);
      case DISCARD -> image.discard(offset, length);
      case FLUSH -> image.flush();
      case READ -> image.read(offset, new byte[(int) length], 0, (int) length);
      default -> throw new IllegalStateException();
    }
  }

  String qemuIoCommand() {
    return switch (kind) {
      case WRITE -> String.format(Locale.ROOT, "write -P 0x%02x %d %d", pattern, offset, length);
      case ZERO -> String.format(Locale.ROOT, "write -z %d %d", offset, length);
      case ZERO_UNMAP -> String.format(Locale.ROOT, "write -z -u %d %d", offset, length);
      case DISCARD -> String.format(Locale.ROOT, "discard %d %d", offset, length);
      case FLUSH -> "flush";
      case READ -> String.format(Locale.ROOT, "read %d %d", offset, length);
    };
  }

  /**
   * Applies the op to a reference model of guest contents (exact for v3 images and for v2 images
   * without backing): discard zeroes only the whole clusters it covers, plus the partial last
   * cluster of the image, and leaves partial clusters alone, as QEMU does.
   */
  void applyTo(byte[] model, long clusterSize) {
    int from = (int) offset;
    int to = (int) (offset + length);
    switch (kind) {
      case WRITE -> Arrays.fill(model, from, to, (byte) pattern);
      case ZERO, ZERO_UNMAP -> Arrays.fill(model, from, to, (byte) 0);
      case DISCARD -> {
        long first = (offset + clusterSize - 1) / clusterSize * clusterSize;
        long last = (offset + length) / clusterSize * clusterSize;
        if (offset + length == model.length) {
          last = offset + length;
        }
        if (first < last) {
          Arrays.fill(model, (int) first, (int) last, (byte) 0);
        }
      }
      case FLUSH, READ -> { }
      default -> throw new IllegalStateException();
    }
  }
}
