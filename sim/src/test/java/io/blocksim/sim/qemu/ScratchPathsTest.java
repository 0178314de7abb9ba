package io.blocksim.sim.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** File names go out absolute and come back relative; nothing else is touched. */
class ScratchPathsTest {
  private final ScratchPaths paths = new ScratchPaths(Path.of("/tmp/case1"));

  @Test
  void filenamesAnywhereInBlockdevOptionsBecomeAbsolute() {
    Map<String, Object> args = Map.of("node-name", "drive0", "driver", "qcow2",
        "file", Map.of("driver", "blkdebug", "image",
            Map.of("driver", "file", "filename", "img.qcow2")),
        "data-file", Map.of("driver", "file", "filename", "sub/data.raw"),
        "backing", "base-node");

    Map<String, Object> out = paths.toQemu("blockdev-add", args);

    assertThat(out).isEqualTo(Map.of("node-name", "drive0", "driver", "qcow2",
        "file", Map.of("driver", "blkdebug", "image",
            Map.of("driver", "file", "filename", "/tmp/case1/img.qcow2")),
        "data-file", Map.of("driver", "file", "filename", "/tmp/case1/sub/data.raw"),
        "backing", "base-node"));
  }

  @Test
  void driveBackupTargetsBecomeAbsoluteAlsoInsideTransactions() {
    Map<String, Object> backup = Map.of("device", "drive0", "target", "t.qcow2", "sync", "full");
    Map<String, Object> args = Map.of("actions", List.of(
        Map.of("type", "drive-backup", "data", backup),
        Map.of("type", "blockdev-backup", "data", Map.of("device", "d", "target", "t"))));

    Map<String, Object> out = paths.toQemu("transaction", args);

    assertThat(out).isEqualTo(Map.of("actions", List.of(
        Map.of("type", "drive-backup", "data",
            Map.of("device", "drive0", "target", "/tmp/case1/t.qcow2", "sync", "full")),
        Map.of("type", "blockdev-backup", "data", Map.of("device", "d", "target", "t")))));
    assertThat(paths.toQemu("blockdev-backup", Map.of("target", "t"))).containsEntry("target",
        "t");
  }

  @Test
  void backingFileStringsAndProtocolNamesStayAsWritten() {
    Map<String, Object> args = Map.of("device", "top", "backing-file", "base.qcow2",
        "options", Map.of("filename", "nbd+unix:///x?socket=/s"));

    assertThat(paths.toQemu("block-stream", args)).isEqualTo(args);
  }

  @Test
  void repliesLoseTheScratchPrefix() {
    Object reply = Map.of("return", List.of(Map.of("file", "/tmp/case1/img.qcow2",
        "desc", "Could not open '/tmp/case1/x.qcow2': No such file or directory",
        "other", "/tmp/case10/y", "count", 5L)));

    assertThat(paths.fromQemu(reply)).isEqualTo(Map.of("return", List.of(Map.of(
        "file", "img.qcow2", "desc", "Could not open 'x.qcow2': No such file or directory",
        "other", "/tmp/case10/y", "count", 5L))));
  }

  @Test
  void aSymbolicLinkInTheScratchDirectoryIsRefused(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    ScratchPaths scratch = new ScratchPaths(dir.resolve("case"));
    scratch.refuseSymbolicLinks();  // Not created yet: nothing to refuse.
    java.nio.file.Files.createDirectories(dir.resolve("case/sub"));
    java.nio.file.Files.writeString(dir.resolve("case/sub/a.raw"), "x");
    scratch.refuseSymbolicLinks();

    java.nio.file.Files.createSymbolicLink(dir.resolve("case/sub/b.raw"), Path.of("/etc/hostname"));

    org.assertj.core.api.Assertions.assertThatThrownBy(scratch::refuseSymbolicLinks)
        .hasMessage("symbolic link 'sub/b.raw' in the scratch directory is refused");
  }
}
