package io.blocksim.sim.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.disk.FakeDisk;
import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.port.Backend.ImgOutcome;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: {@code qemu-img info}, {@code check} and {@code bitmap} in the simulator print what
 * qemu-img 7.2 prints. Method: make images with the real tools (fragmented, leaking,
 * corrupted, with bitmaps in every flag combination), import them into the fake disk, and
 * compare the simulator's output with the real tool's on the same file, line for line, except
 * for the host allocation size.
 */
class QemuImgInfoTest {
  @TempDir Path dir;

  @BeforeEach
  void needQemu() {
    QemuAvailability availability = QemuAvailability.check();
    Assumptions.assumeTrue(availability.available(), availability.reason());
  }

  private record Run(int exitCode, List<String> lines) {}

  private Run real(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
        .start();
    String out;
    try (InputStream in = p.getInputStream()) {
      out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    p.waitFor(60, TimeUnit.SECONDS);
    List<String> lines = new ArrayList<>(List.of(out.split("\n")));
    return new Run(p.exitValue(), lines);
  }

  private void sameAsQemu(String file, String command) throws Exception {
    FakeDisk disk = new FakeDisk();
    disk.importFrom(dir.resolve(file), file);
    ImgOutcome sim = QemuImg.run(disk, command);
    List<String> args = new ArrayList<>(List.of("qemu-img"));
    args.addAll(List.of(command.split(" ")));
    Run real = real(args.toArray(String[]::new));
    assertThat(withoutHostSize(sim.lines())).as(command)
        .isEqualTo(withoutHostSize(real.lines()));
    assertThat(sim.exitCode()).as(command).isEqualTo(real.exitCode());
  }

  private static List<String> withoutHostSize(List<String> lines) {
    return lines.stream().filter(l -> !l.startsWith("disk size:")
        && !l.contains("\"actual-size\"")).toList();
  }

  @Test
  void checkOfFragmentedLeakingAndCorruptedImages() throws Exception {
    real("qemu-img", "create", "-q", "-f", "qcow2", "frag.qcow2", "16M");
    real("qemu-io", "-f", "qcow2", "-c", "write 1M 64k", "-c", "write 0 64k", "-c",
        "write 5M 64k", "frag.qcow2");
    sameAsQemu("frag.qcow2", "check frag.qcow2");
    sameAsQemu("frag.qcow2", "check --output=json frag.qcow2");

    real("cp", "frag.qcow2", "corrupt.qcow2");
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve("corrupt.qcow2").toFile(),
        "rw")) {
      f.seek(48);
      long reftable = f.readLong();
      f.seek(reftable);
      long block = f.readLong();
      f.seek(block + 8); // refcount of cluster 4 (an L2 table) to 0
      f.writeShort(0);
    }
    sameAsQemu("corrupt.qcow2", "check corrupt.qcow2");
    sameAsQemu("corrupt.qcow2", "check --output=json corrupt.qcow2");

    real("cp", "frag.qcow2", "leak.qcow2");
    try (RandomAccessFile f = new RandomAccessFile(dir.resolve("leak.qcow2").toFile(), "rw")) {
      f.seek(48);
      long reftable = f.readLong();
      f.seek(reftable);
      long block = f.readLong();
      f.seek(block + 2 * 7); // cluster 7: past the data, inside the file once extended
      f.writeShort(1);
      f.setLength(Math.max(f.length(), 8L * 65536));
    }
    sameAsQemu("leak.qcow2", "check leak.qcow2");
    sameAsQemu("leak.qcow2", "check --output=json leak.qcow2");
  }

  @Test
  void infoOfImagesWithBitmapsBackingFilesAndOldVersions() throws Exception {
    real("qemu-img", "create", "-q", "-f", "qcow2", "base.qcow2", "64M");
    real("qemu-img", "bitmap", "--add", "base.qcow2", "a");
    real("qemu-img", "bitmap", "--add", "--disable", "-g", "1M", "base.qcow2", "b");
    real("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2",
        "top.qcow2", "64M");
    real("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "1G");
    real("qemu-img", "create", "-q", "-f", "raw", "disk.raw", "3M");
    for (String file : List.of("base.qcow2", "top.qcow2", "v2.qcow2", "disk.raw")) {
      sameAsQemu(file, "info " + file);
      sameAsQemu(file, "info --output=json " + file);
    }
  }

  @Test
  void bitmapEditsLeaveWhatRealQemuImgLeaves() throws Exception {
    real("qemu-img", "create", "-q", "-f", "qcow2", "img.qcow2", "16M");
    FakeDisk disk = new FakeDisk();
    disk.importFrom(dir.resolve("img.qcow2"), "img.qcow2");
    List<String> edits = List.of("bitmap --add img.qcow2 b0", "bitmap --add -g 4k img.qcow2 b1",
        "bitmap --disable img.qcow2 b0", "bitmap --add img.qcow2 b0",
        "bitmap --merge b0 img.qcow2 b1", "bitmap --remove img.qcow2 nope",
        "bitmap --clear img.qcow2 b1", "bitmap img.qcow2 b1", "bitmap --remove img.qcow2 b1");
    for (String edit : edits) {
      ImgOutcome sim = QemuImg.run(disk, edit);
      List<String> args = new ArrayList<>(List.of("qemu-img"));
      args.addAll(List.of(edit.split(" ")));
      Run real = real(args.toArray(String[]::new));
      assertThat(sim.lines()).as(edit).isEqualTo(real.lines().stream()
          .filter(l -> !l.isEmpty()).toList());
      assertThat(sim.exitCode()).as(edit).isEqualTo(real.exitCode());
    }
    ImgOutcome simInfo = QemuImg.run(disk, "info img.qcow2");
    assertThat(withoutHostSize(simInfo.lines()))
        .isEqualTo(withoutHostSize(real("qemu-img", "info", "img.qcow2").lines()));
  }
}
