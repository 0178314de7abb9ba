package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.blocksim.model.port.HostIoException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Goal: qcow2 images with an external data file ({@code data_file}, {@code data_file_raw}) are
 * created, written and read exactly as QEMU 7.2 does it. Method: create the same image with
 * qemu-img and with the engine (the header names the same data file path, so the files can be
 * compared byte for byte), run the same guest requests through qemu-io and through the engine,
 * and compare both the qcow2 file and the data file. Images the engine writes (with persistent
 * bitmaps) are then read back by the real qemu-img and qemu-io.
 */
class Qcow2DataFileTest {
  static final long K = 1024;
  static final long M = 1024 * K;

  @TempDir Path dir;

  @BeforeAll
  static void needQemu() {
    assumeTrue(QemuTools.available(), "qemu-img / qemu-io not installed");
  }

  static Stream<Arguments> createCases() {
    return Stream.of(
        Arguments.of("raw-64M", 64 * M, 65536L, true),
        Arguments.of("plain-64M", 64 * M, 65536L, false),
        Arguments.of("raw-4k-clusters", 64 * M, 4096L, true),
        Arguments.of("raw-512-clusters", 8 * M, 512L, true),
        Arguments.of("raw-odd-size", 1000 * 512L, 65536L, true),
        Arguments.of("raw-size-0", 0L, 65536L, true),
        Arguments.of("raw-3G-two-L2-tables", 3L << 30, 2L * M, true),
        Arguments.of("raw-1G-several-L2-tables", 1L << 30, 65536L, true));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("createCases")
  void createMatchesQemuImgByteForByte(String name, long size, long clusterSize, boolean raw)
      throws Exception {
    Path real = dir.resolve(name + ".qcow2");
    Path realData = dir.resolve(name + ".raw");
    QemuTools.Result r = QemuTools.qemuImg("create", "-f", "qcow2", "-o",
        "cluster_size=" + clusterSize + ",data_file=" + realData + ",data_file_raw="
            + (raw ? "on" : "off"), real.toString(), Long.toString(size));
    assertThat(r.exitCode()).as(r.output()).isZero();

    MemoryHostFile ours = new MemoryHostFile();
    MemoryHostFile ourData = new MemoryHostFile();
    Qcow2Image.create(ours, ourData, size, Qcow2CreateOptions.defaults()
        .withClusterSize(clusterSize).withDataFile(realData.toString(), raw));

    assertThat(ours.bytes()).isEqualTo(Files.readAllBytes(real));
    assertThat(ourData.length()).isEqualTo(Files.size(realData));
    Qcow2Image image = Qcow2Image.open(ours, true);
    assertThat(image.hasDataFile()).isTrue();
    assertThat(image.dataFileIsRaw()).isEqualTo(raw);
    assertThat(image.dataFileName()).isEqualTo(realData.toString());
    assertThat(image.virtualSize()).isEqualTo(size);
  }

  @Test
  void plainImagesDoNotClaimADataFile() throws Exception {
    MemoryHostFile ours = new MemoryHostFile();
    Qcow2Image.create(ours, 1 * M, Qcow2CreateOptions.defaults());
    assertThatThrownBy(() -> Qcow2Image.open(ours, new MemoryHostFile(),
        Qcow2OpenOptions.defaults(true), Qcow2Events.NONE))
        .isInstanceOf(HostIoException.class)
        .hasMessage("'data-file' can only be set for images with an external data file");
    assertThat(Qcow2Image.open(ours, true).hasDataFile()).isFalse();
  }

  @Test
  void withoutItsDataFileAnImageOpensButCannotReadData() throws Exception {
    MemoryHostFile ours = new MemoryHostFile();
    MemoryHostFile data = new MemoryHostFile();
    Qcow2Image.create(ours, data, 1 * M,
        Qcow2CreateOptions.defaults().withDataFile("d.raw", true));
    Qcow2Image image = Qcow2Image.open(ours, true);
    assertThat(image.dataFileName()).isEqualTo("d.raw");
    assertThatThrownBy(() -> image.read(0, new byte[512], 0, 512))
        .isInstanceOf(HostIoException.class)
        .extracting(e -> ((HostIoException) e).errno()).isEqualTo(HostIoException.EIO);
  }

  static List<GuestOp> mixedOps() {
    return List.of(
        GuestOp.write(0, 4 * K, 0x11),
        GuestOp.write(70 * K, 8 * K, 0x22),
        GuestOp.write(1 * M, 128 * K, 0x33),
        GuestOp.write(2 * M + 100, 1000, 0x44),
        GuestOp.zero(64 * K, 128 * K, false),
        GuestOp.zero(256 * K, 128 * K, true),
        GuestOp.write(300 * K, 4 * K, 0x55),
        GuestOp.discard(512 * K, 100 * K),
        GuestOp.zero(3 * M + 512, 512, false),
        GuestOp.flush(),
        GuestOp.write(512 * K, 64 * K, 0x66),
        GuestOp.write(5 * M, 3 * M, 0x77),
        GuestOp.discard(6 * M, 1 * M));
  }

  @ParameterizedTest(name = "data_file_raw={0}")
  @ValueSource(booleans = {true, false})
  void guestRequestsLeaveBothFilesAsQemuIoDoes(boolean raw) throws Exception {
    assertSameAsQemu(64 * M, 65536, raw, mixedOps());
  }

  @ParameterizedTest(name = "cluster size {0}")
  @ValueSource(longs = {512, 4096, 65536})
  void randomRequestSequencesMatchQemu(long clusterSize) throws Exception {
    SplittableRandom random = new SplittableRandom(clusterSize * 7 + 3);
    for (boolean raw : new boolean[] {true, false}) {
      assertSameAsQemu(16 * M, clusterSize, raw,
          Qcow2ImageQemuTest.randomOps(random, 16 * M, 40));
    }
  }

  /** Runs ops through qemu-io and the engine on identical new images; compares both files. */
  void assertSameAsQemu(long size, long clusterSize, boolean raw, List<GuestOp> ops)
      throws Exception {
    Path real = dir.resolve("real.qcow2");
    Path realData = dir.resolve("real.raw");
    Files.deleteIfExists(real);
    Files.deleteIfExists(realData);
    QemuTools.Result c = QemuTools.qemuImg("create", "-f", "qcow2", "-o",
        "cluster_size=" + clusterSize + ",data_file=" + realData + ",data_file_raw="
            + (raw ? "on" : "off"), real.toString(), Long.toString(size));
    assertThat(c.exitCode()).as(c.output()).isZero();
    QemuTools.Result io = QemuTools.qemuIo(real, Qcow2ImageQemuTest.commands(ops));
    assertThat(io.exitCode()).as(io.output()).isZero();
    assertThat(io.output()).doesNotContain("error", "failed");

    MemoryHostFile ours = new MemoryHostFile();
    MemoryHostFile ourData = new MemoryHostFile();
    Qcow2Image.create(ours, ourData, size, Qcow2CreateOptions.defaults()
        .withClusterSize(clusterSize).withDataFile(realData.toString(), raw));
    Qcow2Image image = Qcow2Image.open(ours, ourData, new Qcow2OpenOptions(false, -1, -1, true),
        Qcow2Events.NONE);
    for (GuestOp op : ops) {
      op.applyTo(image);
    }
    image.flush();
    image.close();

    assertThat(ours.bytes()).as("qcow2 file after %s", ops)
        .isEqualTo(Files.readAllBytes(real));
    byte[] expectedData = Files.readAllBytes(realData);
    byte[] actualData = Arrays.copyOf(ourData.bytes(), (int) ourData.length());
    assertThat(actualData.length).as("data file length").isEqualTo(expectedData.length);
    assertThat(Arrays.mismatch(actualData, expectedData)).as("first differing data byte")
        .isEqualTo(-1);
    QemuTools.Result check = QemuTools.check(real);
    assertThat(check.exitCode()).as(check.output()).isZero();
  }

  /**
   * Goal: persistent bitmaps live in the qcow2 file while the data lives in the raw data file,
   * readable by QEMU. Method: the engine writes data and stores a bitmap; qemu-img info and
   * check and qemu-io read the saved files; the raw data file alone holds the guest data.
   */
  @Test
  void bitmapsStayInTheQcow2FileAndDataInTheRawFile() throws Exception {
    Path img = dir.resolve("b.qcow2");
    Path data = dir.resolve("b.raw");
    MemoryHostFile ours = new MemoryHostFile();
    MemoryHostFile ourData = new MemoryHostFile();
    Qcow2Image.create(ours, ourData, 64 * M,
        Qcow2CreateOptions.defaults().withDataFile(data.toString(), true));
    Qcow2Image image = Qcow2Image.open(ours, ourData, Qcow2OpenOptions.defaults(false),
        Qcow2Events.NONE);
    byte[] pattern = new byte[(int) (128 * K)];
    Arrays.fill(pattern, (byte) 0x5a);
    image.write(1 * M, pattern, 0, pattern.length);
    byte[] bits = new byte[128];
    bits[2] = 0x03; // clusters 16 and 17: 1 MiB + 128 KiB at 64 KiB granularity
    image.storeBitmaps(List.of(new Qcow2Image.BitmapToStore("b0", 65536, true, false, bits)));
    image.flush();
    image.close();
    long qcow2Length = ours.length();
    ours.saveTo(img);
    ourData.saveTo(data);

    byte[] raw = Files.readAllBytes(data);
    assertThat(raw.length).isEqualTo(64 * M);
    assertThat(Arrays.copyOfRange(raw, (int) M, (int) (M + 128 * K))).isEqualTo(pattern);
    assertThat(qcow2Length).isLessThan(1 * M);

    QemuTools.Result info = QemuTools.qemuImg("info", img.toString());
    assertThat(info.output()).contains("data file: " + data, "data file raw: true",
        "name: b0", "granularity: 65536");
    QemuTools.Result check = QemuTools.check(img);
    assertThat(check.exitCode()).as(check.output()).isZero();
    QemuTools.Result read = QemuTools.qemuIo(img, "read -P 0x5a 1M 128k", "read -P 0 0 1M");
    assertThat(read.output()).doesNotContain("fail", "error");

    Qcow2Image reopened = Qcow2Image.open(MemoryHostFile.loadFrom(img),
        MemoryHostFile.loadFrom(data), Qcow2OpenOptions.defaults(true), Qcow2Events.NONE);
    assertThat(reopened.loadedBitmaps()).singleElement()
        .satisfies(b -> assertThat(Arrays.copyOf(b.data(), 128)).isEqualTo(bits));
    byte[] back = new byte[pattern.length];
    reopened.read(1 * M, back, 0, back.length);
    assertThat(back).isEqualTo(pattern);
  }

  /**
   * Goal: qemu-img check counts data file clusters as QEMU does (allocated and fragmented, never
   * refcounted). Method: check images qemu-io wrote, raw and not, with the engine's Qcow2Check
   * and with the real qemu-img check, and compare the figures.
   */
  @ParameterizedTest(name = "data_file_raw={0}")
  @ValueSource(booleans = {true, false})
  void checkCountsLikeQemuImgCheck(boolean raw) throws Exception {
    Path img = dir.resolve("c.qcow2");
    Path data = dir.resolve("c.raw");
    assertThat(QemuTools.qemuImg("create", "-f", "qcow2", "-o", "data_file=" + data
        + ",data_file_raw=" + (raw ? "on" : "off"), img.toString(), "16M").exitCode()).isZero();
    QemuTools.Result io = QemuTools.qemuIo(img, "write -P 0x21 0 100k", "write -P 0x42 5M 64k",
        "write -z 64k 64k", "discard 8M 1M");
    assertThat(io.exitCode()).as(io.output()).isZero();
    String real = QemuTools.check(img).output();

    Qcow2Check.Result ours = Qcow2Check.check(MemoryHostFile.loadFrom(img));
    assertThat(ours.exitCode()).isZero();
    assertThat(jsonNumber(real, "allocated-clusters")).isEqualTo(ours.allocatedClusters());
    assertThat(jsonNumber(real, "fragmented-clusters")).isEqualTo(ours.fragmentedClusters());
    assertThat(jsonNumber(real, "image-end-offset")).isEqualTo(ours.imageEndOffset());
    assertThat(jsonNumber(real, "total-clusters")).isEqualTo(ours.totalClusters());
    assertThat(real).doesNotContain("leaks", "corruptions");
  }

  /** Returns the number after "key": in qemu-img's JSON, 0 when qemu-img leaves it out. */
  static long jsonNumber(String json, String key) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"" + key + "\": (\\d+)")
        .matcher(json);
    return m.find() ? Long.parseLong(m.group(1)) : 0;
  }

  /**
   * Goal: the engine reads what QEMU writes. Method: qemu-io writes patterns through a data-file
   * image; the engine opens the files and reads the same patterns and zeroes.
   */
  @Test
  void engineReadsWhatQemuIoWrote() throws Exception {
    Path img = dir.resolve("q.qcow2");
    Path data = dir.resolve("q.raw");
    assertThat(QemuTools.qemuImg("create", "-f", "qcow2", "-o", "data_file=" + data,
        img.toString(), "16M").exitCode()).isZero();
    QemuTools.Result io = QemuTools.qemuIo(img, "write -P 0x21 0 100k",
        "write -P 0x42 5M 64k", "write -z 64k 64k");
    assertThat(io.exitCode()).as(io.output()).isZero();
    Qcow2Image image = Qcow2Image.open(MemoryHostFile.loadFrom(img),
        MemoryHostFile.loadFrom(data), Qcow2OpenOptions.defaults(true), Qcow2Events.NONE);
    byte[] expected = new byte[(int) (16 * M)];
    Arrays.fill(expected, 0, (int) (100 * K), (byte) 0x21);
    Arrays.fill(expected, (int) (64 * K), (int) (128 * K), (byte) 0);
    Arrays.fill(expected, (int) (5 * M), (int) (5 * M + 64 * K), (byte) 0x42);
    byte[] actual = new byte[expected.length];
    image.read(0, actual, 0, actual.length);
    assertThat(Arrays.mismatch(actual, expected)).isEqualTo(-1);
    assertThat(image.blockStatus(64 * K, 64 * K).kind()).isEqualTo(Qcow2BlockStatus.Kind.ZERO);
    assertThat(image.blockStatus(5 * M, 64 * K).hostOffset()).isEqualTo(5 * M);
  }
}
