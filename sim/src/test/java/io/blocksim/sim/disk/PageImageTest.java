package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Goal: a page image with thousands of chunks (where lookups go through its direct-mapped chunk
 * cache, and range removals span many chunks) holds exactly the pages a plain sorted map of page
 * index to fill value holds. Method: seeded random whole-page fills, zeroed ranges, truncations
 * and page copies between two images over 200 MiB (3,200 chunks), each applied alike to the
 * images and to reference maps; after every step the touched pages and a random probe are
 * compared, and at the end every page, the page count and allocation runs from random offsets.
 */
class PageImageTest {
  private static final long PAGE = Page.SIZE_BYTES;
  private static final long PAGES = 200L * 1024 * 1024 / PAGE;

  @Test
  void manyChunksMatchAReferenceMap() {
    SplittableRandom random = new SplittableRandom(16);
    PageImage[] images = {new PageImage(), new PageImage()};
    @SuppressWarnings("unchecked")
    TreeMap<Long, Byte>[] refs = new TreeMap[] {new TreeMap<Long, Byte>(), new TreeMap<>()};
    long[] lengths = {0, 0};
    for (int step = 0; step < 60_000; step++) {
      int which = random.nextInt(2);
      PageImage image = images[which];
      TreeMap<Long, Byte> ref = refs[which];
      long first = random.nextLong(PAGES);
      long count = random.nextInt(10) == 0 ? random.nextLong(1, 5_000) : random.nextLong(1, 40);
      long last = Math.min(PAGES - 1, first + count - 1);
      int kind = random.nextInt(100);
      if (kind < 60) {
        byte value = (byte) random.nextInt(4);
        image.fill(first * PAGE, (last - first + 1) * PAGE, value);
        for (long i = first; i <= last; i++) {
          ref.put(i, value);
        }
        lengths[which] = Math.max(lengths[which], (last + 1) * PAGE);
      } else if (kind < 85) {
        image.zeroRange(first * PAGE, (last - first + 1) * PAGE, false);
        ref.subMap(first, true, last, true).clear();
      } else if (kind < 97) {
        PageImage other = images[1 - which];
        image.copyPagesFrom(other, first, last);
        ref.subMap(first, true, last, true).clear();
        ref.putAll(refs[1 - which].subMap(first, true, last, true));
        lengths[which] = Math.max(lengths[which], lengths[1 - which]);
        image.adoptLength(lengths[which]);
      } else {
        long newLength = random.nextLong(PAGES) * PAGE;
        image.setLength(newLength);
        ref.tailMap(newLength / PAGE, true).clear();
        lengths[which] = newLength;
      }
      assertThat(image.lengthBytes()).isEqualTo(lengths[which]);
      for (long i : new long[] {first, last, random.nextLong(PAGES)}) {
        assertPage(image, ref, i);
      }
    }
    for (int which = 0; which < 2; which++) {
      PageImage image = images[which];
      TreeMap<Long, Byte> ref = refs[which];
      assertThat(image.pageCount()).isEqualTo(ref.size());
      TreeMap<Long, Byte> seen = new TreeMap<>();
      image.forEachPage((index, page) -> seen.put(index, page.fill()));
      assertThat(seen).isEqualTo(ref);
      PageImage copy = image.copy();
      for (int probe = 0; probe < 2_000; probe++) {
        long index = random.nextLong(PAGES);
        assertPage(copy, ref, index);
        long run = image.allocationRun(index * PAGE, PAGES * PAGE);
        assertThat(run).isEqualTo(expectedRun(ref, index, image.lengthBytes()));
      }
    }
  }

  /**
   * A page that repeats an 8-byte unit (a qcow2 L2 page of equal entries) is kept as the unit and
   * reads back byte for byte from every offset; a change makes it an ordinary page again, and a
   * page one byte off the period is not taken for periodic.
   */
  @Test
  void periodicPagesReadBackAsTheirBytes() {
    SplittableRandom random = new SplittableRandom(8);
    byte[] bytes = new byte[Page.SIZE_BYTES];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = (byte) (i % 8 == 7 ? 1 : i % 8 == 3 ? 0x5a : 0);
    }
    Page page = Page.ofBytes(bytes.clone());
    assertThat(page.bytesOrNull()).isNull();
    assertThat(page.isUniform()).isFalse();
    assertThat(page.retainedBytes()).isEqualTo(8);
    for (int probe = 0; probe < 500; probe++) {
      int offset = random.nextInt(Page.SIZE_BYTES);
      int count = random.nextInt(Page.SIZE_BYTES - offset + 1);
      byte[] out = new byte[count + 3];
      page.copyTo(offset, out, 3, count);
      assertThat(java.util.Arrays.copyOfRange(out, 3, count + 3))
          .isEqualTo(java.util.Arrays.copyOfRange(bytes, offset, offset + count));
    }
    Page changed = page.fill(100, 1, (byte) 9);
    byte[] expected = bytes.clone();
    expected[100] = 9;
    byte[] read = new byte[Page.SIZE_BYTES];
    changed.copyTo(0, read, 0, read.length);
    assertThat(read).isEqualTo(expected);
    assertThat(changed.bytesOrNull()).isNotNull();
    Page overwritten = page.overwrite(8, new byte[] {1, 2}, 0, 2);
    expected = bytes.clone();
    expected[8] = 1;
    expected[9] = 2;
    overwritten.copyTo(0, read, 0, read.length);
    assertThat(read).isEqualTo(expected);
    byte[] almost = bytes.clone();
    almost[Page.SIZE_BYTES - 1] = 2;
    assertThat(Page.ofBytes(almost).bytesOrNull()).isNotNull();
  }

  /** As above for a page that is zero but for a few 8-byte words, and one with too many. */
  @Test
  void sparsePagesReadBackAsTheirBytes() {
    SplittableRandom random = new SplittableRandom(9);
    for (int words : new int[] {1, 7, 64, 65}) {
      byte[] bytes = new byte[Page.SIZE_BYTES];
      for (int w = 0; w < words; w++) {
        int at = random.nextInt(Page.SIZE_BYTES / 8) * 8;
        for (int b = 0; b < 8; b++) {
          bytes[at + b] = (byte) random.nextInt(1, 256);
        }
      }
      long nonZeroWords = java.util.stream.IntStream.range(0, Page.SIZE_BYTES / 8)
          .filter(w -> !java.util.Arrays.equals(bytes, w * 8, w * 8 + 8, new byte[8], 0, 8))
          .count();
      Page page = Page.ofBytes(bytes.clone());
      assertThat(page.bytesOrNull() == null).as("%d words kept sparse", nonZeroWords)
          .isEqualTo(nonZeroWords <= 64);
      for (int probe = 0; probe < 500; probe++) {
        int offset = random.nextInt(Page.SIZE_BYTES);
        int count = random.nextInt(Page.SIZE_BYTES - offset + 1);
        byte[] out = new byte[count + 5];
        java.util.Arrays.fill(out, (byte) 7);
        page.copyTo(offset, out, 5, count);
        assertThat(java.util.Arrays.copyOfRange(out, 5, count + 5))
            .isEqualTo(java.util.Arrays.copyOfRange(bytes, offset, offset + count));
      }
      Page changed = page.fill(10, 3, (byte) 4);
      byte[] expected = bytes.clone();
      java.util.Arrays.fill(expected, 10, 13, (byte) 4);
      byte[] read = new byte[Page.SIZE_BYTES];
      changed.copyTo(0, read, 0, read.length);
      assertThat(read).isEqualTo(expected);
    }
  }

  /**
   * ext4's FALLOC_FL_ZERO_RANGE (file-posix write-zeroes without MAY_UNMAP), as checked with
   * {@code fallocate -z} and {@code du}: every page the range touches stays or becomes allocated
   * (the page count, st_blocks) but reads as zeroes and is a hole for SEEK_DATA; a data page
   * covered in part keeps its other bytes; a later write of zeroes makes a data page. A punched
   * hole frees the pages it covers whole.
   */
  @Test
  void zeroRangeAllocatesUnwrittenPages() {
    PageImage image = new PageImage();
    image.fill(PAGE, PAGE, (byte) 7);
    image.zeroRange(512, 3 * PAGE, true); // pages 0 (partly, a hole), 1 (whole), 2, 3 (partly)
    image.setLength(8 * PAGE);
    assertThat(image.pageCount()).isEqualTo(4);
    assertThat(image.allocationRun(0, 8 * PAGE)).isEqualTo(-8 * PAGE);
    byte[] out = new byte[(int) (4 * PAGE)];
    java.util.Arrays.fill(out, (byte) 1);
    image.read(0, out, 0, out.length);
    assertThat(Page.uniform(out, 0, out.length) && out[0] == 0).isTrue();
    image.fill(2 * PAGE, 512, (byte) 0);
    assertThat(image.allocationRun(0, 8 * PAGE)).isEqualTo(-2 * PAGE);
    assertThat(image.allocationRun(2 * PAGE, 8 * PAGE)).isEqualTo(PAGE);
    image.fill(5 * PAGE, PAGE, (byte) 3);
    image.zeroRange(5 * PAGE + 100, 200, true);
    byte[] page5 = new byte[(int) PAGE];
    image.read(5 * PAGE, page5, 0, page5.length);
    assertThat(page5[99]).isEqualTo((byte) 3);
    assertThat(page5[100]).isEqualTo((byte) 0);
    assertThat(page5[300]).isEqualTo((byte) 3);
    image.zeroRange(0, 4 * PAGE, false);
    assertThat(image.pageCount()).isEqualTo(1);
  }

  private static void assertPage(PageImage image, TreeMap<Long, Byte> ref, long index) {
    Page page = image.page(index);
    Byte expected = ref.get(index);
    if (expected == null) {
      assertThat(page).as("page %d", index).isNull();
    } else {
      assertThat(page).as("page %d", index).isNotNull();
      assertThat(page.fill()).as("page %d", index).isEqualTo(expected);
    }
  }

  /** The allocation run from a page start as the reference map gives it (pages end at length). */
  private static long expectedRun(TreeMap<Long, Byte> ref, long index, long length) {
    long limit = PAGES * PAGE + index * PAGE;
    if (index * PAGE >= length) {
      return -(limit - index * PAGE);
    }
    if (ref.containsKey(index)) {
      long next = index + 1;
      while (ref.containsKey(next) && next * PAGE < length) {
        next++;
      }
      return Math.min(length, next * PAGE) - index * PAGE;
    }
    Map.Entry<Long, Byte> after = ref.higherEntry(index);
    long end = after == null ? limit : after.getKey() * PAGE;
    return -(Math.min(limit, end) - index * PAGE);
  }
}
