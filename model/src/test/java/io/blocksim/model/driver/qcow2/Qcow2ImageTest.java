package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/**
 * Goal: the engine behaves like a disk, and its events and status match QEMU's code paths.
 * Method: jqwik action chains run random guest requests against the engine and a plain byte
 * array (the reference model), compare every read, reopen the image from its file and compare
 * again; fixed tests pin the event sequences and block status of simple cases, the header
 * validation errors, and the memory cost of a sparse 1 TiB image.
 */
class Qcow2ImageTest {
  static final int SIZE = 4 << 20;

  @Provide
  Arbitrary<List<GuestOp>> ops() {
    Arbitrary<Long> offsets = Arbitraries.longs().between(0, SIZE / 512 - 1).map(s -> s * 512);
    Arbitrary<Long> lengths = Arbitraries.longs().between(1, 600).map(s -> s * 512);
    Arbitrary<Integer> kinds = Arbitraries.integers().between(0, 9);
    Arbitrary<Integer> patterns = Arbitraries.integers().between(1, 255);
    Arbitrary<GuestOp> op = Combinators.combine(offsets, lengths, kinds, patterns)
        .as((offset, length, kind, pattern) -> {
          long len = Math.min(length, SIZE - offset);
          return switch (kind) {
            case 0, 1, 2, 3 -> GuestOp.write(offset, len, pattern);
            case 4 -> GuestOp.zero(offset, len, false);
            case 5 -> GuestOp.zero(offset, len, true);
            case 6 -> GuestOp.discard(offset, len);
            case 7 -> GuestOp.flush();
            default -> GuestOp.read(offset, len);
          };
        });
    return op.list().ofMinSize(1).ofMaxSize(40);
  }

  @Property(tries = 150)
  void readsReturnWhatWasWritten(@ForAll("ops") List<GuestOp> ops,
      @ForAll @IntRange(min = 0, max = 3) int geometry) throws Exception {
    long clusterSize = new long[] {512, 4096, 65536, 65536}[geometry];
    int version = geometry == 3 ? 2 : 3;
    MemoryHostFile file = new MemoryHostFile();
    Qcow2Image.create(file, SIZE, Qcow2CreateOptions.defaults().withClusterSize(clusterSize)
        .withVersion(version));
    Qcow2Image image = Qcow2Image.open(file, false);
    byte[] model = new byte[SIZE];
    for (GuestOp op : ops) {
      op.applyTo(image);
      op.applyTo(model, clusterSize);
      if (op.kind() == GuestOp.Kind.READ) {
        byte[] got = new byte[(int) op.length()];
        image.read(op.offset(), got, 0, got.length);
        assertThat(got).as("read after %s", op)
            .isEqualTo(Arrays.copyOfRange(model, (int) op.offset(),
                (int) (op.offset() + op.length())));
      }
    }
    assertWholeImageEquals(image, model);
    image.flush();
    image.close();
    assertWholeImageEquals(Qcow2Image.open(file, true), model);
  }

  @Property(tries = 80)
  void writesOverABackingFileKeepTheBackingDataElsewhere(@ForAll("ops") List<GuestOp> ops,
      @ForAll @IntRange(min = 0, max = 2) int geometry) throws Exception {
    long clusterSize = new long[] {512, 4096, 65536}[geometry];
    MemoryHostFile baseFile = new MemoryHostFile();
    Qcow2Image.create(baseFile, SIZE, Qcow2CreateOptions.defaults());
    Qcow2Image base = Qcow2Image.open(baseFile, false);
    byte[] model = new byte[SIZE];
    SplittableRandom r = new SplittableRandom(ops.size());
    for (int i = 0; i < 6; i++) {
      GuestOp w = GuestOp.write(r.nextLong(SIZE / 65536) * 65536 + 512 * r.nextInt(64),
          65536, 0x80 + i);
      long len = Math.min(w.length(), SIZE - w.offset());
      w = GuestOp.write(w.offset(), len, w.pattern());
      w.applyTo(base);
      w.applyTo(model, 65536);
    }
    MemoryHostFile overlayFile = new MemoryHostFile();
    Qcow2Image.create(overlayFile, SIZE, Qcow2CreateOptions.defaults()
        .withClusterSize(clusterSize).withBacking("base.qcow2", "qcow2"));
    Qcow2Image overlay = Qcow2Image.open(overlayFile, false);
    overlay.setBackingReader(new ImageBacking(base));
    for (GuestOp op : ops) {
      op.applyTo(overlay);
      op.applyTo(model, clusterSize);
    }
    assertWholeImageEquals(overlay, model);
  }

  static void assertWholeImageEquals(Qcow2Image image, byte[] model) throws HostIoException {
    byte[] all = new byte[model.length];
    image.read(0, all, 0, all.length);
    for (int i = 0; i < model.length; i += 512) {
      if (!Arrays.equals(all, i, i + 512, model, i, i + 512)) {
        throw new AssertionError("sector at " + i + " differs from the reference model");
      }
    }
  }

  @Test
  void firstWriteToANewImageRaisesQemusEventsBeforeEachRequest() throws Exception {
    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, 64 << 20, Qcow2CreateOptions.defaults());
    RecordingHostFile file = new RecordingHostFile(memory);
    Qcow2Image image = Qcow2Image.open(file, false);
    image.setEventListener(file);
    file.recording = true;
    image.write(0, new byte[4096], 0, 4096);
    // Derived from qcow2-cluster.c l2_allocate / qcow2-refcount.c / qcow2.c pwritev_task:
    // the L2 table is allocated (the free-cluster search reads the refcount block through the
    // cache without an event; update_refcount then raises refblock_alloc and refblock_load on a
    // cache hit; the refcount cache is flushed, the table written,
    // L2 cache flushed, L1 entry written with a flush), then the data cluster is allocated,
    // zero-filled on the host (cluster_alloc_space) and the guest data written.
    assertThat(file.lines).containsExactly(
        "event cluster_alloc",
        "read 131072 65536",
        "event refblock_alloc",
        "event refblock_load",
        "event refblock_update_part",
        "write 131072 65536",
        "flush",
        "event l2_alloc_write",
        "event l2_update",
        "write 262144 65536",
        "flush",
        "event l1_update",
        "write 196608 8",
        "flush",
        "event cluster_alloc",
        "event refblock_alloc",
        "event refblock_load",
        "event cluster_alloc_space",
        "zero 327680 65536",
        "event write_aio",
        "write 327680 4096");
    file.lines.clear();
    image.flush();
    assertThat(file.lines).containsExactly(
        "event refblock_update_part",
        "write 131072 65536",
        "flush",
        "event l2_update",
        "write 262144 65536",
        "flush");
  }

  @Test
  void partialWriteOverBackingDataCopiesOnWriteInOneMergedRequest() throws Exception {
    MemoryHostFile baseFile = new MemoryHostFile();
    Qcow2Image.create(baseFile, 1 << 20, Qcow2CreateOptions.defaults());
    Qcow2Image base = Qcow2Image.open(baseFile, false);
    byte[] pattern = new byte[65536];
    Arrays.fill(pattern, (byte) 0x5a);
    base.write(0, pattern, 0, pattern.length);
    base.write(65536, pattern, 0, pattern.length);
    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, 1 << 20,
        Qcow2CreateOptions.defaults().withBacking("base.qcow2", "qcow2"));
    RecordingHostFile file = new RecordingHostFile(memory);
    Qcow2Image image = Qcow2Image.open(file, false);
    image.setBackingReader(new ImageBacking(base));
    image.setEventListener(file);
    image.write(0, new byte[65536], 0, 65536);
    file.recording = true;
    byte[] data = new byte[4096];
    Arrays.fill(data, (byte) 0x11);
    image.write(65536 + 8192, data, 0, 4096);
    image.write(4096, data, 0, 4096);
    // The second cluster is unallocated and its backing data is not zero, so QEMU reads both
    // COW regions in one request (merge_reads), then writes head + data + tail at once:
    // write_aio and cow_write for a single host write. The first cluster is rewritten in place.
    assertThat(file.lines).containsSubsequence(
        "event cluster_alloc", "event cow_read", "event read_backing_aio",
        "event write_aio", "event cow_write", "write 393216 65536",
        "event write_aio", "write 331776 4096");
    assertThat(file.lines).doesNotContain("event cluster_alloc_space");
    byte[] got = new byte[65536];
    image.read(65536, got, 0, got.length);
    byte[] expected = pattern.clone();
    Arrays.fill(expected, 8192, 12288, (byte) 0x11);
    assertThat(got).isEqualTo(expected);
  }

  @Test
  void blockStatusReportsDataZeroAndUnallocatedRuns() throws Exception {
    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, 16 << 20, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(memory, false);
    image.write(0, new byte[131072], 0, 131072);
    image.writeZeroes(1 << 20, 196608, false);
    image.writeZeroes(0, 65536, false);

    Qcow2BlockStatus zeroAlloc = image.blockStatus(0, 16 << 20);
    assertThat(zeroAlloc.kind()).isEqualTo(Qcow2BlockStatus.Kind.ZERO);
    assertThat(zeroAlloc.lengthBytes()).isEqualTo(65536);
    assertThat(zeroAlloc.hostOffsetValid()).isTrue();
    Qcow2BlockStatus data = image.blockStatus(65536, 16 << 20);
    assertThat(data.kind()).isEqualTo(Qcow2BlockStatus.Kind.DATA);
    assertThat(data.lengthBytes()).isEqualTo(65536);
    assertThat(data.hostOffset()).isEqualTo(zeroAlloc.hostOffset() + 65536);
    Qcow2BlockStatus hole = image.blockStatus(131072, 16 << 20);
    assertThat(hole.kind()).isEqualTo(Qcow2BlockStatus.Kind.UNALLOCATED);
    assertThat(hole.lengthBytes()).isEqualTo((1 << 20) - 131072);
    Qcow2BlockStatus zero = image.blockStatus(1 << 20, 16 << 20);
    assertThat(zero.kind()).isEqualTo(Qcow2BlockStatus.Kind.ZERO);
    assertThat(zero.lengthBytes()).isEqualTo(196608);
    assertThat(zero.hostOffsetValid()).isFalse();
  }

  @Test
  void version2ImagesHaveNoZeroClustersSoZeroWritesDeallocate() throws Exception {
    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, 1 << 20, Qcow2CreateOptions.defaults().withVersion(2));
    Qcow2Image image = Qcow2Image.open(memory, false);
    byte[] ones = new byte[131072];
    Arrays.fill(ones, (byte) 1);
    image.write(0, ones, 0, ones.length);
    image.writeZeroes(0, 65536, true);
    assertThat(image.blockStatus(0, 1 << 20).kind())
        .isEqualTo(Qcow2BlockStatus.Kind.UNALLOCATED);
    byte[] got = new byte[65536];
    image.read(0, got, 0, got.length);
    assertThat(got).containsOnly((byte) 0);
  }

  @Test
  void openRejectsWhatQemuRejectsWithItsMessages() throws Exception {
    MemoryHostFile notQcow2 = new MemoryHostFile();
    notQcow2.write(0, new byte[] {1, 2, 3, 4}, 0, 4);
    assertThatThrownBy(() -> Qcow2Image.open(notQcow2, true))
        .isInstanceOf(HostIoException.class).hasMessage("Image is not in qcow2 format");

    MemoryHostFile v4 = new MemoryHostFile();
    Qcow2Image.create(v4, 1 << 20, Qcow2CreateOptions.defaults());
    v4.write(4, new byte[] {0, 0, 0, 4}, 0, 4);
    assertThatThrownBy(() -> Qcow2Image.open(v4, true))
        .hasMessage("Unsupported qcow2 version 4")
        .satisfies(e -> assertThat(((HostIoException) e).errno())
            .isEqualTo(HostIoException.ENOTSUP));

    MemoryHostFile corrupt = new MemoryHostFile();
    Qcow2Image.create(corrupt, 1 << 20, Qcow2CreateOptions.defaults());
    corrupt.write(79, new byte[] {2}, 0, 1);
    assertThatThrownBy(() -> Qcow2Image.open(corrupt, false))
        .hasMessage("qcow2: Image is corrupt; cannot be opened read/write");
    assertThat(Qcow2Image.open(corrupt, true).incompatibleFeatures()).isEqualTo(2);
  }

  @Test
  void corruptMetadataMarksAWritableImageCorruptAndMakesItUnusable() throws Exception {
    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, 1 << 20, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(memory, false);
    image.write(0, new byte[512], 0, 512);
    image.flush();
    // L1 entry 0 (at 0x30000) now points 512 bytes into its L2 cluster.
    memory.write(0x30000, Bytes.ofLong(Qcow2Image.OFLAG_COPIED | 0x40200), 0, 8);

    Qcow2Image readOnly = Qcow2Image.open(memory, true);
    assertThatThrownBy(() -> readOnly.read(0, new byte[512], 0, 512))
        .hasMessage("L2 table offset 0x40200 unaligned (L1 index: 0)");
    assertThat(readOnly.corruption().fatal()).isFalse();

    Qcow2Image writable = Qcow2Image.open(memory, false);
    assertThatThrownBy(() -> writable.read(0, new byte[512], 0, 512))
        .satisfies(e -> assertThat(((HostIoException) e).errno()).isEqualTo(HostIoException.EIO));
    assertThat(writable.corruption().fatal()).isTrue();
    assertThatThrownBy(() -> writable.read(0, new byte[512], 0, 512))
        .satisfies(e -> assertThat(((HostIoException) e).errno())
            .isEqualTo(Qcow2Image.ENOMEDIUM));
    assertThat(Qcow2Image.open(memory, true).incompatibleFeatures())
        .isEqualTo(Qcow2Header.INCOMPAT_CORRUPT);
  }

  @Test
  void readOnlyImagesRefuseWrites() throws Exception {
    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, 1 << 20, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(memory, true);
    assertThatThrownBy(() -> image.write(0, new byte[512], 0, 512))
        .isInstanceOf(HostIoException.class);
  }

  /**
   * A 1 TiB image at 64 KiB clusters: the default L2 cache (32 MiB) cannot cover the disk, so
   * QEMU uses 8192 slices of 4 KiB; the engine keeps them sparse. 10,000 scattered 4 KiB writes
   * must leave the engine's metadata in memory small.
   */
  @Test
  void aTebibyteImageWithScatteredWritesCostsLittleMemory() throws Exception {
    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, 1L << 40, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(memory, false);
    assertThat(image.l2CacheEntries()).isEqualTo(8192);
    assertThat(image.l2CacheEntryBytes()).isEqualTo(4096);
    SplittableRandom r = new SplittableRandom(1);
    byte[] data = new byte[4096];
    List<long[]> written = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      long offset = r.nextLong((1L << 40) / 4096) * 4096;
      Arrays.fill(data, (byte) (1 + i % 255));
      image.write(offset, data, 0, data.length);
      written.add(new long[] {offset, 1 + i % 255});
    }
    assertThat(image.metadataMemoryBytes()).isLessThan(4L << 20);
    byte[] got = new byte[4096];
    for (int i = written.size() - 50; i < written.size(); i++) {
      image.read(written.get(i)[0], got, 0, 4096);
      assertThat(got[0]).isEqualTo((byte) written.get(i)[1]);
    }
  }
}
