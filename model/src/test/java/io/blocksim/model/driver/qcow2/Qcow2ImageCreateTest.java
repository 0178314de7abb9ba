package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Goal: Qcow2Image.create writes exactly the file {@code qemu-img create -f qcow2} writes.
 * Method: for each option set, create an image with the real qemu-img and one with the engine,
 * and compare the two files byte for byte (header, extensions, refcount structures, L1 table,
 * and file length), then check that the engine reads its own header back.
 */
class Qcow2ImageCreateTest {
  @TempDir static Path dir;

  @BeforeAll
  static void needQemu() throws Exception {
    assumeTrue(QemuTools.available(), "qemu-img / qemu-io not installed");
    // A backing file must exist for qemu-img create -b.
    QemuTools.qemuImg("create", "-f", "qcow2", dir.resolve("base.qcow2").toString(), "1G");
  }

  static Stream<Arguments> optionSets() {
    Qcow2CreateOptions d = Qcow2CreateOptions.defaults();
    return Stream.of(
        Arguments.of("default-1G", 1L << 30, d),
        Arguments.of("default-64M", 64L << 20, d),
        Arguments.of("size-0", 0L, d),
        Arguments.of("odd-size", 1000L * 512, d),
        Arguments.of("1T", 1L << 40, d),
        Arguments.of("v2", 1L << 30, d.withVersion(2)),
        Arguments.of("v2-512", 64L << 20, d.withVersion(2).withClusterSize(512)),
        Arguments.of("cluster-512-1G", 1L << 30, d.withClusterSize(512)),
        Arguments.of("cluster-4k", 1L << 30, d.withClusterSize(4096)),
        Arguments.of("cluster-8k", 1L << 30, d.withClusterSize(8192)),
        Arguments.of("cluster-2M", 16L << 30, d.withClusterSize(2 << 20)),
        Arguments.of("backing", 1L << 30, d.withBacking("base.qcow2", "qcow2")),
        Arguments.of("backing-v2", 1L << 30,
            d.withVersion(2).withBacking("base.qcow2", "qcow2")),
        Arguments.of("backing-512", 1L << 30,
            d.withClusterSize(512).withBacking("base.qcow2", "qcow2")),
        Arguments.of("refcount-bits-1", 1L << 30, d.withRefcountBits(1)),
        Arguments.of("refcount-bits-64", 1L << 30, d.withRefcountBits(64)),
        Arguments.of("refcount-bits-1-512", 256L << 20,
            d.withRefcountBits(1).withClusterSize(512)));
  }

  /**
   * Goal: changeBackingFile rewrites the header as qemu-img rebase -u does. Method: rebase a
   * real image to another name, and to none, and compare with the engine's files.
   */
  @ParameterizedTest(name = "rebase to {0}")
  @org.junit.jupiter.params.provider.ValueSource(strings = {"other-base.qcow2", ""})
  void changeBackingFileMatchesQemuImgRebaseUnsafe(String newBacking) throws Exception {
    Path real = dir.resolve("rebase.real.qcow2");
    java.nio.file.Files.deleteIfExists(real);
    assertThat(QemuTools.qemuImg("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
        real.toString(), "1G").exitCode()).isZero();
    List<String> rebase = new ArrayList<>(List.of("rebase", "-u", "-f", "qcow2", "-b",
        newBacking));
    if (!newBacking.isEmpty()) {
      rebase.addAll(List.of("-F", "qcow2"));
    }
    rebase.add(real.toString());
    QemuTools.Result r = QemuTools.qemuImg(rebase.toArray(String[]::new));
    assertThat(r.exitCode()).as(r.output()).isZero();

    MemoryHostFile ours = new MemoryHostFile();
    Qcow2Image.create(ours, 1L << 30,
        Qcow2CreateOptions.defaults().withBacking("base.qcow2", "qcow2"));
    Qcow2Image image = Qcow2Image.open(ours, false);
    image.changeBackingFile(newBacking.isEmpty() ? null : newBacking,
        newBacking.isEmpty() ? null : "qcow2");
    image.flush();
    image.close();
    assertThat(ours.bytes()).isEqualTo(Files.readAllBytes(real));
    assertThat(Qcow2Image.open(ours, true).backingFileName())
        .isEqualTo(newBacking.isEmpty() ? null : newBacking);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("optionSets")
  void createMatchesQemuImgByteForByte(String name, long size, Qcow2CreateOptions o)
      throws Exception {
    Path real = dir.resolve(name + ".real.qcow2");
    List<String> opts = new ArrayList<>();
    opts.add("cluster_size=" + o.clusterSizeBytes());
    opts.add("compat=" + (o.version() == 2 ? "0.10" : "1.1"));
    opts.add("refcount_bits=" + o.refcountBits());
    if (o.backingFile() != null) {
      opts.add("backing_file=" + o.backingFile());
      opts.add("backing_fmt=" + o.backingFormat());
    }
    QemuTools.Result r = QemuTools.qemuImg("create", "-f", "qcow2", "-o",
        String.join(",", opts), real.toString(), Long.toString(size));
    assertThat(r.exitCode()).as(r.output()).isZero();

    MemoryHostFile ours = new MemoryHostFile();
    Qcow2Image.create(ours, size, o);

    byte[] expected = Files.readAllBytes(real);
    assertThat(ours.length()).isEqualTo(expected.length);
    assertThat(ours.bytes()).isEqualTo(expected);

    Qcow2Image image = Qcow2Image.open(ours, true);
    assertThat(image.virtualSize()).isEqualTo(size);
    assertThat(image.clusterSize()).isEqualTo(o.clusterSizeBytes());
    assertThat(image.version()).isEqualTo(o.version());
    assertThat(image.backingFileName()).isEqualTo(o.backingFile());
    assertThat(image.backingFormat()).isEqualTo(o.backingFormat());
    assertThat(image.refcountBits()).isEqualTo(o.refcountBits());
  }
}
