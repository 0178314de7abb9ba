package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.port.HostFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: exported files hold the fake file's bytes exactly, unflushed requests included, so real
 * qemu-img can inspect them; imported files read back exactly and keep zero pages as holes.
 * Method: round trips through a temporary directory, compared with arrays built by hand.
 */
class FakeDiskExportTest {

  @Test
  void exportWritesCurrentBytesIncludingHolesAndTheTail(@TempDir Path dir) throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("sub/img.raw");
    byte[] data = new byte[6000];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i * 7);
    }
    file.write(8192 + 100, data, 0, data.length);
    file.flush();
    file.write(20_000, new byte[] {1, 2, 3}, 0, 3); // Unflushed, yet exported.
    file.truncate(40_000); // A hole at the end.

    disk.exportTo(dir);

    byte[] expected = new byte[40_000];
    System.arraycopy(data, 0, expected, 8192 + 100, data.length);
    expected[20_000] = 1;
    expected[20_001] = 2;
    expected[20_002] = 3;
    assertThat(Files.readAllBytes(dir.resolve("sub/img.raw"))).isEqualTo(expected);
  }

  @Test
  void exportReplacesAnOlderRealFile(@TempDir Path dir) throws Exception {
    Path target = dir.resolve("a");
    byte[] junk = new byte[10_000];
    Arrays.fill(junk, (byte) 9);
    Files.write(target, junk);
    FakeDisk disk = new FakeDisk();
    disk.create("a").truncate(5_000);
    disk.exportTo(dir);
    assertThat(Files.readAllBytes(target)).isEqualTo(new byte[5_000]);
  }

  @Test
  void importReadsBytesAndSkipsZeroPages(@TempDir Path dir) throws Exception {
    byte[] content = new byte[5 * 4096 + 123];
    Arrays.fill(content, 4096, 8192, (byte) 0x11); // Page 1: uniform.
    content[3 * 4096 + 5] = 42; // Page 3: mixed.
    content[5 * 4096 + 122] = 8; // Last, partial page.
    Path source = dir.resolve("in.raw");
    Files.write(source, content);

    FakeDisk disk = new FakeDisk();
    disk.importFrom(source, "img.raw");

    HostFile file = disk.open("img.raw");
    assertThat(file.length()).isEqualTo(content.length);
    byte[] back = new byte[content.length];
    file.read(0, back, 0, back.length);
    assertThat(back).isEqualTo(content);
    assertThat(disk.pageCount("img.raw")).isEqualTo(3);
    assertThat(disk.unflushedCount("img.raw")).isZero();
    assertThat(file.allocationRun(0, content.length)).isEqualTo(-4096);
    assertThat(file.allocationRun(4096, content.length)).isEqualTo(4096);
  }
}
