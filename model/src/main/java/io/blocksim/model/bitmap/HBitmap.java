package io.blocksim.model.bitmap;

import io.blocksim.model.check.Check;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * QEMU 7.2's hierarchical bitmap (util/hbitmap.c) as the dirty-bitmap layer uses it: every bit
 * covers one granule of {@code 2^granularityLog2} bytes, and every operation takes byte offsets.
 *
 * <p>Only the last level of QEMU's structure is observable (count, hash, iteration, on-disk form),
 * so this class stores that level as {@code W = max(ceil(sizeBits/64), 1)} 64-bit words, exactly
 * as QEMU does, but split into pages of 64 words that are allocated on first use and dropped when
 * they become all-zero. That makes a huge, mostly clean bitmap cheap: 1 TiB at 512 B granularity
 * (2^31 bits) costs a directory of 4-byte references (2 MiB) instead of 256 MiB of words.
 *
 * <p>The summary levels mirror QEMU's: each page carries one summary word (bit w set iff word w of
 * the page is non-zero), which is QEMU's second-last level; above that, {@code levels[0]} has one
 * bit per page (set iff the page exists, i.e. is non-zero), and each further level has one bit per
 * non-zero word of the level below, up to a single word. nextDirty therefore skips clean regions in
 * O(log64 n) steps. nextZero scans words linearly over dirty regions, as QEMU does.
 */
public final class HBitmap {
  /** QEMU's HBITMAP_LOG_MAX_SIZE on 64-bit hosts: at most 2^41 bits. */
  public static final int MAX_SIZE_BITS_LOG2 = 41;
  /** Larger granularities cannot be serialized by QEMU (hbitmap_is_serializable). */
  public static final int MAX_GRANULARITY_LOG2 = 57;

  private static final int WORD_BITS = 64;
  private static final int PAGE_WORDS = 64;
  private static final int PAGE_BITS_LOG2 = 12;
  private static final int PAGE_BITS = 1 << PAGE_BITS_LOG2;
  /** Index of the summary word inside a page array. */
  private static final int SUMMARY = PAGE_WORDS;

  static {
    Check.that(PAGE_WORDS * WORD_BITS == PAGE_BITS, "page bits (%d) != 64 * 64", PAGE_BITS);
    Check.that(PAGE_WORDS == WORD_BITS, "one summary word must cover a page (%d)", PAGE_WORDS);
  }

  private final int granularityLog2;
  private long origSizeBytes;
  private long sizeBits;
  private long wordCount;
  private long countBits;
  /** pages[p] is null iff words 64p..64p+63 are all zero; else 64 words plus the summary word. */
  private long[][] pages;
  /** levels[0]: one bit per page; levels[k + 1]: one bit per non-zero word of levels[k]. */
  private long[][] levels;

  /** A run of dirty bytes as returned by {@link #nextDirtyArea}. */
  public record DirtyArea(long offsetBytes, long lengthBytes) {}

  /** Creates an all-clean bitmap covering origSizeBytes bytes with 2^granularityLog2-byte bits. */
  public HBitmap(long origSizeBytes, int granularityLog2) {
    Check.that(origSizeBytes >= 0, "hbitmap: size (%d) is negative", origSizeBytes);
    Check.that(
        granularityLog2 >= 0 && granularityLog2 <= MAX_GRANULARITY_LOG2,
        "hbitmap: granularity log2 (%d) outside [0, %d]",
        granularityLog2,
        MAX_GRANULARITY_LOG2);
    this.granularityLog2 = granularityLog2;
    this.origSizeBytes = origSizeBytes;
    this.sizeBits = bitsFor(origSizeBytes, granularityLog2);
    this.wordCount = wordsFor(sizeBits);
    this.pages = new long[pageCountFor(wordCount)][];
    this.levels = emptyLevels(pages.length);
  }

  private HBitmap(HBitmap other) {
    this.granularityLog2 = other.granularityLog2;
    this.origSizeBytes = other.origSizeBytes;
    this.sizeBits = other.sizeBits;
    this.wordCount = other.wordCount;
    this.countBits = other.countBits;
    this.pages = new long[other.pages.length][];
    for (int p = 0; p < pages.length; p++) {
      if (other.pages[p] != null) {
        pages[p] = other.pages[p].clone();
      }
    }
    this.levels = new long[other.levels.length][];
    for (int k = 0; k < levels.length; k++) {
      levels[k] = other.levels[k].clone();
    }
  }

  // ---------------------------------------------------------------- shape

  /** Returns the number of bytes covered (QEMU's orig_size). */
  public long origSizeBytes() {
    return origSizeBytes;
  }

  /** Returns the number of bits, ceil(origSizeBytes / granularity). */
  public long sizeBits() {
    return sizeBits;
  }

  /** Returns log2 of the granularity in bytes. */
  public int granularityLog2() {
    return granularityLog2;
  }

  /** Returns the granularity in bytes. */
  public long granularityBytes() {
    return 1L << granularityLog2;
  }

  /** Returns the number of 64-bit words of the last level, max(ceil(sizeBits / 64), 1). */
  public long wordCount() {
    return wordCount;
  }

  /** Returns the number of dirty bits. */
  public long countBits() {
    return countBits;
  }

  /** Returns the dirty count in bytes as QMP reports it: dirty bits times granularity. */
  public long countBytes() {
    return countBits << granularityLog2;
  }

  /** Returns whether no bit is set. */
  public boolean isEmpty() {
    return countBits == 0;
  }

  /** Returns an independent deep copy. */
  public HBitmap copy() {
    return new HBitmap(this);
  }

  // ---------------------------------------------------------------- set, reset, get

  /** Marks every granule that [offsetBytes, offsetBytes + lengthBytes) touches (hbitmap_set). */
  public void set(long offsetBytes, long lengthBytes) {
    checkRange("set", offsetBytes, lengthBytes);
    if (lengthBytes == 0) {
      return;
    }
    setBits(offsetBytes >>> granularityLog2, (offsetBytes + lengthBytes - 1) >>> granularityLog2);
  }

  /**
   * Clears the granules of [offsetBytes, offsetBytes + lengthBytes) (hbitmap_reset). As in QEMU the
   * offset must be granule-aligned and the length aligned too unless the range ends at the size.
   */
  public void reset(long offsetBytes, long lengthBytes) {
    checkRange("reset", offsetBytes, lengthBytes);
    if (lengthBytes == 0) {
      return;
    }
    long granuleMask = granularityBytes() - 1;
    Check.that(
        (offsetBytes & granuleMask) == 0,
        "hbitmap reset: offset (%d) not aligned to granularity (%d)",
        offsetBytes,
        granularityBytes());
    Check.that(
        (lengthBytes & granuleMask) == 0 || offsetBytes + lengthBytes == origSizeBytes,
        "hbitmap reset: length (%d) not aligned to granularity (%d) and not reaching size (%d)",
        lengthBytes,
        granularityBytes(),
        origSizeBytes);
    resetBits(offsetBytes >>> granularityLog2, (offsetBytes + lengthBytes - 1) >>> granularityLog2);
  }

  /** Clears every bit (hbitmap_reset_all). */
  public void resetAll() {
    Arrays.fill(pages, null);
    for (long[] level : levels) {
      Arrays.fill(level, 0L);
    }
    countBits = 0;
  }

  /** Returns whether the granule holding that byte is dirty (hbitmap_get). */
  public boolean get(long offsetBytes) {
    Check.that(offsetBytes >= 0, "hbitmap get: offset (%d) is negative", offsetBytes);
    long bit = offsetBytes >>> granularityLog2;
    Check.that(bit < sizeBits, "hbitmap get: bit (%d) beyond size in bits (%d)", bit, sizeBits);
    long[] page = pages[(int) (bit >>> PAGE_BITS_LOG2)];
    return page != null && (page[(int) (bit >>> 6) & (PAGE_WORDS - 1)] & (1L << bit)) != 0;
  }

  // ---------------------------------------------------------------- searches

  /**
   * Returns the first dirty byte offset in [offsetBytes, offsetBytes + lengthBytes) clipped to the
   * size, or -1 (hbitmap_next_dirty); an offset inside a dirty granule is returned as is.
   */
  public long nextDirty(long offsetBytes, long lengthBytes) {
    Check.that(offsetBytes >= 0, "hbitmap next dirty: offset (%d) is negative", offsetBytes);
    Check.that(lengthBytes >= 0, "hbitmap next dirty: length (%d) is negative", lengthBytes);
    if (offsetBytes >= origSizeBytes || lengthBytes == 0) {
      return -1;
    }
    long endBytes =
        lengthBytes > origSizeBytes - offsetBytes ? origSizeBytes : offsetBytes + lengthBytes;
    long endBit = ((endBytes - 1) >>> granularityLog2) + 1;
    long bit = nextDirtyBit(offsetBytes >>> granularityLog2, endBit);
    if (bit < 0) {
      return -1;
    }
    return Math.max(offsetBytes, bit << granularityLog2);
  }

  /**
   * Returns the first clean byte offset in [offsetBytes, offsetBytes + lengthBytes), or -1
   * (hbitmap_next_zero). A range reaching past the size searches up to the last bit.
   */
  public long nextZero(long offsetBytes, long lengthBytes) {
    Check.that(offsetBytes >= 0, "hbitmap next zero: offset (%d) is negative", offsetBytes);
    Check.that(lengthBytes >= 0, "hbitmap next zero: length (%d) is negative", lengthBytes);
    if (offsetBytes >= origSizeBytes || lengthBytes == 0) {
      return -1;
    }
    long endBit =
        lengthBytes > origSizeBytes - offsetBytes
            ? sizeBits
            : ((offsetBytes + lengthBytes - 1) >>> granularityLog2) + 1;
    long bit = nextZeroBit(offsetBytes >>> granularityLog2, endBit);
    if (bit < 0) {
      return -1;
    }
    return Math.max(offsetBytes, bit << granularityLog2);
  }

  /**
   * Returns the first dirty run in [startBytes, min(endBytes, size)), at most maxLengthBytes long,
   * or null (hbitmap_next_dirty_area). The run ends at the first clean granule or the limit.
   */
  public DirtyArea nextDirtyArea(long startBytes, long endBytes, long maxLengthBytes) {
    Check.that(startBytes >= 0, "hbitmap next dirty area: start (%d) is negative", startBytes);
    Check.that(endBytes >= 0, "hbitmap next dirty area: end (%d) is negative", endBytes);
    Check.that(maxLengthBytes > 0, "hbitmap next dirty area: max (%d) <= 0", maxLengthBytes);
    long end = Math.min(endBytes, origSizeBytes);
    if (startBytes >= end) {
      return null;
    }
    long start = nextDirty(startBytes, end - startBytes);
    if (start < 0) {
      return null;
    }
    end = start + Math.min(end - start, maxLengthBytes);
    long zero = nextZero(start, end - start);
    if (zero >= 0) {
      end = zero;
    }
    return new DirtyArea(start, end - start);
  }

  // ---------------------------------------------------------------- merge, truncate

  /**
   * Computes result := a | b (hbitmap_merge). All three must cover the same size and result must
   * have a's granularity (QEMU always allocates it so). A source of another granularity is merged
   * run by run, each dirty byte run set() into result, which rounds it outward.
   */
  public static void merge(HBitmap a, HBitmap b, HBitmap result) {
    merge(a, b, result, false);
  }

  /**
   * As {@link #merge(HBitmap, HBitmap, HBitmap)}; with {@code emptySourceReturnsEarly} (the
   * {@code bug:merge-empty-source-clears} variant) an empty b returns at once, before a is copied
   * into a separate result, as hbitmap_merge did before 4.2 ("hbitmap: Fix merge when b is empty,
   * and result is not an alias of a").
   */
  public static void merge(HBitmap a, HBitmap b, HBitmap result, boolean emptySourceReturnsEarly) {
    if (emptySourceReturnsEarly && b.countBits() == 0) {
      return;
    }
    Check.that(
        a.origSizeBytes == result.origSizeBytes,
        "hbitmap merge: size of a (%d) differs from result (%d)",
        a.origSizeBytes,
        result.origSizeBytes);
    Check.that(
        b.origSizeBytes == result.origSizeBytes,
        "hbitmap merge: size of b (%d) differs from result (%d)",
        b.origSizeBytes,
        result.origSizeBytes);
    Check.that(
        a.granularityLog2 == result.granularityLog2,
        "hbitmap merge: granularity of a (%d) differs from result (%d)",
        a.granularityLog2,
        result.granularityLog2);
    if (result != a && result != b) {
      result.resetAll();
    }
    if (a != result) {
      result.orFrom(a);
    }
    if (b != result) {
      result.orFrom(b);
    }
  }

  /** Computes this := this | source, as merge(this, source, this). */
  public void mergeFrom(HBitmap source) {
    merge(this, source, this);
  }

  /**
   * Resizes to cover newSizeBytes (hbitmap_truncate): growing adds clean bits; shrinking first
   * clears the granules that start at or after the new size rounded up to a granule.
   */
  public void truncate(long newSizeBytes) {
    Check.that(newSizeBytes >= 0, "hbitmap truncate: size (%d) is negative", newSizeBytes);
    long newSizeBits = bitsFor(newSizeBytes, granularityLog2);
    origSizeBytes = newSizeBytes;
    if (newSizeBits == sizeBits) {
      return;
    }
    if (newSizeBits < sizeBits) {
      resetBits(newSizeBits, sizeBits - 1);
    }
    sizeBits = newSizeBits;
    wordCount = wordsFor(newSizeBits);
    pages = Arrays.copyOf(pages, pageCountFor(wordCount));
    levels = emptyLevels(pages.length);
    for (int p = 0; p < pages.length; p++) {
      if (pages[p] != null) {
        markPagePresent(p);
      }
    }
  }

  // ---------------------------------------------------------------- serialization

  /**
   * Returns the last-level words as little-endian bytes, 8 * wordCount in all: bit i is bit i % 8
   * of byte i / 8. This is exactly what x-debug-block-dirty-bitmap-sha256 hashes.
   */
  public byte[] serialize() {
    Check.that(
        wordCount <= (Integer.MAX_VALUE - 8) / 8,
        "hbitmap serialize: %d words do not fit in one byte array",
        wordCount);
    byte[] out = new byte[(int) (wordCount * 8)];
    ByteBuffer buffer = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
    for (int p = 0; p < pages.length; p++) {
      long[] page = pages[p];
      if (page == null) {
        continue;
      }
      for (long summary = page[SUMMARY]; summary != 0; summary &= summary - 1) {
        int w = Long.numberOfTrailingZeros(summary);
        buffer.putLong((int) ((((long) p * PAGE_WORDS) + w) * 8), page[w]);
      }
    }
    return out;
  }

  /** Returns the lowercase hex SHA-256 of {@link #serialize()}, without building that array. */
  public String sha256Hex() {
    MessageDigest digest = sha256();
    byte[] pageBytes = new byte[PAGE_WORDS * 8];
    ByteBuffer buffer = ByteBuffer.wrap(pageBytes).order(ByteOrder.LITTLE_ENDIAN);
    byte[] zeros = new byte[PAGE_WORDS * 8];
    for (int p = 0; p < pages.length; p++) {
      int words = (int) Math.min(PAGE_WORDS, wordCount - (long) p * PAGE_WORDS);
      long[] page = pages[p];
      if (page == null) {
        digest.update(zeros, 0, words * 8);
        continue;
      }
      for (int w = 0; w < words; w++) {
        buffer.putLong(w * 8, page[w]);
      }
      digest.update(pageBytes, 0, words * 8);
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  /**
   * Replaces the content with bits read LSB-first from data (qcow2 bitmap data, or the output of
   * {@link #serialize()}). data must hold at least ceil(sizeBits / 8) bytes and at most 8 *
   * wordCount; bits at or beyond sizeBits are ignored (the qcow2 spec requires them to be zero).
   */
  public void deserialize(byte[] data) {
    long minBytes = (sizeBits + 7) / 8;
    Check.that(
        data.length >= minBytes,
        "hbitmap deserialize: %d bytes, need at least %d",
        data.length,
        minBytes);
    Check.that(
        data.length <= wordCount * 8,
        "hbitmap deserialize: %d bytes, at most %d allowed",
        data.length,
        wordCount * 8);
    resetAll();
    ByteBuffer buffer = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
    for (long w = 0; w * 64 < sizeBits; w++) {
      long word = readWord(buffer, data.length, w);
      long bitsInWord = Math.min(64, sizeBits - w * 64);
      if (bitsInWord < 64) {
        word &= (1L << bitsInWord) - 1;
      }
      if (word != 0) {
        storeWord(w, word);
      }
    }
  }

  // ---------------------------------------------------------------- diagnostics

  /**
   * Returns an estimate of the heap this bitmap holds, assuming 16-byte array headers and 4-byte
   * compressed references (the default below 32 GiB of heap).
   */
  public long heapBytesEstimate() {
    long bytes = 48 + 16 + 4L * pages.length; // this object, then the page directory
    for (long[] page : pages) {
      if (page != null) {
        bytes += 16 + 8L * page.length;
      }
    }
    bytes += 16 + 4L * levels.length;
    for (long[] level : levels) {
      bytes += 16 + 8L * level.length;
    }
    return bytes;
  }

  /**
   * Verifies the structure: summaries match the words, levels match the pages, no bit beyond the
   * size, and the count matches the bits. Returns a description of the first defect, or null.
   */
  public String checkConsistency() {
    long bits = 0;
    for (int p = 0; p < pages.length; p++) {
      long[] page = pages[p];
      boolean present = (levels[0][p >>> 6] & (1L << p)) != 0;
      if (present != (page != null)) {
        return "page " + p + ": level-0 bit " + present + " but page allocated " + (page != null);
      }
      if (page == null) {
        continue;
      }
      long summary = 0;
      for (int w = 0; w < PAGE_WORDS; w++) {
        if (page[w] != 0) {
          summary |= 1L << w;
          bits += Long.bitCount(page[w]);
        }
      }
      if (summary != page[SUMMARY]) {
        return "page " + p + ": summary " + Long.toHexString(page[SUMMARY]) + " != words";
      }
      if (summary == 0) {
        return "page " + p + ": allocated but all zero";
      }
    }
    String levelDefect = checkLevels();
    if (levelDefect != null) {
      return levelDefect;
    }
    if (nextDirtyBit(sizeBits, (long) pages.length * PAGE_BITS) >= 0) {
      return "a bit at or beyond size in bits " + sizeBits + " is set";
    }
    if (bits != countBits) {
      return "count " + countBits + " but " + bits + " bits set";
    }
    return null;
  }

  @Override
  public String toString() {
    return "HBitmap[size="
        + origSizeBytes
        + " B, granularity="
        + granularityBytes()
        + " B, bits="
        + sizeBits
        + ", dirty="
        + countBits
        + "]";
  }

  // ---------------------------------------------------------------- bit-level internals

  private void checkRange(String operation, long offsetBytes, long lengthBytes) {
    // Each check tested before Check is called: its varargs box the figures on every call, a
    // cost of every bitmap update (the 1 TiB backup bench) though no check ever fails.
    if (!(offsetBytes >= 0)) {
      throw Check.failure("hbitmap %s: offset (%d) is negative", operation, offsetBytes);
    }
    if (!(lengthBytes >= 0)) {
      throw Check.failure("hbitmap %s: length (%d) is negative", operation, lengthBytes);
    }
    if (lengthBytes == 0) {
      return;
    }
    if (!(offsetBytes + lengthBytes - 1 >= offsetBytes)) {
      throw Check.failure("hbitmap %s: range %d+%d overflows", operation, offsetBytes,
          lengthBytes);
    }
    long lastBit = (offsetBytes + lengthBytes - 1) >>> granularityLog2;
    if (!(lastBit < sizeBits)) {
      throw Check.failure("hbitmap %s: last bit (%d) of %d+%d beyond size in bits (%d)",
          operation, lastBit, offsetBytes, lengthBytes, sizeBits);
    }
  }

  private void setBits(long firstBit, long lastBit) {
    for (long p = firstBit >>> PAGE_BITS_LOG2; p <= lastBit >>> PAGE_BITS_LOG2; p++) {
      long pageStart = p << PAGE_BITS_LOG2;
      long from = Math.max(firstBit, pageStart) - pageStart;
      long to = Math.min(lastBit, pageStart + PAGE_BITS - 1) - pageStart;
      long[] page = pages[(int) p];
      if (page == null) {
        page = new long[PAGE_WORDS + 1];
        pages[(int) p] = page;
        markPagePresent((int) p);
      }
      int fromWord = (int) (from >>> 6);
      int toWord = (int) (to >>> 6);
      if (fromWord == toWord) {
        countBits += orWord(page, fromWord, wordMask(from, to));
      } else {
        long added = orWord(page, fromWord, wordMask(from, 63));
        // Whole words in between: the common case of a large write, kept branch-free.
        for (int w = fromWord + 1; w < toWord; w++) {
          added += WORD_BITS - Long.bitCount(page[w]);
          page[w] = -1L;
        }
        countBits += added + orWord(page, toWord, wordMask(0, to));
      }
      page[SUMMARY] |= wordMask(fromWord, toWord);
    }
  }

  /** ORs mask into page[w] and returns the number of bits that became set. */
  private static long orWord(long[] page, int w, long mask) {
    long old = page[w];
    page[w] = old | mask;
    return Long.bitCount(mask & ~old);
  }

  private void resetBits(long firstBit, long lastBit) {
    for (long p = firstBit >>> PAGE_BITS_LOG2; p <= lastBit >>> PAGE_BITS_LOG2; p++) {
      long[] page = pages[(int) p];
      if (page == null) {
        continue;
      }
      long pageStart = p << PAGE_BITS_LOG2;
      long from = Math.max(firstBit, pageStart) - pageStart;
      long to = Math.min(lastBit, pageStart + PAGE_BITS - 1) - pageStart;
      if (from == 0 && to == PAGE_BITS - 1) {
        countBits -= bitCount(page);
        pages[(int) p] = null;
        markPageAbsent((int) p);
        continue;
      }
      int fromWord = (int) (from >>> 6);
      int toWord = (int) (to >>> 6);
      long removed = 0;
      long summary = page[SUMMARY];
      for (int w = fromWord; w <= toWord; w++) {
        long mask = wordMask(w == fromWord ? from : 0, w == toWord ? to : 63);
        long old = page[w];
        removed += Long.bitCount(old & mask);
        page[w] = old & ~mask;
        if (page[w] == 0) {
          summary &= ~(1L << w);
        }
      }
      countBits -= removed;
      page[SUMMARY] = summary;
      if (summary == 0) {
        pages[(int) p] = null;
        markPageAbsent((int) p);
      }
    }
  }

  private static long bitCount(long[] page) {
    long bits = 0;
    for (int w = 0; w < PAGE_WORDS; w++) {
      bits += Long.bitCount(page[w]);
    }
    return bits;
  }

  /** Returns the first set bit in [fromBit, endBit), or -1. */
  private long nextDirtyBit(long fromBit, long endBit) {
    if (fromBit >= endBit || fromBit >= (long) pages.length * PAGE_BITS) {
      return -1;
    }
    int p = (int) (fromBit >>> PAGE_BITS_LOG2);
    long found = -1;
    long[] page = pages[p];
    if (page != null) {
      int w = (int) (fromBit >>> 6) & (PAGE_WORDS - 1);
      long word = page[w] & (-1L << fromBit);
      if (word != 0) {
        found = bitIndex(p, w, word);
      } else {
        long later = page[SUMMARY] & (-2L << w);
        if (later != 0) {
          int next = Long.numberOfTrailingZeros(later);
          found = bitIndex(p, next, page[next]);
        }
      }
    }
    if (found < 0) {
      long nextPage = nextSetInLevel(0, (long) p + 1);
      if (nextPage < 0) {
        return -1;
      }
      long[] next = pages[(int) nextPage];
      int w = Long.numberOfTrailingZeros(next[SUMMARY]);
      found = bitIndex((int) nextPage, w, next[w]);
    }
    return found < endBit ? found : -1;
  }

  /** Returns the first clear bit in [fromBit, endBit), or -1. */
  private long nextZeroBit(long fromBit, long endBit) {
    long bit = fromBit;
    while (bit < endBit) {
      int p = (int) (bit >>> PAGE_BITS_LOG2);
      long[] page = pages[p];
      if (page == null) {
        return bit;
      }
      int w = (int) (bit >>> 6) & (PAGE_WORDS - 1);
      long zeros = ~page[w] & (-1L << bit);
      while (zeros == 0 && ++w < PAGE_WORDS) {
        zeros = ~page[w];
      }
      if (zeros != 0) {
        long found = bitIndex(p, w, zeros);
        return found < endBit ? found : -1;
      }
      bit = (long) (p + 1) << PAGE_BITS_LOG2;
    }
    return -1;
  }

  /** Returns the first set bit at or after index in levels[level], or -1. */
  private long nextSetInLevel(int level, long index) {
    long[] words = levels[level];
    long w = index >>> 6;
    if (w >= words.length) {
      return -1;
    }
    long word = words[(int) w] & (-1L << index);
    if (word == 0) {
      if (level + 1 == levels.length) {
        return -1;
      }
      w = nextSetInLevel(level + 1, w + 1);
      if (w < 0) {
        return -1;
      }
      word = words[(int) w];
    }
    return (w << 6) + Long.numberOfTrailingZeros(word);
  }

  private void markPagePresent(int page) {
    long index = page;
    for (long[] level : levels) {
      int w = (int) (index >>> 6);
      long old = level[w];
      level[w] = old | (1L << index);
      if (old != 0) {
        return;
      }
      index = w;
    }
  }

  private void markPageAbsent(int page) {
    long index = page;
    for (long[] level : levels) {
      int w = (int) (index >>> 6);
      level[w] &= ~(1L << index);
      if (level[w] != 0) {
        return;
      }
      index = w;
    }
  }

  /** ORs source into this; same size. Same granularity goes page by page, else run by run. */
  private void orFrom(HBitmap source) {
    if (source.granularityLog2 != granularityLog2) {
      long offset = 0;
      DirtyArea area;
      while ((area = source.nextDirtyArea(offset, source.origSizeBytes, Long.MAX_VALUE)) != null) {
        set(area.offsetBytes(), area.lengthBytes());
        offset = area.offsetBytes() + area.lengthBytes();
      }
      return;
    }
    Check.that(
        source.pages.length == pages.length,
        "hbitmap merge: %d pages vs %d",
        source.pages.length,
        pages.length);
    for (long p = source.nextSetInLevel(0, 0); p >= 0; p = source.nextSetInLevel(0, p + 1)) {
      long[] from = source.pages[(int) p];
      long[] into = pages[(int) p];
      if (into == null) {
        into = new long[PAGE_WORDS + 1];
        pages[(int) p] = into;
        markPagePresent((int) p);
      }
      long added = 0;
      if (from[SUMMARY] == -1L) {
        // A dense page: a plain loop is cheaper than walking the summary bits.
        for (int w = 0; w < PAGE_WORDS; w++) {
          added += Long.bitCount(from[w] & ~into[w]);
          into[w] |= from[w];
        }
      } else {
        for (long summary = from[SUMMARY]; summary != 0; summary &= summary - 1) {
          int w = Long.numberOfTrailingZeros(summary);
          added += Long.bitCount(from[w] & ~into[w]);
          into[w] |= from[w];
        }
      }
      into[SUMMARY] |= from[SUMMARY];
      countBits += added;
    }
  }

  private void storeWord(long wordIndex, long word) {
    int p = (int) (wordIndex / PAGE_WORDS);
    int w = (int) (wordIndex % PAGE_WORDS);
    long[] page = pages[p];
    if (page == null) {
      page = new long[PAGE_WORDS + 1];
      pages[p] = page;
      markPagePresent(p);
    }
    countBits += Long.bitCount(word) - Long.bitCount(page[w]);
    page[w] = word;
    page[SUMMARY] |= 1L << w;
  }

  private String checkLevels() {
    long[][] expected = emptyLevels(pages.length);
    for (int p = 0; p < pages.length; p++) {
      if (pages[p] != null) {
        long index = p;
        for (long[] level : expected) {
          level[(int) (index >>> 6)] |= 1L << index;
          index >>>= 6;
        }
      }
    }
    for (int k = 0; k < levels.length; k++) {
      if (!Arrays.equals(levels[k], expected[k])) {
        return "level " + k + " does not summarise the level below";
      }
    }
    return null;
  }

  private static long readWord(ByteBuffer buffer, int length, long wordIndex) {
    long byteOffset = wordIndex * 8;
    if (byteOffset + 8 <= length) {
      return buffer.getLong((int) byteOffset);
    }
    long word = 0;
    for (int i = 0; byteOffset + i < length; i++) {
      word |= (buffer.get((int) byteOffset + i) & 0xFFL) << (8 * i);
    }
    return word;
  }

  private static long bitIndex(int page, int word, long bits) {
    return ((long) page << PAGE_BITS_LOG2) + ((long) word << 6) + Long.numberOfTrailingZeros(bits);
  }

  /** Returns a word with bits lo..hi (inclusive, 0..63) set. */
  private static long wordMask(long lo, long hi) {
    return (-1L >>> (63 - hi)) & (-1L << lo);
  }

  private static long bitsFor(long sizeBytes, int granularityLog2) {
    long granuleMask = (1L << granularityLog2) - 1;
    long bits = (sizeBytes >>> granularityLog2) + ((sizeBytes & granuleMask) != 0 ? 1 : 0);
    Check.that(
        bits <= 1L << MAX_SIZE_BITS_LOG2,
        "hbitmap: %d bits exceed the maximum 2^%d",
        bits,
        MAX_SIZE_BITS_LOG2);
    return bits;
  }

  private static long wordsFor(long bits) {
    return Math.max((bits + WORD_BITS - 1) / WORD_BITS, 1);
  }

  private static int pageCountFor(long words) {
    return (int) ((words + PAGE_WORDS - 1) / PAGE_WORDS);
  }

  private static long[][] emptyLevels(int pageCount) {
    List<long[]> result = new ArrayList<>();
    long entries = pageCount;
    do {
      entries = (entries + 63) >>> 6;
      result.add(new long[(int) entries]);
    } while (entries > 1);
    return result.toArray(new long[0][]);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw Check.unreachable("every Java platform provides SHA-256: %s", e);
    }
  }
}
