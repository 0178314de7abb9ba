package io.blocksim.model.driver.qcow2;

import static io.blocksim.model.driver.qcow2.Qcow2State.ceilDiv;

import io.blocksim.model.check.Check;
import io.blocksim.model.driver.qcow2.Qcow2ClusterMap.Mapping;
import io.blocksim.model.port.HostIoException;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The read side of block/qcow2.c: guest reads (qcow2_co_preadv_part, qcow2_co_preadv_task,
 * qcow2_co_preadv_compressed), block status (qcow2_co_block_status with
 * qcow2_detect_metadata_preallocation) and the zero tests the write path asks before it
 * zero-fills or copies (is_zero, bdrv_co_is_zero_fast).
 */
final class Qcow2Reader {
  private final Qcow2State s;
  private final Qcow2ClusterMap map;
  private boolean metadataPreallocationChecked;
  private boolean metadataPreallocation;

  Qcow2Reader(Qcow2State s, Qcow2ClusterMap map) {
    this.s = s;
    this.map = map;
  }

  /**
   * Reads guest bytes of this image, backing chain included, one run of one cluster type at a
   * time (the loop of qcow2_co_preadv_part).
   */
  void readOwnLayer(long offset, byte[] dst, int dstOffset, long length)
      throws HostIoException {
    while (length > 0) {
      Mapping m = map.hostOffset(offset, Math.min(length, Integer.MAX_VALUE));
      int n = (int) m.bytes();
      switch (m.type()) {
        case ZERO_PLAIN, ZERO_ALLOC -> Arrays.fill(dst, dstOffset, dstOffset + n, (byte) 0);
        case UNALLOCATED -> {
          if (s.backing == null) {
            Arrays.fill(dst, dstOffset, dstOffset + n, (byte) 0);
          } else {
            s.raise("read_backing_aio");
            s.backing.read(offset, dst, dstOffset, n);
          }
        }
        case COMPRESSED -> readCompressed(m.hostOffset(), offset, dst, dstOffset, n);
        case NORMAL -> {
          s.raise("read_aio");
          s.dataFile().read(m.hostOffset(), dst, dstOffset, n);
        }
        default -> throw Check.unreachable("cluster type %s", m.type());
      }
      offset += n;
      dstOffset += n;
      length -= n;
    }
  }

  /** qcow2_co_preadv_compressed with zlib (qcow2_co_decompress). */
  private void readCompressed(long l2Entry, long offset, byte[] dst, int dstOffset, int length)
      throws HostIoException {
    if (s.header.compressionType != 0) {
      throw new HostIoException(HostIoException.ENOTSUP,
          "blocksim: zstd-compressed clusters are not modelled");
    }
    int clusterBits = s.clusterBits;
    int csizeShift = 62 - (clusterBits - 8);
    long csizeMask = (1L << (clusterBits - 8)) - 1;
    long coffset = l2Entry & ((1L << csizeShift) - 1);
    long sectors = ((l2Entry >>> csizeShift) & csizeMask) + 1;
    int csize = (int) (sectors * 512 - (coffset & 511));
    byte[] compressed = new byte[csize];
    s.raise("read_compressed");
    s.file.read(coffset, compressed, 0, csize);
    byte[] cluster = new byte[(int) s.clusterSize];
    Inflater inflater = new Inflater(true);
    try {
      inflater.setInput(compressed);
      int got = inflater.inflate(cluster);
      if (got != s.clusterSize) {
        throw new HostIoException(HostIoException.EIO, "compressed cluster too short");
      }
    } catch (DataFormatException e) {
      throw new HostIoException(HostIoException.EIO, "compressed cluster corrupt");
    } finally {
      inflater.end();
    }
    System.arraycopy(cluster, (int) (offset & (s.clusterSize - 1)), dst, dstOffset, length);
  }

  // ---------------------------------------------------------------- block status

  /**
   * Returns the image's own status at offset for at most maxLength bytes
   * (qcow2_co_block_status): DATA with its host offset, ZERO, or UNALLOCATED.
   */
  Qcow2BlockStatus blockStatus(long offset, long maxLength) throws HostIoException {
    s.checkUsable();
    long size = s.header.size;
    Check.that(offset >= 0 && offset < size, "block status offset %d outside 0..%d",
        offset, size);
    Check.that(maxLength > 0, "block status length %d not positive", maxLength);
    if (!metadataPreallocationChecked) {
      metadataPreallocation = detectMetadataPreallocation();
      metadataPreallocationChecked = true;
    }
    long bytes = Math.min(Math.min(maxLength, size - offset), Integer.MAX_VALUE);
    Mapping m = map.hostOffset(offset, bytes);
    return switch (m.type()) {
      case NORMAL -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.DATA, m.bytes(), m.hostOffset());
      case COMPRESSED -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.DATA, m.bytes(), -1);
      case ZERO_ALLOC -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.ZERO, m.bytes(),
          m.hostOffset());
      case ZERO_PLAIN -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.ZERO, m.bytes(), -1);
      case UNALLOCATED -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.UNALLOCATED, m.bytes(),
          -1);
    };
  }

  /** See {@link Qcow2Image#metadataPreallocation}. */
  boolean metadataPreallocation() {
    return metadataPreallocation;
  }

  /**
   * qcow2_detect_metadata_preallocation: far more clusters refcounted than the file has
   * allocated. The scan goes through the refcount cache, as QEMU's does.
   */
  private boolean detectMetadataPreallocation() {
    try {
      long length = s.file.length();
      long allocated = 0;
      for (long at = 0; at < length; ) {
        long run = s.file.allocationRun(at, length - at);
        if (run > 0) {
          allocated += run;
        }
        at += Math.abs(run);
      }
      long realClusters = allocated / s.clusterSize;
      long threshold = Math.max(realClusters * 10 / 9, realClusters + 2);
      long endCluster = ceilDiv(length, s.clusterSize);
      long count = 0;
      for (long i = 0; i < endCluster && count < threshold; i++) {
        count += s.refcounts.getRefcount(i) != 0 ? 1 : 0;
      }
      return count >= threshold;
    } catch (HostIoException e) {
      return false;
    }
  }

  // ---------------------------------------------------------------- zero tests

  /** Returns whether the range reads as zeroes by one block-status run (bdrv_co_is_zero_fast). */
  boolean isZeroFast(long offset, long bytes) throws HostIoException {
    if (bytes == 0) {
      return true;
    }
    long size = s.header.size;
    if (offset >= size) {
      return false;
    }
    Qcow2BlockStatus st = blockStatus(offset, Math.min(bytes, size - offset));
    if (st.lengthBytes() != bytes) {
      return false;
    }
    return switch (st.kind()) {
      case ZERO -> true;
      case DATA -> false;
      case UNALLOCATED -> s.backing == null || s.backing.isZeroFast(offset, bytes);
    };
  }

  /** Returns whether the range reads as zeroes through the chain (is_zero in qcow2.c). */
  boolean isZeroAbove(long offset, long bytes) throws HostIoException {
    if (offset + bytes > s.header.size) {
      bytes = s.header.size - offset;
    }
    while (bytes > 0) {
      Qcow2BlockStatus st = blockStatus(offset, bytes);
      boolean zero = switch (st.kind()) {
        case ZERO -> true;
        case DATA -> false;
        case UNALLOCATED -> s.backing == null || s.backing.isZero(offset, st.lengthBytes());
      };
      if (!zero) {
        return false;
      }
      offset += st.lengthBytes();
      bytes -= st.lengthBytes();
    }
    return true;
  }
}
