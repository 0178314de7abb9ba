package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.sim.prng.Prng;
import io.blocksim.sim.prng.Ratio;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Goal: the fake disk behaves like a Linux file system under QEMU's requests (contents, holes,
 * errors), stays sparse, and its cache, crash hooks and op counting work as documented. Method:
 * small hand-built cases whose expected values follow from the request arithmetic, not from a run.
 */
class FakeDiskTest {
  private static final long KIB = 1024;
  private static final long TIB = 1024L * 1024 * 1024 * 1024;

  private static byte[] pattern(int length, int value) {
    byte[] data = new byte[length];
    Arrays.fill(data, (byte) value);
    return data;
  }

  private static byte[] read(HostFile file, long offset, int length) throws HostIoException {
    byte[] data = new byte[length];
    file.read(offset, data, 0, length);
    return data;
  }

  @Test
  void openingAMissingFileFailsWithEnoent() {
    FakeDisk disk = new FakeDisk();
    assertThatThrownBy(() -> disk.open("missing.qcow2"))
        .isInstanceOfSatisfying(
            HostIoException.class, e -> assertThat(e.errno()).isEqualTo(HostIoException.ENOENT));
  }

  @Test
  void absoluteOrDottedPathsFailWithEinval() {
    FakeDisk disk = new FakeDisk();
    for (String path : List.of("/etc/passwd", "../x", "a//b", "", "a/./b")) {
      assertThatThrownBy(() -> disk.create(path))
          .as(path)
          .isInstanceOfSatisfying(
              HostIoException.class, e -> assertThat(e.errno()).isEqualTo(HostIoException.EINVAL));
    }
  }

  @Test
  void listIsSortedAndExistsFollowsCreate() throws Exception {
    FakeDisk disk = new FakeDisk();
    disk.create("top.qcow2");
    disk.create("base.raw");
    disk.create("dir/mid.qcow2");
    assertThat(disk.list()).containsExactly("base.raw", "dir/mid.qcow2", "top.qcow2");
    assertThat(disk.exists("base.raw")).isTrue();
    assertThat(disk.exists("other")).isFalse();
    assertThat(disk.open("top.qcow2")).isSameAs(disk.open("top.qcow2"));
  }

  @Test
  void createOnAnExistingFileTruncatesItToZero() throws Exception {
    FakeDisk disk = new FakeDisk();
    disk.create("a").write(0, pattern(100, 7), 0, 100);
    HostFile again = disk.create("a");
    assertThat(again.length()).isZero();
    assertThat(read(again, 0, 100)).isEqualTo(new byte[100]);
  }

  @Test
  void readAcrossPageBoundariesAndPatternTransitions() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    file.write(0, pattern(8192, 0xaa), 0, 8192); // Two uniform pages.
    byte[] mixed = new byte[3000];
    for (int i = 0; i < mixed.length; i++) {
      mixed[i] = (byte) i;
    }
    file.write(4096 - 1000, mixed, 0, 3000); // Straddles the two pages.
    file.write(4096 + 2000, pattern(2096, 0xaa), 0, 2096); // Restores the tail of page 1.

    byte[] expected = pattern(8192, 0xaa);
    System.arraycopy(mixed, 0, expected, 3096, 3000);
    Arrays.fill(expected, 6096, 8192, (byte) 0xaa);
    assertThat(read(file, 0, 8192)).isEqualTo(expected);
    assertThat(read(file, 3000, 200)).isEqualTo(Arrays.copyOfRange(expected, 3000, 3200));
    assertThat(read(file, 8000, 400))
        .isEqualTo(
            concat(Arrays.copyOfRange(expected, 8000, 8192), new byte[208])); // Past the end.
  }

  @Test
  void pageOverwrittenWithOnePatternIsStoredAsATagAgain() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    byte[] mixed = new byte[4096];
    for (int i = 0; i < mixed.length; i++) {
      mixed[i] = (byte) (i * 31 + i / 256); // Neither uniform, periodic nor sparse: bytes.
    }
    file.write(0, mixed, 0, 4096);
    file.flush();
    assertThat(disk.retainedBytes()).isEqualTo(4096);
    file.write(0, pattern(17, 0x33), 0, 17);
    file.write(17, pattern(4079, 0x33), 0, 4079);
    file.flush();
    assertThat(disk.retainedBytes()).isZero();
    assertThat(read(file, 0, 4096)).isEqualTo(pattern(4096, 0x33));
  }

  @Test
  void oneTebibyteFileWithTenThousandScatteredBlocksKeepsOnlyThoseBlocks() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("big.raw");
    file.truncate(TIB);
    Prng prng = new Prng(2024);
    TreeSet<Long> blocks = new TreeSet<>();
    byte[] data = new byte[4096];
    for (int i = 0; i < 10_000; i++) {
      long block = prng.nextLong(TIB / 4096);
      for (int j = 0; j < data.length; j += 8) {
        long random = prng.nextLong();
        for (int k = 0; k < 8; k++) {
          data[j + k] = (byte) (random >>> (8 * k));
        }
      }
      file.write(block * 4096, data, 0, 4096);
      blocks.add(block);
    }
    assertThat(disk.pageCount("big.raw")).isEqualTo(blocks.size());
    // Before the flush the cache also holds a copy of each request's data.
    assertThat(disk.retainedBytes()).isEqualTo(blocks.size() * 4096L + 10_000 * 4096L);
    file.flush();
    assertThat(disk.retainedBytes()).isEqualTo(blocks.size() * 4096L);
    assertThat(file.length()).isEqualTo(TIB);

    long first = blocks.first();
    assertThat(file.allocationRun(0, TIB)).isEqualTo(-(first * 4096));
    assertThat(file.allocationRun(first * 4096, TIB)).isPositive();
  }

  @Test
  void oneTebibyteOfPatternWritesCostsNoPageData() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("big.raw");
    Prng prng = new Prng(7);
    for (int i = 0; i < 10_000; i++) {
      long block = prng.nextLong(TIB / 65536);
      file.write(block * 65536, pattern(65536, 0x5a), 0, 65536);
    }
    file.flush();
    assertThat(disk.retainedBytes()).isZero();
    assertThat(disk.pageCount("big.raw")).isBetween(9_900 * 16, 10_000 * 16);
  }

  @Test
  void discardOfAWholeTebibyteIsCheap() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("big.raw");
    file.truncate(TIB);
    file.write(TIB / 2, pattern(4096, 1), 0, 4096);
    file.discard(0, TIB);
    assertThat(disk.pageCount("big.raw")).isZero();
    assertThat(file.allocationRun(0, TIB)).isEqualTo(-TIB);
  }

  /**
   * A write-zeroes is ext4's FALLOC_FL_ZERO_RANGE: the range stays allocated (du and actual-size
   * count it, checked with fallocate -z on ext4) but SEEK_DATA sees a hole.
   */
  @Test
  void writeZeroesAllocatesUnwrittenPages() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("z.raw");
    file.truncate(1 << 20);
    file.writeZeroes(4096, 65536);
    assertThat(disk.pageCount("z.raw")).isEqualTo(16);
    assertThat(file.allocatedBytes()).isEqualTo(65536);
    assertThat(file.allocationRun(0, 1 << 20)).isEqualTo(-(1 << 20));
    file.discard(4096, 65536);
    assertThat(file.allocatedBytes()).isZero();
  }

  @Test
  void writtenZeroesAreDataButWriteZeroesPunchesWholePages() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    file.write(0, new byte[3 * 4096], 0, 3 * 4096);
    assertThat(file.allocationRun(0, 3 * 4096)).isEqualTo(3 * 4096);

    file.writeZeroes(4096 - 10, 4096 + 20); // Page 1 whole, pages 0 and 2 in part.
    assertThat(file.allocationRun(0, 3 * 4096)).isEqualTo(4096);
    assertThat(file.allocationRun(4096, 3 * 4096)).isEqualTo(-4096);
    assertThat(file.allocationRun(2 * 4096, 3 * 4096)).isEqualTo(4096);
  }

  @Test
  void partialZeroingOfAHoleLeavesAHole() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    file.truncate(3 * 4096);
    file.writeZeroes(100, 200);
    file.discard(5000, 10);
    assertThat(file.allocationRun(0, 3 * 4096)).isEqualTo(-3 * 4096);
  }

  @Test
  void allocationRunTreatsBytesPastTheEndAsAHole() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    file.write(0, pattern(5000, 9), 0, 5000);
    assertThat(file.allocationRun(0, 1 << 20)).isEqualTo(5000);
    assertThat(file.allocationRun(5000, 1 << 20)).isEqualTo(-(1 << 20));
    assertThat(file.allocationRun(4999, 1)).isEqualTo(1);
    assertThat(file.allocationRun(0, 0)).isZero();
  }

  @Test
  void writeZeroesExtendsTheFileButDiscardDoesNot() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    file.discard(0, 10_000);
    assertThat(file.length()).isZero();
    file.writeZeroes(0, 10_000);
    assertThat(file.length()).isEqualTo(10_000);
    file.write(20_000, new byte[0], 0, 0);
    assertThat(file.length()).isEqualTo(10_000);
  }

  @Test
  void shrinkingThenGrowingReadsZeroesWhereDataWas() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    file.write(0, pattern(10_000, 0xee), 0, 10_000);
    file.truncate(1_000);
    file.truncate(10_000);
    byte[] expected = new byte[10_000];
    Arrays.fill(expected, 0, 1_000, (byte) 0xee);
    assertThat(read(file, 0, 10_000)).isEqualTo(expected);
    // As on Linux, the block holding the new end stays allocated; the rest became a hole.
    assertThat(file.allocationRun(0, 10_000)).isEqualTo(4096);
    assertThat(file.allocationRun(4096, 10_000 - 4096)).isEqualTo(-(10_000 - 4096));
  }

  @Test
  void growingPastTheSizeLimitFailsWithEnospcAndChangesNothing() throws Exception {
    FakeDisk disk = new FakeDisk();
    disk.setSizeLimit("small", 64 * KIB);
    HostFile file = disk.create("small");
    file.write(0, pattern(64 * 1024, 1), 0, 64 * 1024);
    long opsBefore = disk.opCount();
    assertThatThrownBy(() -> file.write(64 * KIB - 1, pattern(2, 2), 0, 2))
        .isInstanceOfSatisfying(
            HostIoException.class, e -> assertThat(e.errno()).isEqualTo(HostIoException.ENOSPC));
    assertThatThrownBy(() -> file.truncate(64 * KIB + 1)).isInstanceOf(HostIoException.class);
    assertThatThrownBy(() -> file.writeZeroes(64 * KIB, 1)).isInstanceOf(HostIoException.class);
    assertThat(file.length()).isEqualTo(64 * KIB);
    assertThat(read(file, 64 * KIB - 1, 1)).containsExactly(1);
    assertThat(disk.opCount()).isEqualTo(opsBefore);
    file.write(0, pattern(10, 3), 0, 10); // Overwriting inside the file still works.
  }

  @Test
  void writeEndingPastTwoToThe63FailsWithEfbig() throws Exception {
    HostFile file = new FakeDisk().create("f");
    assertThatThrownBy(() -> file.write(Long.MAX_VALUE - 1, pattern(10, 1), 0, 10))
        .isInstanceOfSatisfying(
            HostIoException.class, e -> assertThat(e.errno()).isEqualTo(HostIoException.EFBIG));
  }

  @Test
  void processCrashLosesNothingAndLeavesRequestsUnflushed() throws Exception {
    FakeDisk disk = new FakeDisk(new FakeDisk.Config(Ratio.NEVER, Ratio.NEVER, 100));
    HostFile file = disk.create("f");
    file.write(0, pattern(512, 4), 0, 512);
    disk.crashProcess();
    assertThat(read(disk.open("f"), 0, 512)).isEqualTo(pattern(512, 4));
    assertThat(disk.unflushedCount("f")).isEqualTo(1);
    disk.crashPower(new Prng(1)); // Still only in the cache: a later power loss drops it.
    assertThat(disk.open("f").length()).isZero();
  }

  @Test
  void powerLossKeepingNothingReturnsToTheLastFlush() throws Exception {
    FakeDisk disk = new FakeDisk(new FakeDisk.Config(Ratio.NEVER, Ratio.NEVER, 100));
    HostFile file = disk.create("f");
    file.write(0, pattern(4096, 1), 0, 4096);
    file.flush();
    file.write(0, pattern(100, 2), 0, 100);
    file.truncate(50_000);
    file.discard(0, 4096);
    List<OpFate> fates = disk.crashPower(new Prng(5));
    assertThat(fates).extracting(OpFate::fate).containsOnly(OpFate.Fate.DROPPED).hasSize(3);
    assertThat(file.length()).isEqualTo(4096);
    assertThat(read(file, 0, 4096)).isEqualTo(pattern(4096, 1));
  }

  @Test
  void powerLossKeepingEverythingUntornChangesNothingVisible() throws Exception {
    FakeDisk disk = new FakeDisk(new FakeDisk.Config(Ratio.ALWAYS, Ratio.NEVER, 100));
    HostFile file = disk.create("f");
    file.write(0, pattern(4096, 1), 0, 4096);
    file.write(1000, pattern(5000, 2), 0, 5000);
    file.discard(0, 512);
    byte[] before = read(file, 0, 7000);
    List<OpFate> fates = disk.crashPower(new Prng(5));
    assertThat(fates).extracting(OpFate::fate).containsOnly(OpFate.Fate.KEPT);
    assertThat(read(file, 0, 7000)).isEqualTo(before);
  }

  @Test
  void tornWritesKeepASectorPrefixOfEachNonOverlappingRequest() throws Exception {
    // Eight writes of distinct values over distinct unaligned ranges; after the loss each range
    // must read as its new value up to a sector boundary and the old value after it.
    int[] seen = new int[3];
    for (long seed = 0; seed < 200; seed++) {
      FakeDisk disk = new FakeDisk(new FakeDisk.Config(new Ratio(2, 3), new Ratio(1, 2), 100));
      HostFile file = disk.create("f");
      file.write(0, pattern(80_000, 0xff), 0, 80_000);
      file.flush();
      for (int i = 0; i < 8; i++) {
        file.write(i * 10_000L + 100, pattern(5_000, i + 1), 0, 5_000);
      }
      for (OpFate fate : disk.crashPower(new Prng(seed))) {
        seen[fate.fate().ordinal()]++;
      }
      for (int i = 0; i < 8; i++) {
        long start = i * 10_000L + 100;
        byte[] range = read(file, start, 5_000);
        int newBytes = 0;
        while (newBytes < range.length && range[newBytes] == (byte) (i + 1)) {
          newBytes++;
        }
        int oldBytes = 0;
        while (newBytes + oldBytes < range.length && range[newBytes + oldBytes] == (byte) 0xff) {
          oldBytes++;
        }
        assertThat(newBytes + oldBytes).as("seed %d write %d: new then old", seed, i)
            .isEqualTo(range.length);
        if (newBytes > 0 && newBytes < range.length) {
          assertThat((start + newBytes) % 512).as("seed %d write %d", seed, i).isZero();
        }
      }
    }
    for (int count : seen) {
      assertThat(count).as("kept, torn, dropped: %s", Arrays.toString(seen)).isGreaterThan(50);
    }
  }

  @Test
  void sameSeedLosesTheSameRequests() throws Exception {
    List<List<OpFate>> outcomes = new ArrayList<>();
    for (int run = 0; run < 2; run++) {
      FakeDisk disk = new FakeDisk();
      HostFile a = disk.create("a");
      HostFile b = disk.create("b");
      for (int i = 0; i < 20; i++) {
        a.write(i * 3000L, pattern(3000, i), 0, 3000);
        b.writeZeroes(i * 700L, 1500);
      }
      outcomes.add(disk.crashPower(new Prng(77)));
    }
    assertThat(outcomes.get(1)).isEqualTo(outcomes.get(0));
    assertThat(outcomes.get(0)).extracting(fate -> fate.op().path()).startsWith("a").endsWith("b");
  }

  @Test
  void listenersSeeEveryMutatingRequestAndFlushInOrder() throws Exception {
    FakeDisk disk = new FakeDisk();
    List<DiskOp> ops = new ArrayList<>();
    disk.addListener(ops::add);
    HostFile file = disk.create("f");
    file.write(10, pattern(5, 1), 0, 5);
    read(file, 0, 10);
    file.writeZeroes(0, 4);
    file.discard(2, 100);
    file.truncate(7);
    file.flush();
    assertThat(ops)
        .containsExactly(
            new DiskOp(1, "f", DiskOp.Kind.WRITE, 10, 5),
            new DiskOp(2, "f", DiskOp.Kind.WRITE_ZEROES, 0, 4),
            new DiskOp(3, "f", DiskOp.Kind.DISCARD, 2, 13), // Clipped to the length (15).
            new DiskOp(4, "f", DiskOp.Kind.TRUNCATE, 0, 7),
            new DiskOp(5, "f", DiskOp.Kind.FLUSH, 0, 0));
    assertThat(disk.opCount()).isEqualTo(5);
    disk.create("g").flush();
    assertThat(disk.opCount()).isEqualTo(6);
    assertThat(disk.opCount("f")).isEqualTo(5);
    assertThat(disk.opCount("g")).isEqualTo(1);
  }

  @Test
  void armedPowerCutFiresAfterExactlyTheKthRequestAndThenEverythingFails() throws Exception {
    FakeDisk disk = new FakeDisk(new FakeDisk.Config(Ratio.NEVER, Ratio.NEVER, 100));
    HostFile file = disk.create("f");
    disk.cutPowerAfterOp(3, new Prng(9));
    file.write(0, pattern(10, 1), 0, 10);
    file.flush();
    file.write(0, pattern(10, 2), 0, 10); // Op 3 completes, then the power goes.
    assertThat(disk.isPoweredOff()).isTrue();
    assertThat(disk.lastPowerLoss()).hasSize(1);
    assertThatThrownBy(() -> file.write(0, pattern(1, 3), 0, 1))
        .isInstanceOfSatisfying(
            HostIoException.class, e -> assertThat(e.errno()).isEqualTo(HostIoException.EIO));
    assertThatThrownBy(file::flush).isInstanceOf(HostIoException.class);
    assertThatThrownBy(() -> read(file, 0, 1)).isInstanceOf(HostIoException.class);
    assertThat(disk.opCount()).isEqualTo(3);

    disk.powerOn();
    assertThat(read(file, 0, 10)).isEqualTo(pattern(10, 1));
  }

  @Test
  void armingACutAtAnOpThatAlreadyRanIsABug() throws Exception {
    FakeDisk disk = new FakeDisk();
    disk.create("f").flush();
    assertThatThrownBy(() -> disk.cutPowerAfterOp(1, new Prng(1)))
        .isInstanceOf(io.blocksim.model.check.InvariantViolation.class);
  }

  @Test
  void tooManyUnflushedRequestsWriteTheOldestBack() throws Exception {
    FakeDisk disk = new FakeDisk(new FakeDisk.Config(Ratio.NEVER, Ratio.NEVER, 2));
    HostFile file = disk.create("f");
    file.write(0, pattern(10, 1), 0, 10);
    file.write(10, pattern(10, 2), 0, 10);
    file.write(20, pattern(10, 3), 0, 10);
    assertThat(disk.unflushedCount("f")).isEqualTo(2);
    disk.crashPower(new Prng(1));
    assertThat(file.length()).isEqualTo(10);
    assertThat(read(file, 0, 10)).isEqualTo(pattern(10, 1));
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
