package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: the Java check finds what {@code qemu-img check} finds. Method: build clean, leaking
 * and corrupted images, check that leaks and corruptions are told apart, and (when qemu-img is
 * installed) that its output and exit code equal the real tool's on the same bytes.
 */
class Qcow2CheckTest {
  private static final long SIZE = 16L << 20;

  @TempDir Path dir;

  private static MemoryHostFile imageWithData() throws Exception {
    MemoryHostFile file = new MemoryHostFile();
    Qcow2Image.create(file, SIZE, Qcow2CreateOptions.defaults());
    Qcow2Image image = Qcow2Image.open(file, false);
    image.write(0, new byte[65536], 0, 65536);
    image.write(5L << 20, new byte[4096], 0, 4096);
    image.write(65536, new byte[65536], 0, 65536);
    image.close();
    return file;
  }

  @Test
  void aCleanImageHasNoErrorsAndReportsAllocationAndEnd() throws Exception {
    Qcow2Check.Result result = Qcow2Check.check(imageWithData());

    assertThat(result.exitCode()).isZero();
    assertThat(result.allocatedClusters()).isEqualTo(3);
    assertThat(result.totalClusters()).isEqualTo(256);
    assertThat(result.summary()).first().isEqualTo("No errors were found on the image.");
  }

  @Test
  void anUnreferencedAllocatedClusterIsALeak() throws Exception {
    MemoryHostFile file = imageWithData();
    Qcow2Image image = Qcow2Image.open(file, false);
    long leaked = image.allocateClustersForTest(65536);
    image.close();
    // As if its data had been written before a crash: the file reaches over the cluster.
    file.write(leaked, new byte[] {1}, 0, 1);

    Qcow2Check.Result result = Qcow2Check.check(file);

    assertThat(result.leaks()).isEqualTo(1);
    assertThat(result.corruptions()).isZero();
    assertThat(result.exitCode()).isEqualTo(3);
    assertThat(result.messages()).containsExactly("Leaked cluster " + leaked / 65536
        + " refcount=1 reference=0");
    compareWithQemu(file, "leak.qcow2");
  }

  @Test
  void repairingLeaksReportsThenRepairsAndLeavesAConsistentImage() throws Exception {
    MemoryHostFile file = imageWithData();
    Qcow2Image leaking = Qcow2Image.open(file, false);
    long leaked = leaking.allocateClustersForTest(2 * 65536);
    leaking.close();
    file.write(leaked + 65536, new byte[] {1}, 0, 1);
    long first = leaked / 65536;

    Qcow2Image image = Qcow2Image.open(file, false);
    Qcow2Check.Result repaired = image.check(true);
    image.close();

    // compare_refcounts runs twice: reporting, then repairing (qcow2_check_refcounts).
    assertThat(repaired.messages()).containsExactly(
        "Leaked cluster " + first + " refcount=1 reference=0",
        "Leaked cluster " + (first + 1) + " refcount=1 reference=0",
        "Repairing cluster " + first + " refcount=1 reference=0",
        "Repairing cluster " + (first + 1) + " refcount=1 reference=0");
    assertThat(repaired.leaksFixed()).isEqualTo(2);
    assertThat(repaired.leaks()).isZero();
    Qcow2Check.Result after = Qcow2Check.check(file);
    assertThat(after.exitCode()).isZero();
    assertThat(after.messages()).isEmpty();
  }

  @Test
  void repairingLeaksDoesNotTouchACorruption() throws Exception {
    MemoryHostFile file = imageWithData();
    long reftable = Bytes.getLong(file.bytes(), 48);
    byte[] entry = new byte[8];
    file.read(reftable, entry, 0, 8);
    file.write(Bytes.getLong(entry, 0), new byte[65536], 0, 65536);

    Qcow2Check.Result result = Qcow2Check.check(file, (cluster, by) -> {
      throw new AssertionError("no leak to repair, cluster " + cluster);
    });

    // A refcount of 0 in use needs a rebuild, which only BDRV_FIX_ERRORS does.
    assertThat(result.messages()).last().isEqualTo("ERROR need to rebuild refcount structures");
    assertThat(result.failure()).isEqualTo("Input/output error");
    assertThat(result.exitCode()).isEqualTo(1);
  }

  @Test
  void aReferencedClusterWithoutRefcountIsACorruption() throws Exception {
    MemoryHostFile file = imageWithData();
    // Zero the whole first refcount block: every cluster loses its count.
    long reftable = Bytes.getLong(file.bytes(), 48);
    byte[] entry = new byte[8];
    file.read(reftable, entry, 0, 8);
    file.write(Bytes.getLong(entry, 0), new byte[65536], 0, 65536);

    Qcow2Check.Result result = Qcow2Check.check(file);

    assertThat(result.corruptions()).isPositive();
    assertThat(result.exitCode()).isEqualTo(2);
    compareWithQemu(file, "corrupt.qcow2");
  }

  private void compareWithQemu(MemoryHostFile file, String name) throws Exception {
    assumeTrue(QemuTools.available(), "qemu-img not installed");
    Path path = dir.resolve(name);
    file.saveTo(path);
    QemuTools.Result real = QemuTools.qemuImg("check", path.toString());
    Qcow2Check.Result ours = Qcow2Check.check(MemoryHostFile.loadFrom(path));
    List<String> lines = new ArrayList<>(ours.messages());
    lines.addAll(ours.summary());
    assertThat(real.exitCode()).isEqualTo(ours.exitCode());
    assertThat(real.output().split("\n", -1)).containsExactlyElementsOf(withEnd(lines));
  }

  private static List<String> withEnd(List<String> lines) {
    List<String> all = new ArrayList<>(lines);
    all.add("");
    return all;
  }
}
