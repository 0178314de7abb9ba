package io.blocksim.model.driver.qcow2;

import static io.blocksim.model.driver.qcow2.Qcow2State.ceilDiv;

import io.blocksim.model.check.Check;
import io.blocksim.model.driver.qcow2.Qcow2ClusterAllocator.AllocCursor;
import io.blocksim.model.driver.qcow2.Qcow2ClusterAllocator.L2Meta;
import io.blocksim.model.driver.qcow2.Qcow2ClusterMap.ClusterType;
import io.blocksim.model.driver.qcow2.Qcow2Refcounts.DiscardType;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.LinkedList;
import java.util.List;

/**
 * The write side of block/qcow2.c: guest writes (qcow2_co_pwritev_part and
 * qcow2_co_pwritev_task with handle_alloc_space and merge_cow), write-zeroes and discard
 * (qcow2_co_pwrite_zeroes, qcow2_co_pdiscard) under the alignment loops of QEMU's generic
 * layer (bdrv_co_do_pwrite_zeroes, bdrv_co_pdiscard in block/io.c), and metadata
 * preallocation (preallocate_co).
 */
final class Qcow2Writer {
  /** QEMU's MAX_BOUNCE_BUFFER: the chunk size of the write-zeroes fallback. */
  static final int MAX_BOUNCE_BUFFER = 32768 << 9;

  private final Qcow2State s;
  private final Qcow2ClusterMap map;
  private final Qcow2ClusterAllocator allocator;
  private final Qcow2Reader reader;
  /** The scheduler of the multi-run guest write in progress, or null. */
  private Qcow2WriteScheduler scheduler;

  Qcow2Writer(Qcow2State s, Qcow2ClusterMap map, Qcow2ClusterAllocator allocator,
      Qcow2Reader reader) {
    this.s = s;
    this.map = map;
    this.allocator = allocator;
    this.reader = reader;
  }

  /** Called after every host request of the image (see YieldingHostFile). */
  void hostRequestSubmitted() {
    Qcow2WriteScheduler current = scheduler;
    if (current != null) {
      current.hostRequestSubmitted();
    }
  }

  // ---------------------------------------------------------------- guest writes

  /**
   * The loop of qcow2_co_pwritev_part. A request that fits one host run is written in place
   * of the caller, as QEMU does without a task pool; otherwise each run becomes a
   * {@link Qcow2WriteTask} of a {@link Qcow2WriteScheduler}, which interleaves the runs as
   * QEMU's coroutines interleave.
   */
  void write(long offset, byte[] src, int srcOffset, int length) throws HostIoException {
    AllocCursor first = allocator.allocHostOffset(offset, length);
    if (first.bytes == length) {
      writeRun(first.clusterOffset, offset, length, src, srcOffset, first.metas);
      return;
    }
    Check.that(scheduler == null, "nested multi-run guest writes");
    Qcow2WriteScheduler sch = new Qcow2WriteScheduler();
    scheduler = sch;
    try {
      AllocCursor c = first;
      while (true) {
        int n = (int) c.bytes;
        sch.unlockMain();
        sch.startTask(
            new Qcow2WriteTask(this, sch, c.clusterOffset, offset, n, src, srcOffset, c.metas));
        offset += n;
        srcOffset += n;
        length -= n;
        if (length == 0 || sch.failure() != null) {
          break;
        }
        sch.lockMain();
        sch.setMainAllocating(true);
        try {
          c = allocator.allocHostOffset(offset, length);
        } catch (HostIoException e) {
          sch.recordFailure(e);
          sch.setMainAllocating(false);
          sch.unlockMain();
          break;
        }
        sch.setMainAllocating(false);
      }
      sch.waitAll();
    } finally {
      scheduler = null;
    }
    if (sch.failure() != null) {
      throw sch.failure();
    }
  }

  /** Writes one host run and links its allocations (qcow2_co_pwritev_task, not yielding). */
  private void writeRun(long hostOffset, long offset, int bytes, byte[] src, int srcOffset,
      LinkedList<L2Meta> metas) throws HostIoException {
    try {
      handleAllocSpace(metas);
      if (!mergeCow(offset, bytes, src, srcOffset, metas)) {
        writeData(hostOffset, src, srcOffset, bytes);
      }
    } catch (HostIoException e) {
      allocator.abort(metas);
      throw e;
    }
    allocator.linkAll(metas);
  }

  /** The data write of a run (bdrv_co_pwritev_part to s->data_file). */
  void writeData(long hostOffset, byte[] src, int srcOffset, int bytes)
      throws HostIoException {
    s.raise("write_aio");
    s.dataFile().write(hostOffset, src, srcOffset, bytes);
  }

  void linkAll(LinkedList<L2Meta> metas) throws HostIoException {
    allocator.linkAll(metas);
  }

  void abort(LinkedList<L2Meta> metas) {
    allocator.abort(metas);
  }

  /** Zero-fills new clusters whose COW regions read as zeroes (handle_alloc_space). */
  private void handleAllocSpace(List<L2Meta> metas) throws HostIoException {
    for (L2Meta m : metas) {
      if (m.hasCow() && isZeroCow(m)) {
        zeroFillCluster(m);
      }
    }
  }

  /** is_zero_cow. */
  boolean isZeroCow(L2Meta m) throws HostIoException {
    return reader.isZeroFast(m.offset + m.cowStartOffset, m.cowStartBytes)
        && reader.isZeroFast(m.offset + m.cowEndOffset, m.cowEndBytes);
  }

  /** The zero write of handle_alloc_space; ENOTSUP leaves the COW to perform_cow. */
  void zeroFillCluster(L2Meta m) throws HostIoException {
    long start = m.allocOffset + m.cowStartOffset;
    long bytes = m.cowEndOffset + m.cowEndBytes - m.cowStartOffset;
    s.raise("cluster_alloc_space");
    try {
      s.dataFile().writeZeroes(start, bytes);
    } catch (HostIoException e) {
      if (e.errno() != HostIoException.ENOTSUP) {
        throw e;
      }
      return;
    }
    m.skipCow = true;
  }

  /** Attaches the guest data to the allocation whose COW regions surround it (merge_cow). */
  static boolean mergeCow(long offset, int bytes, byte[] src, int srcOffset,
      List<L2Meta> metas) {
    for (L2Meta m : metas) {
      if (!m.hasCow() || m.skipCow) {
        continue;
      }
      if (m.offset + m.cowStartOffset + m.cowStartBytes != offset) {
        continue;
      }
      if (m.offset + m.cowEndOffset != offset + bytes) {
        continue;
      }
      m.data = src;
      m.dataOffset = srcOffset;
      return true;
    }
    return false;
  }

  // ---------------------------------------------------------------- zeroes and discard

  /**
   * Writes zeroes as QEMU's generic bdrv_co_do_pwrite_zeroes drives qcow2: cluster-aligned
   * parts become zero clusters (v3) or are discarded (v2 without backing); unaligned heads and
   * tails that do not already read as zero, and everything on v2 with a backing file, fall back
   * to writing a zero buffer through the normal write path.
   */
  void writeZeroes(long offset, long length, boolean mayUnmap) throws HostIoException {
    // MAY_UNMAP arrives already filtered by BlockIo (kept on a BlockBackend's root whatever its
    // discard option); qcow2 v2 supports no zero flags at all (supported_zero_flags).
    boolean unmap = mayUnmap && s.header.version >= 3;
    long alignment = s.clusterSize;
    long head = offset % alignment;
    long tail = (offset + length) % alignment;
    while (length > 0) {
      long num = length;
      if (head != 0) {
        num = Math.min(Math.min(length, MAX_BOUNCE_BUFFER), alignment - head);
        head = (head + num) % alignment;
      } else if (tail != 0 && num > alignment) {
        num -= tail;
      }
      if (!tryWriteZeroes(offset, num, unmap)) {
        num = Math.min(num, MAX_BOUNCE_BUFFER);
        write(offset, new byte[(int) num], 0, (int) num);
      }
      offset += num;
      length -= num;
    }
  }

  /**
   * Returns false for QEMU's -ENOTSUP: the driver cannot express these zeroes with metadata
   * (qcow2_co_pwrite_zeroes).
   */
  private boolean tryWriteZeroes(long offset, long bytes, boolean mayUnmap)
      throws HostIoException {
    long clusterSize = s.clusterSize;
    long head = offset & (clusterSize - 1);
    long tail = ceilDiv(offset + bytes, clusterSize) * clusterSize - (offset + bytes);
    if (offset + bytes == s.header.size) {
      tail = 0;
    }
    if (head != 0 || tail != 0) {
      Check.that(head + bytes + tail <= clusterSize, "unaligned zero write %d+%d spans clusters",
          offset, bytes);
      if (!(reader.isZeroAbove(offset - head, head)
          && reader.isZeroAbove(offset + bytes, tail))) {
        return false;
      }
      offset -= head;
      bytes = clusterSize;
      ClusterType type = map.hostOffset(offset, clusterSize).type();
      if (type != ClusterType.UNALLOCATED && type != ClusterType.ZERO_PLAIN
          && type != ClusterType.ZERO_ALLOC) {
        return false;
      }
    }
    return map.zeroize(offset, bytes, mayUnmap);
  }

  /**
   * Discards guest clusters as QEMU's bdrv_co_pdiscard drives qcow2: only whole clusters (and
   * the partial last cluster of the image) are discarded; partial clusters are ignored.
   */
  void discard(long offset, long length) throws HostIoException {
    long alignment = s.clusterSize;
    long head = offset % alignment;
    long tail = (offset + length) % alignment;
    while (length > 0) {
      long num = length;
      if (head != 0) {
        num = Math.min(length, alignment - head);
        head = (head + num) % alignment;
      } else if (tail != 0 && num > alignment) {
        num -= tail;
      }
      tryDiscard(offset, num);
      offset += num;
      length -= num;
    }
  }

  /** qcow2_co_pdiscard. */
  private void tryDiscard(long offset, long bytes) throws HostIoException {
    if (s.header.version < 3 && s.backing != null) {
      return;
    }
    long clusterSize = s.clusterSize;
    if (((offset | bytes) & (clusterSize - 1)) != 0) {
      if ((offset & (clusterSize - 1)) != 0 || offset + bytes != s.header.size) {
        return;
      }
    }
    map.discard(offset, bytes, DiscardType.REQUEST, false);
  }

  // ---------------------------------------------------------------- preallocation

  /**
   * Maps every cluster of [offset, offset + bytes) (preallocate_co with metadata
   * preallocation, as data_file_raw enforces), then grows the data file to cover them.
   */
  void preallocateMetadata(long offset, long bytes) throws HostIoException {
    long clusterSize = s.clusterSize;
    long hostEnd = 0;
    while (bytes > 0) {
      long chunk = Math.min(bytes, (Integer.MAX_VALUE / clusterSize) * clusterSize);
      AllocCursor c = allocator.allocHostOffset(offset, chunk);
      allocator.linkAll(c.metas);
      hostEnd = c.clusterOffset + c.bytes;
      bytes -= c.bytes;
      offset += c.bytes;
    }
    if (hostEnd > s.dataFile().length()) {
      growDataFile(s.dataFile(), hostEnd);
    }
  }

  /**
   * Grows the data file as file-posix truncates: growing an empty file also allocates its
   * first block (allocate_first_block), which shows in its allocated size.
   */
  static void growDataFile(HostFile dataFile, long length) throws HostIoException {
    HostFile.truncateFile(dataFile, length);
  }
}
