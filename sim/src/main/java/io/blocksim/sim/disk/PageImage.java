package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import java.util.Arrays;

/**
 * The contents of one file as a sparse map of page index to {@link Page}, plus the length. A page
 * that is absent is a hole and reads as zeroes. Invariant: every byte at or beyond the length reads
 * as zero, and no page lies wholly beyond the length, so growing a file never uncovers old data.
 *
 * <p>Which pages are holes follows Linux on ext4: writing (even zeroes) allocates the touched
 * pages; punching a hole frees the pages it covers whole and writes zeroes into pages it covers in
 * part, which stay allocated if they were; a zero range leaves every page it touches allocated but
 * unwritten ({@link Page#UNWRITTEN}: counted by {@link #pageCount}, a hole for SEEK_DATA).
 *
 * <p>Pages are kept in chunks of {@link #CHUNK_PAGES} consecutive pages (64 KiB, a default qcow2
 * cluster) in a sorted map of chunk index to an array with null for a hole, so that a request of a
 * cluster costs one map lookup rather than one per page. Each image owns its chunk arrays (copies
 * copy them) and shares the immutable pages. A chunk with no page is removed at once.
 */
final class PageImage {
  private static final long PAGE = Page.SIZE_BYTES;
  static final int CHUNK_SHIFT = 4;
  static final int CHUNK_PAGES = 1 << CHUNK_SHIFT;
  private static final int CHUNK_MASK = CHUNK_PAGES - 1;

  /** Visits pages in index order. */
  interface PageVisitor {
    void visit(long index, Page page);
  }

  private final ChunkMap chunks;
  private long lengthBytes;
  private int pageCount;
  /** The last chunk looked up, a cache for runs of requests to one chunk (null: none). */
  private long lastKey = -1;
  private Page[] lastChunk;

  PageImage() {
    this(new ChunkMap(), 0, 0);
  }

  private PageImage(ChunkMap chunks, long lengthBytes, int pageCount) {
    this.chunks = chunks;
    this.lengthBytes = lengthBytes;
    this.pageCount = pageCount;
  }

  /** Returns a copy that shares the (immutable) pages. */
  PageImage copy() {
    return new PageImage(chunks.copy(), lengthBytes, pageCount);
  }

  long lengthBytes() {
    return lengthBytes;
  }

  /**
   * Returns whether other reads the same bytes with the same pages allocated (holes and
   * {@link Page#UNWRITTEN} pages alike): shared pages at once, other pages byte by byte.
   */
  boolean sameContent(PageImage other) {
    if (lengthBytes != other.lengthBytes || pageCount != other.pageCount) {
      return false;
    }
    byte[][] scratch = new byte[2][]; // Page buffers, made for the first pages not shared.
    return chunks.allChunksMatch(other.chunks, (mine, theirs) -> {
      for (int i = 0; i < CHUNK_PAGES; i++) {
        if (mine[i] == theirs[i]) {
          continue;
        }
        if (mine[i] == null || theirs[i] == null) {
          return false;
        }
        if (scratch[0] == null) {
          scratch[0] = new byte[Page.SIZE_BYTES];
          scratch[1] = new byte[Page.SIZE_BYTES];
        }
        if (!Page.sameContent(mine[i], theirs[i], scratch[0], scratch[1])) {
          return false;
        }
      }
      return true;
    });
  }

  int pageCount() {
    return pageCount;
  }

  /** Extents of ext4's inode (i_block: a 12-byte header and four 12-byte extents). */
  private static final int INODE_EXTENTS = 4;
  /** Extents of one 4 KiB tree block (a 12-byte header, 12-byte entries). */
  private static final int BLOCK_EXTENTS = (4096 - 12) / 12;
  /** The longest extent ext4 makes of written blocks; unwritten ones hold one block less. */
  private static final long MAX_WRITTEN_EXTENT = 32768;

  /**
   * The pages ext4 spends on the file's extent tree, which {@code st_blocks} counts beside the
   * data: none while the extents fit in the inode (four), else one leaf block per 340 extents
   * and, past four leaves, index blocks above them. An extent here is a run of consecutive
   * allocated pages of one kind (written or {@link Page#UNWRITTEN}: a zero range's unwritten
   * pages and the data written into them are separate extents, as {@code filefrag -v} shows),
   * cut at ext4's longest extent. Physical discontinuity, which also splits extents on a real
   * disk, is not modelled, so this is a lower bound that matches small files.
   */
  long extentTreePages() {
    long[] run = {-2, 0, 0, 0}; // last index, last kind (1 = unwritten), run length, extents
    forEachPage((index, page) -> {
      long kind = page == Page.UNWRITTEN ? 1 : 0;
      long max = MAX_WRITTEN_EXTENT - kind;
      if (index == run[0] + 1 && kind == run[1] && run[2] < max) {
        run[2]++;
      } else {
        run[3]++;
        run[1] = kind;
        run[2] = 1;
      }
      run[0] = index;
    });
    long extents = run[3];
    if (extents <= INODE_EXTENTS) {
      return 0;
    }
    long pages = 0;
    for (long level = extents; level > INODE_EXTENTS; ) {
      level = (level + BLOCK_EXTENTS - 1) / BLOCK_EXTENTS;
      pages += level;
    }
    return pages;
  }

  /** Visits every page (not the holes) in index order; the visitor must not change the image. */
  void forEachPage(PageVisitor visitor) {
    chunks.forEach((key, chunk) -> {
      long base = key << CHUNK_SHIFT;
      for (int i = 0; i < CHUNK_PAGES; i++) {
        if (chunk[i] != null) {
          visitor.visit(base + i, chunk[i]);
        }
      }
    });
  }

  /** Returns the page at index, or null for a hole. */
  Page page(long index) {
    Page[] chunk = chunk(index >>> CHUNK_SHIFT);
    return chunk == null ? null : chunk[(int) (index & CHUNK_MASK)];
  }

  private Page[] chunk(long key) {
    if (key != lastKey) {
      lastChunk = chunks.get(key);
      lastKey = key;
    }
    return lastChunk;
  }

  /** Returns the chunk at key for a change (this image's own array), or null. */
  private Page[] writableChunk(long key) {
    lastChunk = chunks.writable(key);
    lastKey = key;
    return lastChunk;
  }

  /** Puts a page (non-null) at index, creating its chunk if needed. */
  private void put(long index, Page page) {
    long key = index >>> CHUNK_SHIFT;
    Page[] chunk = chunk(key);
    if (chunk != null && chunk[(int) (index & CHUNK_MASK)] == page) {
      return;
    }
    chunk = chunk == null ? null : writableChunk(key);
    if (chunk == null) {
      chunk = new Page[CHUNK_PAGES];
      chunks.put(key, chunk);
      lastChunk = chunk;
    }
    int slot = (int) (index & CHUNK_MASK);
    if (chunk[slot] == null) {
      pageCount++;
    }
    chunk[slot] = page;
  }

  /** Makes the page at index a hole, dropping its chunk when that was its last page. */
  private void remove(long index) {
    long key = index >>> CHUNK_SHIFT;
    Page[] chunk = chunk(key);
    int slot = (int) (index & CHUNK_MASK);
    if (chunk == null || chunk[slot] == null) {
      return;
    }
    chunk = writableChunk(key);
    chunk[slot] = null;
    pageCount--;
    if (isEmpty(chunk)) {
      chunks.remove(key);
      lastChunk = null;
    }
  }

  private static boolean isEmpty(Page[] chunk) {
    for (Page page : chunk) {
      if (page != null) {
        return false;
      }
    }
    return true;
  }

  private static int count(Page[] chunk) {
    int n = 0;
    for (Page page : chunk) {
      if (page != null) {
        n++;
      }
    }
    return n;
  }

  /** Makes pages [first, last] (inclusive) holes. */
  private void removePages(long first, long last) {
    if (first > last) {
      return;
    }
    long firstKey = first >>> CHUNK_SHIFT;
    long lastKeyInRange = last >>> CHUNK_SHIFT;
    // Whole chunks strictly inside the range go at once; the two end chunks page by page.
    if (lastKeyInRange - firstKey > 1) {
      for (long key = chunks.ceilingKey(firstKey + 1); key >= 0 && key < lastKeyInRange;
          key = chunks.ceilingKey(key + 1)) {
        pageCount -= count(chunks.get(key));
        chunks.remove(key);
      }
      lastKey = -1;
      lastChunk = null;
    }
    removeWithinChunk(first, Math.min(last, (firstKey << CHUNK_SHIFT) + CHUNK_MASK));
    if (lastKeyInRange != firstKey) {
      removeWithinChunk(lastKeyInRange << CHUNK_SHIFT, last);
    }
  }

  /** Makes pages [first, last] of one chunk holes. */
  private void removeWithinChunk(long first, long last) {
    long key = first >>> CHUNK_SHIFT;
    Page[] chunk = writableChunk(key);
    if (chunk == null) {
      return;
    }
    for (int slot = (int) (first & CHUNK_MASK); slot <= (int) (last & CHUNK_MASK); slot++) {
      if (chunk[slot] != null) {
        chunk[slot] = null;
        pageCount--;
      }
    }
    if (isEmpty(chunk)) {
      chunks.remove(key);
      lastChunk = null;
    }
  }

  void read(long offset, byte[] dst, int dstOffset, int count) {
    long position = offset;
    int done = 0;
    while (done < count) {
      long index = position / PAGE;
      long key = index >>> CHUNK_SHIFT;
      if (chunk(key) == null) {
        // A hole up to the next chunk present: zeroes at once, not chunk by chunk.
        long next = chunks.ceilingKey(key + 1);
        long holeEnd = next < 0 ? Long.MAX_VALUE : (next << CHUNK_SHIFT) * PAGE;
        int n = (int) Math.min(count - done, holeEnd - position);
        Arrays.fill(dst, dstOffset + done, dstOffset + done + n, (byte) 0);
        done += n;
        position += n;
        continue;
      }
      int pageOffset = (int) (position % PAGE);
      int chunk = (int) Math.min(count - done, PAGE - pageOffset);
      Page page = page(index);
      if (page == null) {
        Arrays.fill(dst, dstOffset + done, dstOffset + done + chunk, (byte) 0);
      } else {
        page.copyTo(pageOffset, dst, dstOffset + done, chunk);
      }
      done += chunk;
      position += chunk;
    }
  }

  /** Writes the bytes, allocating every touched page and extending the length if needed. */
  void write(long offset, byte[] src, int srcOffset, long count) {
    long position = offset;
    long done = 0;
    while (done < count) {
      long index = position / PAGE;
      int pageOffset = (int) (position % PAGE);
      int chunk = (int) Math.min(count - done, PAGE - pageOffset);
      Page base = page(index);
      put(index, written(base)
          .overwrite(pageOffset, src, srcOffset + (int) done, chunk));
      done += chunk;
      position += chunk;
    }
    if (count > 0) {
      extendTo(offset + count);
    }
  }

  /** Puts a whole page at index (a page-aligned write of it), extending the length if needed. */
  void writePage(long index, Page page) {
    put(index, page);
    extendTo((index + 1) * PAGE);
  }

  /** Writes count copies of value, allocating every touched page and extending the length. */
  void fill(long offset, long count, byte value) {
    long position = offset;
    long done = 0;
    while (done < count) {
      long index = position / PAGE;
      int pageOffset = (int) (position % PAGE);
      int chunk = (int) Math.min(count - done, PAGE - pageOffset);
      Page base = page(index);
      put(index, written(base).fill(pageOffset, chunk, value));
      done += chunk;
      position += chunk;
    }
    if (count > 0) {
      extendTo(offset + count);
    }
  }

  /** The page a write starts from: a hole or an unwritten page reads as zeroes. */
  private static Page written(Page base) {
    return base == null || base == Page.UNWRITTEN ? Page.uniform((byte) 0) : base;
  }

  /**
   * Zeroes the range as {@code fallocate} does, without extending the length. A punched hole
   * ({@code allocate} false) makes the whole pages holes; a zero range ({@code allocate} true,
   * ext4's FALLOC_FL_ZERO_RANGE) makes every page it touches that was a hole or is covered whole
   * an allocated {@link Page#UNWRITTEN} page. Partly covered data pages get zeroes.
   */
  void zeroRange(long offset, long count, boolean allocate) {
    if (count == 0) {
      return;
    }
    long end = offset + count;
    long firstWhole = ceilDiv(offset, PAGE);
    long endWhole = end / PAGE;
    long firstIndex = offset / PAGE;
    long lastIndex = (end - 1) / PAGE;
    if (allocate) {
      for (long index = firstIndex; index <= lastIndex; index++) {
        Page page = page(index);
        if (page == null || (index >= firstWhole && index < endWhole)) {
          put(index, Page.UNWRITTEN);
        } else if (page != Page.UNWRITTEN) {
          zeroPartOfPage(index, offset, end);
        }
      }
      return;
    }
    if (firstWhole < endWhole) {
      removePages(firstWhole, endWhole - 1);
    }
    zeroPartOfPage(firstIndex, offset, end);
    if (lastIndex != firstIndex) {
      zeroPartOfPage(lastIndex, offset, end);
    }
  }

  /** Sets the length; shrinking drops the pages beyond it and zeroes the tail of the last one. */
  void setLength(long newLengthBytes) {
    if (newLengthBytes < lengthBytes) {
      removePages(ceilDiv(newLengthBytes, PAGE), Long.MAX_VALUE);
      if (newLengthBytes % PAGE != 0) {
        zeroPartOfPage(newLengthBytes / PAGE, newLengthBytes, ceilDiv(newLengthBytes, PAGE) * PAGE);
      }
    }
    lengthBytes = newLengthBytes;
  }

  /**
   * Returns the length of the run from offset (at most maxLength) that is all data (positive) or
   * all hole (negative). Bytes at or beyond the length are a hole.
   */
  long allocationRun(long offset, long maxLength) {
    if (maxLength == 0) {
      return 0;
    }
    long limit = maxLength > Long.MAX_VALUE - offset ? Long.MAX_VALUE : offset + maxLength;
    if (offset >= lengthBytes) {
      return -(limit - offset);
    }
    long index = offset / PAGE;
    if (isData(page(index))) {
      // Walk the run page by page within a chunk, chunk by chunk in key order.
      long next = index + 1;
      long dataLimit = Math.min(limit, lengthBytes);
      while (next * PAGE < dataLimit && isData(page(next))) {
        next++;
      }
      return Math.min(dataLimit, next * PAGE) - offset;
    }
    long nextData = nextPage(index + 1);
    long holeEnd = nextData < 0 ? limit : Math.min(limit, nextData * PAGE);
    return -(holeEnd - offset);
  }

  /** Whether a page holds data for SEEK_DATA: allocated and not {@link Page#UNWRITTEN}. */
  private static boolean isData(Page page) {
    return page != null && page != Page.UNWRITTEN;
  }

  /**
   * Returns the index of the first data page (not a hole, not unwritten) at or after index, or -1
   * if there is none.
   */
  private long nextPage(long index) {
    long key = index >>> CHUNK_SHIFT;
    Page[] chunk = chunk(key);
    if (chunk != null) {
      for (int slot = (int) (index & CHUNK_MASK); slot < CHUNK_PAGES; slot++) {
        if (isData(chunk[slot])) {
          return (key << CHUNK_SHIFT) + slot;
        }
      }
    }
    for (long after = chunks.ceilingKey(key + 1); after >= 0; after = chunks.ceilingKey(after + 1)) {
      Page[] found = chunks.get(after);
      for (int slot = 0; slot < CHUNK_PAGES; slot++) {
        if (isData(found[slot])) {
          return (after << CHUNK_SHIFT) + slot;
        }
      }
    }
    return -1;
  }

  /**
   * Makes the chunks holding pages [firstIndex, lastIndex] (inclusive) those of source, shared
   * (each image clones a shared chunk before changing it): for a flush, when every page of those
   * chunks outside the range is already equal in both images.
   */
  void adoptChunksFrom(PageImage source, long firstIndex, long lastIndex) {
    long lastKeyInRange = lastIndex >>> CHUNK_SHIFT;
    for (long key = firstIndex >>> CHUNK_SHIFT; key <= lastKeyInRange; key++) {
      Page[] theirs = source.chunks.get(key);
      Page[] mine = chunk(key);
      if (mine == theirs) {
        continue;
      }
      pageCount += (theirs == null ? 0 : count(theirs)) - (mine == null ? 0 : count(mine));
      if (theirs == null) {
        chunks.remove(key);
      } else {
        chunks.putShared(key, theirs);
        source.chunks.markShared(key);
      }
      lastKey = -1;
      lastChunk = null;
    }
  }

  /** Replaces pages [firstIndex, lastIndex] (inclusive) with those of source. */
  void copyPagesFrom(PageImage source, long firstIndex, long lastIndex) {
    if (lastIndex - firstIndex < 4 * CHUNK_PAGES) {
      for (long index = firstIndex; index <= lastIndex; index++) {
        Page page = source.page(index);
        if (page == null) {
          remove(index);
        } else {
          put(index, page);
        }
      }
      return;
    }
    removePages(firstIndex, lastIndex);
    long firstKey = firstIndex >>> CHUNK_SHIFT;
    long lastKeyInRange = lastIndex >>> CHUNK_SHIFT;
    for (long key = source.chunks.ceilingKey(firstKey); key >= 0 && key <= lastKeyInRange;
        key = source.chunks.ceilingKey(key + 1)) {
      long base = key << CHUNK_SHIFT;
      Page[] chunk = source.chunks.get(key);
      for (int slot = 0; slot < CHUNK_PAGES; slot++) {
        long index = base + slot;
        if (chunk[slot] != null && index >= firstIndex && index <= lastIndex) {
          put(index, chunk[slot]);
        }
      }
    }
  }

  /** Sets the length without touching pages, when the caller has made the pages agree. */
  void adoptLength(long newLengthBytes) {
    lengthBytes = newLengthBytes;
  }

  /** Puts a whole page, for importing; the page must lie within the length. */
  void putPage(long index, Page page) {
    if (!(index * PAGE < lengthBytes)) {
      throw Check.failure("page image: page %d beyond length %d", index, lengthBytes);
    }
    put(index, page);
  }

  private void zeroPartOfPage(long index, long offset, long end) {
    long pageStart = index * PAGE;
    long from = Math.max(offset, pageStart);
    long to = Math.min(end, pageStart + PAGE);
    if (from == pageStart && to == pageStart + PAGE) {
      remove(index); // Covered whole: a hole.
      return;
    }
    Page page = page(index);
    if (page != null) {
      put(index, page.fill((int) (from - pageStart), (int) (to - from), (byte) 0));
    }
  }

  private void extendTo(long endBytes) {
    if (endBytes > lengthBytes) {
      lengthBytes = endBytes;
    }
  }

  static long ceilDiv(long value, long divisor) {
    return -Math.floorDiv(-value, divisor);
  }
}
