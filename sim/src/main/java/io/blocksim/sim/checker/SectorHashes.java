package io.blocksim.sim.checker;

import io.blocksim.model.driver.qcow2.Qcow2BlockStatus;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.Arrays;
import java.util.function.LongPredicate;

/**
 * A 64-bit hash (FNV-1a) of every guest sector of an image's own layer, kept only for sectors
 * that are not all zeroes, in sector order. Building it costs what the image holds, not its size:
 * only runs the image maps to data are read, holes of the file under a data run are known to read
 * as zeroes without reading them, and a sector whose bytes are all equal (a pattern write) is
 * hashed from a table. Comparing two costs the sectors either one holds.
 */
public final class SectorHashes {
  static final int SECTOR_BYTES = 512;

  /** The hash of a sector whose 512 bytes all have the index's value. */
  private static final long[] UNIFORM = new long[256];
  private static final byte[][] UNIFORM_SECTOR = new byte[256][SECTOR_BYTES];

  static {
    for (int value = 0; value < 256; value++) {
      Arrays.fill(UNIFORM_SECTOR[value], (byte) value);
      UNIFORM[value] = fnv(UNIFORM_SECTOR[value], 0, SECTOR_BYTES);
    }
  }

  /** The most read at once (a default cluster: reads are sector-aligned, whatever the size). */
  private static final int CHUNK_BYTES = 64 << 10;

  private final long sectorCount;
  private final int tailBytes; // Bytes of a partial last sector, or 0.
  private long[] sectors = new long[16];
  private long[] hashes = new long[16];
  private int size;
  /** The read buffer while {@link #of} hashes, then null. */
  private byte[] buffer;

  private SectorHashes(long lengthBytes) {
    this.sectorCount = (lengthBytes + SECTOR_BYTES - 1) / SECTOR_BYTES;
    this.tailBytes = (int) (lengthBytes % SECTOR_BYTES);
  }

  /** Returns how many sectors the image has (the last may be partial). */
  long sectorCount() {
    return sectorCount;
  }

  /**
   * Hashes the image's own layer (no backing file: unallocated reads as zeroes). dataHost is the
   * file its data clusters live in (the external data file, or the image file itself).
   */
  static SectorHashes of(Qcow2Image image, HostFile dataHost) throws HostIoException {
    long length = image.virtualSize();
    SectorHashes result = new SectorHashes(length);
    long offset = 0;
    while (offset < length) {
      Qcow2BlockStatus status = image.blockStatus(offset, length - offset);
      long end = Math.min(length, offset + Math.max(1, status.lengthBytes()));
      if (status.kind() == Qcow2BlockStatus.Kind.DATA) {
        result.addData(image, dataHost, status, offset, end);
      }
      offset = end;
    }
    result.buffer = null;
    return result;
  }

  /** Hashes the first length bytes of a raw file (proposal:qbm's data image). */
  static SectorHashes ofRaw(HostFile file, long length) throws HostIoException {
    SectorHashes result = new SectorHashes(length);
    byte[] buffer = new byte[(int) Math.min(CHUNK_BYTES, Math.max(length, 1))];
    for (long at = 0; at < length; at += buffer.length) {
      int n = (int) Math.min(buffer.length, length - at);
      file.read(at, buffer, 0, n);
      result.addSectors(at, buffer, n);
    }
    return result;
  }

  /** Adds a data run [start, end): file holes under it are zeroes, the rest is read. */
  private void addData(Qcow2Image image, HostFile dataHost, Qcow2BlockStatus status, long start,
      long end) throws HostIoException {
    long at = start; // Always a sector boundary: runs start on cluster boundaries.
    while (at < end) {
      long run = status.hostOffsetValid() && dataHost != null
          ? dataHost.allocationRun(status.hostOffset() + (at - start), end - at)
          : end - at;
      if (run < 0) {
        long zeroEnd = (at - run) / SECTOR_BYTES * SECTOR_BYTES;
        if (zeroEnd > at) {
          at = zeroEnd; // Whole sectors of a hole: zeroes, nothing to keep.
          continue;
        }
        run = Math.min(SECTOR_BYTES, end - at); // Less than a sector of hole: read it.
      }
      long readEnd = Math.min(end, ceilToSector(at + run));
      byte[] buffer = buffer(readEnd - at);
      while (at < readEnd) {
        int count = (int) Math.min(buffer.length, readEnd - at);
        image.read(at, buffer, 0, count);
        addSectors(at, buffer, count);
        at += count;
      }
    }
  }

  /**
   * The read buffer of {@link #of}: as large as the longest data run read so far, up to
   * {@link #CHUNK_BYTES} (a sweep hashes images at many crash points; a MiB for each was a fifth
   * of what a sweep allocated).
   */
  private byte[] buffer(long wanted) {
    int size = (int) Math.min(CHUNK_BYTES, wanted);
    if (buffer == null || buffer.length < size) {
      buffer = new byte[Math.max(size, buffer == null ? 0 : Math.min(CHUNK_BYTES,
          2 * buffer.length))];
    }
    return buffer;
  }

  private void addSectors(long offset, byte[] buffer, int count) {
    for (int i = 0; i < count; i += SECTOR_BYTES) {
      int n = Math.min(SECTOR_BYTES, count - i);
      long sector = (offset + i) / SECTOR_BYTES;
      int value = buffer[i] & 0xff;
      if (n == SECTOR_BYTES && Arrays.equals(buffer, i, i + n, UNIFORM_SECTOR[value], 0, n)) {
        if (value != 0) {
          add(sector, UNIFORM[value]);
        }
      } else if (n < SECTOR_BYTES || !isZero(buffer, i, n)) {
        add(sector, fnv(buffer, i, n));
      }
    }
  }

  private static boolean isZero(byte[] buffer, int from, int n) {
    return Arrays.equals(buffer, from, from + n, UNIFORM_SECTOR[0], 0, n);
  }

  private void add(long sector, long hash) {
    if (size > 0 && sectors[size - 1] == sector) {
      hashes[size - 1] = hash; // A sector read twice (a hole shorter than a sector).
      return;
    }
    if (size == sectors.length) {
      sectors = Arrays.copyOf(sectors, size * 2);
      hashes = Arrays.copyOf(hashes, size * 2);
    }
    sectors[size] = sector;
    hashes[size] = hash;
    size++;
  }

  /**
   * Returns the first sector (lowest first) below this image's sector count whose hash differs
   * from then's and that covered does not accept, or -1.
   */
  long firstUncoveredChange(SectorHashes then, LongPredicate covered) {
    int i = 0;
    int j = 0;
    while (i < size || j < then.size) {
      long a = i < size ? sectors[i] : Long.MAX_VALUE;
      long b = j < then.size ? then.sectors[j] : Long.MAX_VALUE;
      long sector = Math.min(a, b);
      if (sector >= sectorCount) {
        return -1;
      }
      long now = a == sector ? hashes[i++] : zeroHash(sector);
      long before = b == sector ? then.hashes[j++] : then.zeroHash(sector);
      if (now != before && !covered.test(sector)) {
        return sector;
      }
    }
    return -1;
  }

  /** The hash of an all-zero sector at that index (the last one may be partial). */
  private long zeroHash(long sector) {
    return sector == sectorCount - 1 && tailBytes > 0
        ? fnv(UNIFORM_SECTOR[0], 0, tailBytes) : UNIFORM[0];
  }

  private static long ceilToSector(long offset) {
    return (offset + SECTOR_BYTES - 1) / SECTOR_BYTES * SECTOR_BYTES;
  }

  static long fnv(byte[] bytes, int from, int count) {
    long h = 0xcbf29ce484222325L;
    for (int i = from; i < from + count; i++) {
      h = (h ^ (bytes[i] & 0xff)) * 0x100000001b3L;
    }
    return h;
  }
}
