package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.sim.prng.Prng;
import io.blocksim.sim.prng.Ratio;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * One file of the {@link FakeDisk}: a durable image (what the disk holds), the unflushed requests
 * in order, and the current image (durable plus every unflushed request), which reads see. The two
 * images share pages, so unflushed requests cost only the pages they changed.
 */
final class FakeFile implements HostFile {
  /** The largest end offset a request may reach (a whole number of pages below 2^63). */
  static final long MAX_LENGTH_BYTES = Long.MAX_VALUE - (Long.MAX_VALUE % Page.SIZE_BYTES);

  /** The unit a power loss tears a request at: a disk sector. */
  static final long SECTOR_BYTES = 512;

  private final FakeDisk disk;
  private final String path;
  private final ArrayDeque<UnflushedOp> unflushed = new ArrayDeque<>();
  private PageImage durable = new PageImage();
  private PageImage current = new PageImage();
  private long opCount;

  FakeFile(FakeDisk disk, String path) {
    this.disk = disk;
    this.path = path;
  }

  @Override
  public long length() {
    return current.lengthBytes();
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException {
    checkRange(offset, length);
    if (!(offset <= Long.MAX_VALUE - length)) {
      throw Check.failure("file '%s': read past 2^63", path);
    }
    if (!(dstOffset >= 0 && dstOffset + length <= dst.length)) {
      throw Check.failure("file '%s': read into [%d, +%d) of a %d-byte buffer",
          path, dstOffset, length, dst.length);
    }
    disk.checkPowered(path);
    current.read(offset, dst, dstOffset, length);
  }

  @Override
  public void write(long offset, byte[] src, int srcOffset, int length) throws HostIoException {
    checkRange(offset, length);
    if (!(srcOffset >= 0 && srcOffset + length <= src.length)) {
      throw Check.failure("file '%s': write from [%d, +%d) of a %d-byte buffer",
          path, srcOffset, length, src.length);
    }
    disk.checkPowered(path);
    checkEnd(offset + length);
    DiskOp op = disk.nextOp(path, DiskOp.Kind.WRITE, offset, length);
    UnflushedOp.Write write = copyOfWrite(op, src, srcOffset, length);
    write.applyTo(current, length);
    addUnflushed(write);
    disk.opDone(op);
  }

  @Override
  public void writeZeroes(long offset, long length) throws HostIoException {
    checkRange(offset, length);
    disk.checkPowered(path);
    checkEnd(offset + length);
    DiskOp op = disk.nextOp(path, DiskOp.Kind.WRITE_ZEROES, offset, length);
    UnflushedOp zero = new UnflushedOp.ZeroRange(op, true);
    zero.applyTo(current, length);
    addUnflushed(zero);
    disk.opDone(op);
  }

  @Override
  public void discard(long offset, long length) throws HostIoException {
    checkRange(offset, length);
    disk.checkPowered(path);
    // A punched hole never extends the file (FALLOC_FL_KEEP_SIZE), so clip to the length now.
    long clipped = Math.max(0, Math.min(length, current.lengthBytes() - offset));
    DiskOp op = disk.nextOp(path, DiskOp.Kind.DISCARD, offset, clipped);
    UnflushedOp discard = new UnflushedOp.ZeroRange(op, false);
    discard.applyTo(current, clipped);
    addUnflushed(discard);
    disk.opDone(op);
  }

  @Override
  public void truncate(long length) throws HostIoException {
    if (!(length >= 0)) {
      throw Check.failure("file '%s': truncate to negative length %d", path, length);
    }
    disk.checkPowered(path);
    checkEnd(length);
    DiskOp op = disk.nextOp(path, DiskOp.Kind.TRUNCATE, 0, length);
    UnflushedOp truncate = new UnflushedOp.Truncate(op, current.lengthBytes());
    truncate.applyTo(current, length);
    addUnflushed(truncate);
    disk.opDone(op);
  }

  @Override
  public void flush() throws HostIoException {
    disk.checkPowered(path);
    DiskOp op = disk.nextOp(path, DiskOp.Kind.FLUSH, 0, 0);
    makeDurable();
    disk.opDone(op);
  }

  /**
   * The allocated size as {@code st_blocks} counts it: every page, unwritten ones included (a
   * zero range allocates on ext4), which {@link #allocationRun}'s SEEK_DATA view does not show,
   * plus the blocks of ext4's extent tree once the extents outgrow the inode
   * ({@link PageImage#extentTreePages}).
   */
  @Override
  public long allocatedBytes() {
    return ((long) current.pageCount() + current.extentTreePages()) * Page.SIZE_BYTES;
  }

  @Override
  public long allocationRun(long offset, long maxLength) {
    if (!(offset >= 0)) {
      throw Check.failure("file '%s': allocationRun at negative offset %d", path, offset);
    }
    if (!(maxLength >= 0)) {
      throw Check.failure("file '%s': negative maxLength %d", path, maxLength);
    }
    long run = current.allocationRun(offset, maxLength);
    if (maxLength > 0) {
      if (!(run != 0)) {
        throw Check.failure("file '%s': empty allocation run at %d", path, offset);
      }
    }
    if (!(Math.abs(run) <= maxLength)) {
      throw Check.failure("file '%s': run %d exceeds %d", path, run, maxLength);
    }
    return run;
  }

  String path() {
    return path;
  }

  PageImage current() {
    return current;
  }

  long opCount() {
    return opCount;
  }

  void countOp() {
    opCount++;
  }

  int unflushedCount() {
    return unflushed.size();
  }

  /** Returns heap bytes held by pages (each shared array once, via seen) and unflushed data. */
  long retainedBytes(Set<Object> seen) {
    long[] total = {0};
    for (PageImage image : List.of(durable, current)) {
      image.forEachPage((index, page) -> {
        // A byte array may be shared by pages; a compact page is its own identity.
        Object identity = page.bytesOrNull() != null ? page.bytesOrNull() : page;
        if (page.retainedBytes() > 0 && seen.add(identity)) {
          total[0] += page.retainedBytes();
        }
      });
    }
    for (UnflushedOp op : unflushed) {
      total[0] += op.retainedBytes();
    }
    return total[0];
  }

  /** Returns a copy of this file (pages shared, unflushed requests in order) on another disk. */
  FakeFile copyInto(FakeDisk other) {
    FakeFile copy = new FakeFile(other, path);
    copy.durable = durable.copy();
    copy.current = current.copy();
    copy.unflushed.addAll(unflushed);
    copy.opCount = opCount;
    return copy;
  }

  /** Replaces the contents outright, durable at once (an import). */
  void replaceDurably(PageImage image) {
    unflushed.clear();
    durable = image;
    current = image.copy();
  }

  /**
   * Loses the volatile cache as a power cut would: each unflushed request, oldest first, is kept
   * or dropped, and a kept range request may be torn to a sector prefix. Returns the fates.
   */
  List<OpFate> losePower(Prng prng, Ratio keep, Ratio tear) {
    List<OpFate> fates = new ArrayList<>(unflushed.size());
    for (UnflushedOp pending : unflushed) {
      OpFate fate = drawFate(pending, prng, keep, tear);
      if (fate.fate() != OpFate.Fate.DROPPED) {
        pending.applyTo(durable, fate.keptBytes());
      }
      fates.add(fate);
    }
    unflushed.clear();
    current = durable.copy();
    return fates;
  }

  private static OpFate drawFate(UnflushedOp pending, Prng prng, Ratio keep, Ratio tear) {
    DiskOp op = pending.op();
    if (!prng.chance(keep)) {
      return new OpFate(op, OpFate.Fate.DROPPED, 0);
    }
    long sectors = sectorCount(op.offsetBytes(), op.lengthBytes());
    if (!pending.tearable() || sectors < 2 || !prng.chance(tear)) {
      return new OpFate(op, OpFate.Fate.KEPT, op.lengthBytes());
    }
    long keptSectors = prng.rangeInclusive(0, sectors - 1);
    long keptEnd = (op.offsetBytes() / SECTOR_BYTES + keptSectors) * SECTOR_BYTES;
    long keptBytes = Math.max(0, keptEnd - op.offsetBytes());
    return new OpFate(op, OpFate.Fate.TORN, keptBytes);
  }

  /** Returns how many 512-byte sectors of the address space the byte range touches. */
  static long sectorCount(long offset, long length) {
    if (length == 0) {
      return 0;
    }
    return (offset + length - 1) / SECTOR_BYTES - offset / SECTOR_BYTES + 1;
  }

  private void makeDurable() {
    // Once flushed the two images are equal, so a chunk a request touched is taken whole and
    // shared (a long range page by page, as a truncate's reaches every page).
    for (UnflushedOp pending : unflushed) {
      long first = pending.firstPageIndex();
      long last = pending.lastPageIndex();
      if (last - first < 4 * PageImage.CHUNK_PAGES) {
        durable.adoptChunksFrom(current, first, last);
      } else {
        durable.copyPagesFrom(current, first, last);
      }
    }
    durable.adoptLength(current.lengthBytes());
    unflushed.clear();
  }

  private void addUnflushed(UnflushedOp pending) {
    unflushed.addLast(pending);
    if (unflushed.size() > disk.config().unflushedOpsMax()) {
      // Kernel writeback: the oldest request reaches the disk without being asked to.
      UnflushedOp oldest = unflushed.removeFirst();
      oldest.applyTo(durable, oldest.op().lengthBytes());
    }
  }

  private static UnflushedOp.Write copyOfWrite(DiskOp op, byte[] src, int srcOffset, int length) {
    byte first = length == 0 ? 0 : src[srcOffset];
    if (Page.uniform(src, srcOffset, length)) {
      return new UnflushedOp.Write(op, null, first, null);
    }
    if (op.offsetBytes() % Page.SIZE_BYTES == 0 && length % Page.SIZE_BYTES == 0) {
      Page[] pages = new Page[length / Page.SIZE_BYTES];
      for (int i = 0; i < pages.length; i++) {
        int from = srcOffset + i * Page.SIZE_BYTES;
        pages[i] = Page.copyOf(src, from);
      }
      return new UnflushedOp.Write(op, null, (byte) 0, pages);
    }
    byte[] data = Arrays.copyOfRange(src, srcOffset, srcOffset + length);
    return new UnflushedOp.Write(op, data, (byte) 0, null);
  }

  private void checkRange(long offset, long length) {
    if (!(offset >= 0)) {
      throw Check.failure("file '%s': negative offset %d", path, offset);
    }
    if (!(length >= 0)) {
      throw Check.failure("file '%s': negative length %d", path, length);
    }
  }

  private void checkEnd(long endBytes) throws HostIoException {
    if (endBytes <= current.lengthBytes() && endBytes >= 0) {
      return; // Within the file: never too large, never out of space.
    }
    if (endBytes < 0 || endBytes > MAX_LENGTH_BYTES) {
      throw new HostIoException(HostIoException.EFBIG, "file '" + path + "': file too large");
    }
    if (endBytes > disk.sizeLimitBytes(path)) {
      throw new HostIoException(
          HostIoException.ENOSPC, "file '" + path + "': size limit reached");
    }
  }
}
