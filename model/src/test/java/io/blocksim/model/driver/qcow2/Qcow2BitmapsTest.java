package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.blocksim.model.bitmap.HBitmap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: the persistent-bitmap extension is what QEMU 7.2 writes and reads (docs/qemu-behaviour.md §11,
 * E5). Method: store bitmaps through the engine and check the directory and data against the
 * byte values E5 measured on real QEMU, the open-time in-use marking, removal, and that real
 * {@code qemu-img} reads the result (when installed).
 */
class Qcow2BitmapsTest {
  private static final long MIB = 1 << 20;
  private static final long SIZE = 64 * MIB;
  private static final long GRANULE = 65536;

  @TempDir Path dir;

  /** E5's pb: bits 0, 15 and 16 of a 64 KiB-granularity bitmap on a 64 MiB disk. */
  private static byte[] e5Bits() {
    HBitmap bits = new HBitmap(SIZE, 16);
    bits.set(0, GRANULE);
    bits.set(15 * GRANULE, 2 * GRANULE);
    return bits.serialize();
  }

  private static MemoryHostFile storedE5Image() throws Exception {
    MemoryHostFile file = new MemoryHostFile();
    Qcow2Image.create(file, SIZE, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(file, false);
    // The node lists the newer bitmap first: pdis was added after pb.
    image.storeBitmaps(List.of(
        new Qcow2Image.BitmapToStore("pdis", GRANULE, false, false, new byte[128]),
        new Qcow2Image.BitmapToStore("pb", GRANULE, true, false, e5Bits())));
    image.close();
    return file;
  }

  @Test
  void storedDirectoryHasE5sEntriesFlagsAndData() throws Exception {
    MemoryHostFile file = storedE5Image();
    Qcow2Image image = Qcow2Image.open(file, true);

    List<Qcow2Image.BitmapEntry> entries = image.bitmapDirectory();
    assertThat(entries).extracting(Qcow2Image.BitmapEntry::name).containsExactly("pdis", "pb");
    assertThat(entries).extracting(Qcow2Image.BitmapEntry::flags).containsExactly(0, 2);
    assertThat(entries).extracting(Qcow2Image.BitmapEntry::tableSize).containsExactly(1, 1);
    assertThat(image.bitmapsConsistent()).isTrue();
    byte[] ext = image.bitmapsExtension();
    assertThat(Bytes.getInt(ext, 0)).isEqualTo(2);
    assertThat(Bytes.getLong(ext, 8)).as("two 32-byte entries").isEqualTo(64);
    // pdis has no dirty bit, so its table entry is 0; pb's points at a data cluster.
    byte[] table = new byte[8];
    file.read(entries.get(0).tableOffset(), table, 0, 8);
    assertThat(Bytes.getLong(table, 0)).isZero();
    file.read(entries.get(1).tableOffset(), table, 0, 8);
    long dataOffset = Bytes.getLong(table, 0);
    byte[] data = new byte[8];
    file.read(dataOffset, data, 0, 8);
    assertThat(data).containsExactly(0x01, 0x80, 0x01, 0, 0, 0, 0, 0);
    assertThat(Qcow2Check.check(file).exitCode()).isZero();
  }

  @Test
  void readWriteOpenMarksInUseAndTheNextOpenFindsThemInconsistent() throws Exception {
    MemoryHostFile file = storedE5Image();

    Qcow2Image first = Qcow2Image.open(file, false);
    List<Qcow2Image.LoadedBitmap> loaded = first.loadedBitmaps();
    assertThat(loaded).extracting(Qcow2Image.LoadedBitmap::name).containsExactly("pdis", "pb");
    assertThat(loaded).extracting(Qcow2Image.LoadedBitmap::enabled).containsExactly(false, true);
    assertThat(loaded.get(1).data()).isEqualTo(e5Bits());
    assertThat(first.bitmapDirectory()).extracting(Qcow2Image.BitmapEntry::flags)
        .containsExactly(1, 3);

    // A kill -9 now: nothing more is written. The next open sees both in use.
    Qcow2Image second = Qcow2Image.open(file, false);
    assertThat(second.loadedBitmaps()).allSatisfy(b -> {
      assertThat(b.inconsistent()).isTrue();
      assertThat(b.data()).isNull();
    });
  }

  @Test
  void readOnlyOpenWritesNothing() throws Exception {
    MemoryHostFile file = storedE5Image();
    byte[] before = file.bytes();

    Qcow2Image image = Qcow2Image.open(file, true);

    assertThat(image.loadedBitmaps()).hasSize(2);
    assertThat(file.bytes()).isEqualTo(before);
  }

  @Test
  void storingAgainReplacesTheInUseEntryAndFreesTheOldClusters() throws Exception {
    MemoryHostFile file = storedE5Image();
    Qcow2Image image = Qcow2Image.open(file, false);
    HBitmap other = new HBitmap(SIZE, 16);
    other.set(40 * MIB, GRANULE);

    image.storeBitmaps(List.of(
        new Qcow2Image.BitmapToStore("pdis", GRANULE, false, false, new byte[128]),
        new Qcow2Image.BitmapToStore("pb", GRANULE, true, false, other.serialize())));
    image.close();

    Qcow2Image reopened = Qcow2Image.open(file, true);
    assertThat(reopened.bitmapDirectory()).extracting(Qcow2Image.BitmapEntry::flags)
        .containsExactly(0, 2);
    assertThat(reopened.loadedBitmaps().get(1).data()).isEqualTo(other.serialize());
    Qcow2Check.Result check = Qcow2Check.check(file);
    assertThat(check.leaks()).isZero();
    assertThat(check.corruptions()).isZero();
  }

  @Test
  void removingTheLastBitmapDropsTheExtensionWithoutLeaks() throws Exception {
    MemoryHostFile file = storedE5Image();
    Qcow2Image image = Qcow2Image.open(file, false);

    image.removeBitmap("pb");
    assertThat(image.bitmapDirectory()).extracting(Qcow2Image.BitmapEntry::name)
        .containsExactly("pdis");
    image.removeBitmap("pdis");
    image.removeBitmap("never-there");
    image.close();

    Qcow2Image reopened = Qcow2Image.open(file, true);
    assertThat(reopened.bitmapsExtension()).isNull();
    assertThat(reopened.bitmapsConsistent()).isFalse();
    Qcow2Check.Result check = Qcow2Check.check(file);
    assertThat(check.leaks()).isZero();
    assertThat(check.corruptions()).isZero();
  }

  @Test
  void aStoreWithoutWriteAccessFailsAndReadonlyBitmapsAreNotRewritten() throws Exception {
    MemoryHostFile file = storedE5Image();
    Qcow2Image image = Qcow2Image.open(file, true);
    byte[] before = file.bytes();

    image.storeBitmaps(List.of(
        new Qcow2Image.BitmapToStore("pb", GRANULE, true, true, new byte[0])));
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> image.storeBitmaps(List.of(
        new Qcow2Image.BitmapToStore("new", GRANULE, true, false, new byte[128]))))
        .hasMessageContaining("No write access");

    assertThat(file.bytes()).isEqualTo(before);
  }

  @Test
  void realQemuImgListsAndChecksTheStoredBitmaps() throws Exception {
    assumeTrue(QemuTools.available(), "qemu-img not installed");
    Path path = dir.resolve("e5.qcow2");
    storedE5Image().saveTo(path);

    QemuTools.Result info = QemuTools.qemuImg("info", "--output=json", path.toString());
    QemuTools.Result check = QemuTools.qemuImg("check", path.toString());

    assertThat(info.output().replaceAll("\\s", ""))
        .contains("\"bitmaps\":[{\"flags\":[],\"name\":\"pdis\",\"granularity\":65536},"
            + "{\"flags\":[\"auto\"],\"name\":\"pb\",\"granularity\":65536}]");
    assertThat(check.exitCode()).as(check.output()).isZero();
    List<String> ours = new ArrayList<>(Qcow2Check.check(MemoryHostFile.loadFrom(path))
        .summary());
    assertThat(check.output().strip().split("\n")).containsExactlyElementsOf(ours);
  }

  @Test
  void imagesWrittenByRealQemuImgBitmapLoadWithTheirData() throws Exception {
    assumeTrue(QemuTools.available(), "qemu-img not installed");
    Path path = dir.resolve("real.qcow2");
    QemuTools.qemuImg("create", "-f", "qcow2", path.toString(), "64M");
    QemuTools.qemuImg("bitmap", "--add", path.toString(), "b0");
    // qemu-io opens the image read-write: the enabled bitmap records its writes and is stored.
    QemuTools.qemuIo(path, "write 0 64k", "write 960k 128k");
    QemuTools.qemuImg("bitmap", "--add", "--disable", "-g", "4k", path.toString(), "b1");

    Qcow2Image image = Qcow2Image.open(MemoryHostFile.loadFrom(path), true);

    assertThat(image.loadedBitmaps()).extracting(Qcow2Image.LoadedBitmap::name)
        .containsExactly("b0", "b1");
    assertThat(image.loadedBitmaps().get(1).enabled()).isFalse();
    assertThat(image.loadedBitmaps().get(1).granularityBytes()).isEqualTo(4096);
    assertThat(image.loadedBitmaps().get(0).data()).isEqualTo(e5Bits());
  }
}
