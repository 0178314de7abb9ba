package io.blocksim.model.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * Unit tests for {@link HBitmap}. Goal: each operation behaves as QEMU 7.2's util/hbitmap.c on
 * hand-computed cases. Method: small bitmaps whose expected bits follow from the rules in
 * docs/qemu-behaviour.md §1; the sha256 values were produced by real QEMU (§1.3, experiments E1/E5).
 */
class HBitmapTest {
  private static final long KIB = 1024;
  private static final long MIB = 1024 * KIB;
  private static final int G64K = 16;

  // ---------------------------------------------------------------- QEMU reference hashes

  @Test
  void sha256OfCleanSixtyFourMibBitmapMatchesQemu() {
    HBitmap bitmap = new HBitmap(64 * MIB, G64K);

    assertThat(bitmap.serialize()).hasSize(128);
    assertThat(bitmap.sha256Hex())
        .isEqualTo("38723a2e5e8a17aa7950dc008209944e898f69a7bd10a23c839d341e935fd5ca");
  }

  @Test
  void sha256OfFiveDirtyClustersMatchesQemu() {
    HBitmap bitmap = new HBitmap(64 * MIB, G64K);
    for (long cluster : new long[] {0, 15, 16, 512, 1022}) {
      bitmap.set(cluster * 64 * KIB, 64 * KIB);
    }

    assertThat(bitmap.countBytes()).isEqualTo(5 * 64 * KIB);
    assertThat(bitmap.sha256Hex())
        .isEqualTo("0baaa0047f5a6313b518b29f575ad090d090deb6f7bc1daba2cd06dbe6c8e888");
  }

  @Test
  void sha256OfSectorGranularityBitmapMatchesQemu() {
    HBitmap bitmap = new HBitmap(64 * MIB, 9);
    bitmap.set(0, 64 * KIB);
    bitmap.set(0xf8000, 64 * KIB);
    bitmap.set(0x3fe0000, 64 * KIB);
    bitmap.set(1000, 1);
    bitmap.set(32 * MIB, 512);

    assertThat(bitmap.serialize()).hasSize(16384);
    assertThat(bitmap.sha256Hex())
        .isEqualTo("2bafe1e09b42562f96e42949586a3a72b6afa0c58399e8cbae8f44e022c47283");
  }

  @Test
  void sha256OfTwoBitBitmapHashesOneWord() {
    // A 100000-byte raw disk is 100352 bytes long in QEMU (rounded up to 512): two 64 KiB bits.
    HBitmap bitmap = new HBitmap(100352, G64K);
    bitmap.set(99999, 1);

    assertThat(bitmap.serialize()).hasSize(8);
    assertThat(bitmap.countBytes()).isEqualTo(65536);
    assertThat(bitmap.sha256Hex())
        .isEqualTo("d86e8112f3c4c4442126f8e9f44f16867da487f29052bf91b810457db34209a4");
  }

  @Test
  void sha256HexEqualsHashOfSerializedBytes() throws Exception {
    HBitmap bitmap = new HBitmap(5 * 4096 * 64 + 7, 0);
    bitmap.set(3, 70);
    bitmap.set(4096 * 64 * 2 + 5, 9000);
    String expected =
        HexFormat.of()
            .formatHex(MessageDigest.getInstance("SHA-256").digest(bitmap.serialize()));

    assertThat(bitmap.sha256Hex()).isEqualTo(expected);
  }

  // ---------------------------------------------------------------- shape

  @Test
  void sizeInBitsRoundsUpAndWordCountIsAtLeastOne() {
    assertThat(new HBitmap(100352, G64K).sizeBits()).isEqualTo(2);
    assertThat(new HBitmap(65536, G64K).sizeBits()).isEqualTo(1);
    assertThat(new HBitmap(0, G64K).sizeBits()).isZero();
    assertThat(new HBitmap(0, G64K).wordCount()).isEqualTo(1);
    assertThat(new HBitmap(0, G64K).serialize()).containsOnly(0).hasSize(8);
    assertThat(new HBitmap(65 * 512, 9).wordCount()).isEqualTo(2);
  }

  @Test
  void constructorRejectsNegativeSizeAndHugeGranularity() {
    assertThatThrownBy(() -> new HBitmap(-1, 9)).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> new HBitmap(1, 58)).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> new HBitmap(1L << 42, 0)).isInstanceOf(InvariantViolation.class);
  }

  // ---------------------------------------------------------------- set, reset, get

  @Test
  void setRoundsOutwardToWholeGranules() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(65535, 2);

    assertThat(bitmap.get(0)).isTrue();
    assertThat(bitmap.get(65536 + 65535)).isTrue();
    assertThat(bitmap.get(131072)).isFalse();
    assertThat(bitmap.countBits()).isEqualTo(2);
    assertThat(bitmap.countBytes()).isEqualTo(131072);
  }

  @Test
  void setOfZeroLengthChangesNothing() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(4096, 0);

    assertThat(bitmap.isEmpty()).isTrue();
  }

  @Test
  void setTwiceCountsEachBitOnce() {
    HBitmap bitmap = new HBitmap(1 * MIB, 9);
    bitmap.set(0, 8192);
    bitmap.set(4096, 8192);

    assertThat(bitmap.countBits()).isEqualTo(24);
  }

  @Test
  void setMayReachIntoTheLastGranuleBeyondTheSize() {
    HBitmap bitmap = new HBitmap(100000, G64K);
    bitmap.set(131071, 1);

    assertThat(bitmap.get(65536)).isTrue();
  }

  @Test
  void setBeyondTheLastBitIsABug() {
    HBitmap bitmap = new HBitmap(100000, G64K);

    assertThatThrownBy(() -> bitmap.set(131072, 1)).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> bitmap.set(-1, 1)).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> bitmap.get(131072)).isInstanceOf(InvariantViolation.class);
  }

  @Test
  void setAcrossWordAndPageBoundariesSetsEveryBit() {
    HBitmap bitmap = new HBitmap(3 * 4096 * 64, 0);
    bitmap.set(63, 2);
    bitmap.set(4095, 2);
    bitmap.set(4096 * 64 - 1, 2);

    assertThat(bitmap.countBits()).isEqualTo(6);
    for (long bit : new long[] {63, 64, 4095, 4096, 262143, 262144}) {
      assertThat(bitmap.get(bit)).as("bit %d", bit).isTrue();
    }
    assertThat(bitmap.checkConsistency()).isNull();
  }

  @Test
  void resetClearsAlignedRangeOnly() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(0, 1 * MIB);
    bitmap.reset(65536, 131072);

    assertThat(bitmap.countBits()).isEqualTo(14);
    assertThat(bitmap.get(65536)).isFalse();
    assertThat(bitmap.get(131072)).isFalse();
    assertThat(bitmap.get(196608)).isTrue();
  }

  @Test
  void resetMayEndUnalignedAtTheSize() {
    HBitmap bitmap = new HBitmap(100000, G64K);
    bitmap.set(0, 100000);
    bitmap.reset(65536, 100000 - 65536);

    assertThat(bitmap.countBits()).isEqualTo(1);
  }

  @Test
  void resetWithUnalignedOffsetOrLengthIsABug() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);

    assertThatThrownBy(() -> bitmap.reset(512, 65536)).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> bitmap.reset(0, 512)).isInstanceOf(InvariantViolation.class);
  }

  @Test
  void resetAllClearsEverything() {
    HBitmap bitmap = new HBitmap(64 * MIB, 9);
    bitmap.set(0, 64 * MIB);
    bitmap.resetAll();

    assertThat(bitmap.isEmpty()).isTrue();
    assertThat(bitmap.nextDirty(0, Long.MAX_VALUE)).isEqualTo(-1);
    assertThat(bitmap.checkConsistency()).isNull();
  }

  // ---------------------------------------------------------------- searches

  @Test
  void nextDirtyReturnsTheStartInsideADirtyGranule() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(131072, 1);

    assertThat(bitmap.nextDirty(0, Long.MAX_VALUE)).isEqualTo(131072);
    assertThat(bitmap.nextDirty(131072 + 100, Long.MAX_VALUE)).isEqualTo(131172);
    assertThat(bitmap.nextDirty(196608, Long.MAX_VALUE)).isEqualTo(-1);
  }

  @Test
  void nextDirtyStopsAtTheEndOfTheRangeAndTheSize() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(131072, 1);

    assertThat(bitmap.nextDirty(0, 131072)).isEqualTo(-1);
    assertThat(bitmap.nextDirty(0, 131073)).isEqualTo(131072);
    assertThat(bitmap.nextDirty(0, 0)).isEqualTo(-1);
    assertThat(bitmap.nextDirty(1 * MIB, 10)).isEqualTo(-1);
  }

  @Test
  void nextDirtySkipsLongCleanStretchesOfAHugeBitmap() {
    // 2^34 bits: the summary levels let the search jump over 2^33 clean bits.
    HBitmap bitmap = new HBitmap(1L << 34, 0);
    bitmap.set(0, 1);
    bitmap.set((1L << 33) + 5, 3);
    bitmap.set((1L << 34) - 1, 1);

    assertThat(bitmap.nextDirty(1, Long.MAX_VALUE)).isEqualTo((1L << 33) + 5);
    assertThat(bitmap.nextDirty((1L << 33) + 8, Long.MAX_VALUE)).isEqualTo((1L << 34) - 1);
    assertThat(bitmap.nextZero((1L << 33) + 5, Long.MAX_VALUE)).isEqualTo((1L << 33) + 8);
    assertThat(bitmap.countBits()).isEqualTo(5);
    assertThat(bitmap.heapBytesEstimate()).isLessThan(20 * MIB);
    bitmap.reset((1L << 33) + 5, 3);
    assertThat(bitmap.nextDirty(1, (1L << 34) - 2)).isEqualTo(-1);
    assertThat(bitmap.checkConsistency()).isNull();
  }

  @Test
  void nextZeroFindsTheFirstCleanByte() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(0, 196608);

    assertThat(bitmap.nextZero(0, Long.MAX_VALUE)).isEqualTo(196608);
    assertThat(bitmap.nextZero(0, 196608)).isEqualTo(-1);
    assertThat(bitmap.nextZero(200000, 10)).isEqualTo(200000);
  }

  @Test
  void nextZeroOfAFullBitmapIsMinusOne() {
    HBitmap bitmap = new HBitmap(100000, G64K);
    bitmap.set(0, 100000);

    assertThat(bitmap.nextZero(0, Long.MAX_VALUE)).isEqualTo(-1);
    assertThat(bitmap.nextZero(100000, 1)).isEqualTo(-1);
  }

  @Test
  void nextDirtyAreaStopsAtTheFirstCleanGranule() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(2 * 65536, 3 * 65536);
    bitmap.set(7 * 65536, 1);

    assertThat(bitmap.nextDirtyArea(0, Long.MAX_VALUE, Long.MAX_VALUE))
        .isEqualTo(new HBitmap.DirtyArea(131072, 196608));
    assertThat(bitmap.nextDirtyArea(327680, Long.MAX_VALUE, Long.MAX_VALUE))
        .isEqualTo(new HBitmap.DirtyArea(458752, 65536));
    assertThat(bitmap.nextDirtyArea(524288, Long.MAX_VALUE, Long.MAX_VALUE)).isNull();
  }

  @Test
  void nextDirtyAreaHonoursTheMaximumLengthEvenUnaligned() {
    HBitmap bitmap = new HBitmap(1 * MIB, G64K);
    bitmap.set(2 * 65536, 3 * 65536);

    assertThat(bitmap.nextDirtyArea(0, 1 * MIB, 65536))
        .isEqualTo(new HBitmap.DirtyArea(131072, 65536));
    assertThat(bitmap.nextDirtyArea(0, 1 * MIB, 1000))
        .isEqualTo(new HBitmap.DirtyArea(131072, 1000));
    assertThat(bitmap.nextDirtyArea(0, 200000, Long.MAX_VALUE))
        .isEqualTo(new HBitmap.DirtyArea(131072, 200000 - 131072));
  }

  @Test
  void nextDirtyAreaIsClippedToTheSize() {
    HBitmap bitmap = new HBitmap(100000, G64K);
    bitmap.set(65536, 1);

    assertThat(bitmap.nextDirtyArea(0, Long.MAX_VALUE, Long.MAX_VALUE))
        .isEqualTo(new HBitmap.DirtyArea(65536, 100000 - 65536));
  }

  // ---------------------------------------------------------------- merge

  @Test
  void mergeOfEqualGranularitiesIsBitwiseOr() {
    HBitmap target = new HBitmap(1 * MIB, G64K);
    HBitmap source = new HBitmap(1 * MIB, G64K);
    target.set(0, 1);
    source.set(0, 1);
    source.set(5 * 65536, 1);
    target.mergeFrom(source);

    assertThat(target.countBits()).isEqualTo(2);
    assertThat(target.get(5 * 65536)).isTrue();
    assertThat(source.countBits()).isEqualTo(2);
  }

  @Test
  void mergeFromAFinerSourceRoundsEachRunOutward() {
    HBitmap target = new HBitmap(1 * MIB, G64K);
    HBitmap source = new HBitmap(1 * MIB, 10);
    source.set(65536 - 1024, 2048);
    target.mergeFrom(source);

    assertThat(target.countBits()).isEqualTo(2);
    assertThat(target.get(0)).isTrue();
    assertThat(target.get(65536)).isTrue();
  }

  @Test
  void mergeFromACoarserSourceSetsWholeCoarseGranules() {
    HBitmap target = new HBitmap(100000, 10);
    HBitmap source = new HBitmap(100000, G64K);
    source.set(70000, 1);
    target.mergeFrom(source);

    // The source granule covers [65536, 100000) once clipped to the size: 34 KiB granules.
    assertThat(target.countBits()).isEqualTo(34);
    assertThat(target.nextDirty(0, Long.MAX_VALUE)).isEqualTo(65536);
  }

  @Test
  void mergeIntoADistinctResultReplacesItsContent() {
    HBitmap a = new HBitmap(1 * MIB, 12);
    HBitmap b = new HBitmap(1 * MIB, 9);
    HBitmap result = new HBitmap(1 * MIB, 12);
    result.set(0, 1 * MIB);
    a.set(4096, 1);
    b.set(512 * 20, 512);
    HBitmap.merge(a, b, result);

    assertThat(result.countBits()).isEqualTo(2);
    assertThat(result.get(4096)).isTrue();
    assertThat(result.get(8192)).isTrue();
  }

  @Test
  void mergeOfABitmapIntoItselfChangesNothing() {
    HBitmap bitmap = new HBitmap(1 * MIB, 12);
    bitmap.set(4096, 10000);
    bitmap.mergeFrom(bitmap);

    assertThat(bitmap.countBits()).isEqualTo(3);
  }

  @Test
  void mergeOfDifferentSizesIsABug() {
    HBitmap target = new HBitmap(1 * MIB, 12);

    assertThatThrownBy(() -> target.mergeFrom(new HBitmap(2 * MIB, 12)))
        .isInstanceOf(InvariantViolation.class);
  }

  @Test
  void copyIsIndependent() {
    HBitmap original = new HBitmap(1 * MIB, 12);
    original.set(0, 4096);
    HBitmap copy = original.copy();
    copy.set(8192, 1);
    original.resetAll();

    assertThat(copy.countBits()).isEqualTo(2);
    assertThat(original.isEmpty()).isTrue();
  }

  // ---------------------------------------------------------------- truncate

  @Test
  void truncateGrowingAddsCleanBits() {
    HBitmap bitmap = new HBitmap(100000, G64K);
    bitmap.set(65536, 1);
    bitmap.truncate(64 * MIB);

    assertThat(bitmap.sizeBits()).isEqualTo(1024);
    assertThat(bitmap.countBits()).isEqualTo(1);
    assertThat(bitmap.nextDirty(131072, Long.MAX_VALUE)).isEqualTo(-1);
    assertThat(bitmap.serialize()).hasSize(128);
    assertThat(bitmap.checkConsistency()).isNull();
  }

  @Test
  void truncateShrinkingKeepsThePartialLastGranule() {
    HBitmap bitmap = new HBitmap(3 * 65536, G64K);
    bitmap.set(0, 3 * 65536);
    bitmap.truncate(65536 + 1);

    assertThat(bitmap.sizeBits()).isEqualTo(2);
    assertThat(bitmap.countBits()).isEqualTo(2);
    bitmap.truncate(3 * 65536);
    assertThat(bitmap.get(2 * 65536)).isFalse();
    assertThat(bitmap.checkConsistency()).isNull();
  }

  @Test
  void truncateToTheSameBitCountStillMovesTheSize() {
    HBitmap bitmap = new HBitmap(100352, G64K);
    bitmap.set(100000, 1);
    bitmap.truncate(100000);

    assertThat(bitmap.origSizeBytes()).isEqualTo(100000);
    assertThat(bitmap.nextDirty(100000, 10)).isEqualTo(-1);
    assertThat(bitmap.countBits()).isEqualTo(1);
  }

  @Test
  void truncateAcrossPagesDropsTheTail() {
    HBitmap bitmap = new HBitmap(64L * 4096 * 70, 0);
    bitmap.set(0, 64L * 4096 * 70);
    bitmap.truncate(4096 * 3 + 1);

    assertThat(bitmap.countBits()).isEqualTo(4096 * 3 + 1);
    assertThat(bitmap.wordCount()).isEqualTo(193);
    assertThat(bitmap.checkConsistency()).isNull();
  }

  // ---------------------------------------------------------------- serialization

  @Test
  void serializeIsLittleEndianLsbFirst() {
    HBitmap bitmap = new HBitmap(128 * 512, 9);
    bitmap.set(0, 512);
    bitmap.set(9 * 512, 512);
    bitmap.set(127 * 512, 512);
    byte[] bytes = bitmap.serialize();

    assertThat(bytes).hasSize(16);
    assertThat(bytes[0]).isEqualTo((byte) 0x01);
    assertThat(bytes[1]).isEqualTo((byte) 0x02);
    assertThat(bytes[15]).isEqualTo((byte) 0x80);
    assertThat(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(8))
        .isEqualTo(Long.MIN_VALUE);
  }

  @Test
  void deserializeRestoresSerializedContent() {
    HBitmap bitmap = new HBitmap(10 * MIB, 9);
    bitmap.set(1000, 300000);
    bitmap.set(9 * MIB, 1);
    HBitmap loaded = new HBitmap(10 * MIB, 9);
    loaded.set(5 * MIB, 1);
    loaded.deserialize(bitmap.serialize());

    assertThat(loaded.serialize()).isEqualTo(bitmap.serialize());
    assertThat(loaded.countBits()).isEqualTo(bitmap.countBits());
    assertThat(loaded.checkConsistency()).isNull();
  }

  @Test
  void deserializeAcceptsQcow2LengthAndIgnoresPaddingBits() {
    // 10 bits need 2 bytes of qcow2 bitmap data; the padding bits of byte 1 must not count.
    HBitmap bitmap = new HBitmap(10 * 512, 9);
    bitmap.deserialize(new byte[] {(byte) 0x81, (byte) 0xff});

    assertThat(bitmap.countBits()).isEqualTo(4);
    assertThat(bitmap.get(0)).isTrue();
    assertThat(bitmap.get(7 * 512)).isTrue();
    assertThat(bitmap.get(9 * 512)).isTrue();
  }

  @Test
  void deserializeRejectsTooShortOrTooLongData() {
    HBitmap bitmap = new HBitmap(10 * 512, 9);

    assertThatThrownBy(() -> bitmap.deserialize(new byte[1]))
        .isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> bitmap.deserialize(new byte[9]))
        .isInstanceOf(InvariantViolation.class);
  }

  // ---------------------------------------------------------------- memory

  @Test
  void aTebibyteAtSixtyFourKibCostsLittleWhenClean() {
    HBitmap bitmap = new HBitmap(1L << 40, G64K);

    assertThat(bitmap.sizeBits()).isEqualTo(1L << 24);
    assertThat(bitmap.heapBytesEstimate()).isLessThan(32 * KIB);
  }

  @Test
  void aTebibyteAtFiveHundredTwelveBytesCostsAboutTwoMibWhenSparse() {
    HBitmap bitmap = new HBitmap(1L << 40, 9);
    for (long i = 0; i < 100; i++) {
      bitmap.set(i * 10_000_000_000L, 1);
    }

    assertThat(bitmap.countBits()).isEqualTo(100);
    assertThat(bitmap.heapBytesEstimate()).isLessThan(3 * MIB);
  }

  @Test
  void resettingAPageFreesIt() {
    HBitmap bitmap = new HBitmap(1L << 40, 9);
    long clean = bitmap.heapBytesEstimate();
    bitmap.set(1L << 35, 1);
    bitmap.reset(1L << 35, 512);

    assertThat(bitmap.heapBytesEstimate()).isEqualTo(clean);
  }
}
