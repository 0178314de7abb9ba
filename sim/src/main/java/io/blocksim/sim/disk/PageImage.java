package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import java.util.Arrays;
import java.util.Collections;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * The contents of one file as a sparse map of page index to {@link Page}, plus the length. A page
 * that is absent is a hole and reads as zeroes. Invariant: every byte at or beyond the length reads
 * as zero, and no page lies wholly beyond the length, so growing a file never uncovers old data.
 *
 * <p>Which pages are holes follows Linux: writing (even zeroes) allocates the touched pages;
 * zeroing a range ({@code fallocate} punch hole or zero range) frees the pages it covers whole and
 * writes zeroes into pages it covers in part, which stay allocated if they were.
 */
final class PageImage {
  private static final long PAGE = Page.SIZE_BYTES;

  private final TreeMap<Long, Page> pages;
  private long lengthBytes;

  PageImage() {
    this(new TreeMap<>(), 0);
  }

  private PageImage(TreeMap<Long, Page> pages, long lengthBytes) {
    this.pages = pages;
    this.lengthBytes = lengthBytes;
  }

  /** Returns a copy that shares the (immutable) pages. */
  PageImage copy() {
    return new PageImage(new TreeMap<>(pages), lengthBytes);
  }

  long lengthBytes() {
    return lengthBytes;
  }

  int pageCount() {
    return pages.size();
  }

  /** Returns the pages in index order; read-only use. */
  NavigableMap<Long, Page> pages() {
    return Collections.unmodifiableNavigableMap(pages);
  }

  void read(long offset, byte[] dst, int dstOffset, int count) {
    long position = offset;
    int done = 0;
    while (done < count) {
      long index = position / PAGE;
      int pageOffset = (int) (position % PAGE);
      int chunk = (int) Math.min(count - done, PAGE - pageOffset);
      Page page = pages.get(index);
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
      Page base = pages.getOrDefault(index, Page.uniform((byte) 0));
      pages.put(index, base.overwrite(pageOffset, src, srcOffset + (int) done, chunk));
      done += chunk;
      position += chunk;
    }
    if (count > 0) {
      extendTo(offset + count);
    }
  }

  /** Writes count copies of value, allocating every touched page and extending the length. */
  void fill(long offset, long count, byte value) {
    long position = offset;
    long done = 0;
    while (done < count) {
      long index = position / PAGE;
      int pageOffset = (int) (position % PAGE);
      int chunk = (int) Math.min(count - done, PAGE - pageOffset);
      Page base = pages.getOrDefault(index, Page.uniform((byte) 0));
      pages.put(index, base.fill(pageOffset, chunk, value));
      done += chunk;
      position += chunk;
    }
    if (count > 0) {
      extendTo(offset + count);
    }
  }

  /** Zeroes the range: whole pages become holes, partly covered pages get zeroes. No extension. */
  void zeroRange(long offset, long count) {
    if (count == 0) {
      return;
    }
    long end = offset + count;
    long firstWhole = ceilDiv(offset, PAGE);
    long endWhole = end / PAGE;
    if (firstWhole < endWhole) {
      pages.subMap(firstWhole, endWhole).clear();
    }
    long firstIndex = offset / PAGE;
    long lastIndex = (end - 1) / PAGE;
    zeroPartOfPage(firstIndex, offset, end);
    if (lastIndex != firstIndex) {
      zeroPartOfPage(lastIndex, offset, end);
    }
  }

  /** Sets the length; shrinking drops the pages beyond it and zeroes the tail of the last one. */
  void setLength(long newLengthBytes) {
    if (newLengthBytes < lengthBytes) {
      pages.tailMap(ceilDiv(newLengthBytes, PAGE), true).clear();
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
    if (pages.containsKey(index)) {
      // Walk the run in key order (one iterator step a page, not one lookup a page).
      long next = index + 1;
      long dataLimit = Math.min(limit, lengthBytes);
      for (Long key : pages.tailMap(next, true).keySet()) {
        if (key != next || next * PAGE >= dataLimit) {
          break;
        }
        next++;
      }
      return Math.min(dataLimit, next * PAGE) - offset;
    }
    Long nextData = pages.ceilingKey(index + 1);
    long holeEnd = nextData == null ? limit : Math.min(limit, nextData * PAGE);
    return -(holeEnd - offset);
  }

  /** Replaces pages [firstIndex, lastIndex] (inclusive) with those of source. */
  void copyPagesFrom(PageImage source, long firstIndex, long lastIndex) {
    pages.subMap(firstIndex, true, lastIndex, true).clear();
    pages.putAll(source.pages.subMap(firstIndex, true, lastIndex, true));
  }

  /** Sets the length without touching pages, when the caller has made the pages agree. */
  void adoptLength(long newLengthBytes) {
    lengthBytes = newLengthBytes;
  }

  /** Puts a whole page, for importing; the page must lie within the length. */
  void putPage(long index, Page page) {
    Check.that(
        index * PAGE < lengthBytes, "page image: page %d beyond length %d", index, lengthBytes);
    pages.put(index, page);
  }

  private void zeroPartOfPage(long index, long offset, long end) {
    long pageStart = index * PAGE;
    long from = Math.max(offset, pageStart);
    long to = Math.min(end, pageStart + PAGE);
    if (from == pageStart && to == pageStart + PAGE) {
      pages.remove(index); // Covered whole: a hole.
      return;
    }
    Page page = pages.get(index);
    if (page != null) {
      pages.put(index, page.fill((int) (from - pageStart), (int) (to - from), (byte) 0));
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
