package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Goal: the image side of a reopen and of a resize is QEMU 7.2's (docs/qemu-behaviour.md §14.2,
 * §15). Method: an image with a stored bitmap is opened read-only and reopened read-write
 * (qcow2_reopen_bitmaps_rw), checking the directory's in-use flags and the refusals; then grown
 * and shrunk (qcow2_co_truncate), checking size, data and the qcow2 check.
 */
class Qcow2ReopenResizeTest {
  private static final long MIB = 1 << 20;
  private static final long GRANULE = 65536;

  private static MemoryHostFile imageWithStoredBitmap() throws Exception {
    MemoryHostFile file = new MemoryHostFile();
    Qcow2Image.create(file, 8 * MIB, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(file, false);
    image.storeBitmaps(List.of(
        new Qcow2Image.BitmapToStore("b", GRANULE, true, false, new byte[16])));
    image.close();
    return file;
  }

  private static Map<String, Qcow2Image.InMemoryBitmap> readonlyB() {
    Map<String, Qcow2Image.InMemoryBitmap> inMemory = new LinkedHashMap<>();
    inMemory.put("b", new Qcow2Image.InMemoryBitmap(true, false));
    return inMemory;
  }

  @Test
  void reopenReadWriteMarksTheEntryInUseWithoutLoadingItAgain() throws Exception {
    MemoryHostFile file = imageWithStoredBitmap();
    Qcow2Image image = Qcow2Image.open(file, true);
    assertThat(image.bitmapDirectory()).extracting(Qcow2Image.BitmapEntry::flags)
        .containsExactly(Qcow2Image.BitmapEntry.AUTO);

    image.setReadOnly(false);
    List<String> writable = image.reopenBitmapsReadWrite(readonlyB());

    assertThat(writable).containsExactly("b");
    assertThat(image.bitmapDirectory()).extracting(Qcow2Image.BitmapEntry::flags)
        .containsExactly(Qcow2Image.BitmapEntry.AUTO | Qcow2Image.BitmapEntry.IN_USE);
    assertThat(image.loadedBitmaps()).hasSize(1);
  }

  @Test
  void reopenReadWriteRefusesWhatQemuCallsCorruption() throws Exception {
    MemoryHostFile file = imageWithStoredBitmap();
    Qcow2Image image = Qcow2Image.open(file, true);
    image.setReadOnly(false);

    assertThatThrownBy(() -> image.reopenBitmapsReadWrite(new LinkedHashMap<>()))
        .hasMessageStartingWith("Unexpected bitmap 'b'");
    Map<String, Qcow2Image.InMemoryBitmap> writableInRam = new LinkedHashMap<>();
    writableInRam.put("b", new Qcow2Image.InMemoryBitmap(false, false));
    assertThatThrownBy(() -> image.reopenBitmapsReadWrite(writableInRam))
        .hasMessageContaining("is not marked IN_USE in the image and not marked readonly in RAM");
    assertThat(image.bitmapDirectory()).extracting(Qcow2Image.BitmapEntry::flags)
        .containsExactly(Qcow2Image.BitmapEntry.AUTO);
  }

  @Test
  void aShrinkKeepsABitmapDirectoryInAPartlyWrittenLastCluster() throws Exception {
    MemoryHostFile file = new MemoryHostFile();
    Qcow2Image.create(file, 8 * MIB, Qcow2CreateOptions.defaults());
    Qcow2Image writer = Qcow2Image.open(file, false);
    writer.write(0, new byte[(int) MIB], 0, (int) MIB);
    writer.storeBitmaps(List.of(
        new Qcow2Image.BitmapToStore("b", GRANULE, true, false, new byte[16])));
    writer.close();
    long directoryEnd = file.length();
    assertThat(directoryEnd % GRANULE).as("the directory ends inside its cluster").isNotZero();

    Qcow2Image image = Qcow2Image.open(file, false);
    image.truncate(2 * MIB, false);

    // qcow2_get_last_cluster counts the file's clusters rounded up: the directory stays.
    assertThat(file.length()).isGreaterThanOrEqualTo(directoryEnd);
    image.close();
    assertThat(Qcow2Image.open(file, true).bitmapDirectory())
        .extracting(Qcow2Image.BitmapEntry::name).containsExactly("b");
    assertThat(Qcow2Check.check(file).exitCode()).isZero();
  }

  @Test
  void growAndShrinkKeepTheImageConsistentAndDropTheCutData() throws Exception {
    MemoryHostFile file = new MemoryHostFile();
    Qcow2Image.create(file, 4 * MIB, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(file, false);
    byte[] ones = new byte[(int) MIB];
    java.util.Arrays.fill(ones, (byte) 0x11);
    image.write(3 * MIB, ones, 0, ones.length);

    image.truncate(600 * MIB, false);
    assertThat(image.virtualSize()).isEqualTo(600 * MIB);
    image.write(500 * MIB, ones, 0, ones.length);
    long grownFile = file.length();

    image.truncate(2 * MIB, false);
    image.truncate(6 * MIB, false);
    byte[] back = new byte[(int) MIB];
    image.read(3 * MIB, back, 0, back.length);
    assertThat(back).containsOnly((byte) 0);
    assertThat(file.length()).isLessThan(grownFile);
    assertThatThrownBy(() -> image.truncate(1000, false))
        .hasMessage("The new size must be a multiple of 512");
    image.close();

    assertThat(Qcow2Image.open(file, true).virtualSize()).isEqualTo(6 * MIB);
    assertThat(Qcow2Check.check(file).exitCode()).isZero();
  }
}
