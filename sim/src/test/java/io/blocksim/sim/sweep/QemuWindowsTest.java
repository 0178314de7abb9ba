package io.blocksim.sim.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.disk.DiskOp;
import io.blocksim.sim.disk.DiskOp.Kind;
import io.blocksim.sim.disk.OpFate;
import io.blocksim.sim.disk.OpFate.Fate;
import java.util.List;
import org.junit.jupiter.api.Test;

class QemuWindowsTest {
  private static final String BEYOND = "img.qcow2: qcow2 check: 2 corruptions, 0 errors: ["
      + "ERROR cluster 37 is referenced but lies beyond the end of the file, "
      + "ERROR cluster 38 is referenced but lies beyond the end of the file]";

  private static DiskOp op(long seq, String path, Kind kind, long offset, long length) {
    return new DiskOp(seq, path, kind, offset, length);
  }

  @Test
  void aTornWriteOfTheHeaderExplainsTheImageThatNoLongerOpens() {
    List<OpFate> fates = List.of(new OpFate(op(9, "ov.qcow2", Kind.WRITE, 0, 4096), Fate.TORN,
        512));

    assertThat(QemuWindows.explain(List.of("ov.qcow2: found bitmaps extension with zero bitmaps"),
        9, fates, List.of())).isEqualTo(QemuWindows.TORN_HEADER);
  }

  @Test
  void aTornWriteElsewhereOrOfAnotherFileExplainsNothing() {
    List<String> broken = List.of("ov.qcow2: found bitmaps extension with zero bitmaps");

    assertThat(QemuWindows.explain(broken, 9, List.of(new OpFate(
        op(9, "ov.qcow2", Kind.WRITE, 65536, 4096), Fate.TORN, 512)), List.of())).isNull();
    assertThat(QemuWindows.explain(broken, 9, List.of(new OpFate(
        op(9, "other.qcow2", Kind.WRITE, 0, 4096), Fate.TORN, 512)), List.of())).isNull();
    assertThat(QemuWindows.explain(broken, 9, List.of(new OpFate(
        op(9, "ov.qcow2", Kind.WRITE, 0, 4096), Fate.KEPT, 4096)), List.of())).isNull();
  }

  @Test
  void clustersPastTheEndAfterAShrinkAreTheShrinkWindowUntilTheFileGrowsAgain() {
    List<DiskOp> ops = List.of(op(1, "img.qcow2", Kind.WRITE, 0, 4_000_000),
        op(2, "img.qcow2", Kind.FLUSH, 0, 0), op(3, "img.qcow2", Kind.TRUNCATE, 0, 2_000_000),
        op(4, "img.qcow2", Kind.WRITE, 24, 8), op(5, "img.qcow2", Kind.FLUSH, 0, 0),
        op(6, "img.qcow2", Kind.WRITE, 65536, 65536),
        op(7, "img.qcow2", Kind.TRUNCATE, 0, 3_000_000));

    assertThat(QemuWindows.explain(List.of(BEYOND), 3, List.of(), ops))
        .isEqualTo(QemuWindows.SHRINK_BEFORE_CACHES);
    // The refcounts reach the file before the L2 entries: the window is still open at op 6.
    assertThat(QemuWindows.explain(List.of(BEYOND), 6, List.of(), ops))
        .isEqualTo(QemuWindows.SHRINK_BEFORE_CACHES);
    // Before the shrink, or once the file grew again, clusters past the end are a violation.
    assertThat(QemuWindows.explain(List.of(BEYOND), 2, List.of(), ops)).isNull();
    assertThat(QemuWindows.explain(List.of(BEYOND), 7, List.of(), ops)).isNull();
  }

  @Test
  void aTruncateThatGrowsOrAnotherKindOfCorruptionIsNoShrinkWindow() {
    List<DiskOp> grow = List.of(op(1, "img.qcow2", Kind.WRITE, 0, 1_000_000),
        op(2, "img.qcow2", Kind.TRUNCATE, 0, 2_000_000));
    List<DiskOp> shrink = List.of(op(1, "img.qcow2", Kind.WRITE, 0, 4_000_000),
        op(2, "img.qcow2", Kind.TRUNCATE, 0, 2_000_000));

    assertThat(QemuWindows.explain(List.of(BEYOND), 2, List.of(), grow)).isNull();
    assertThat(QemuWindows.explain(List.of("img.qcow2: qcow2 check: 1 corruptions, 0 errors: "
        + "[ERROR OFLAG_COPIED L2 cluster: l1_index=0 refcount=2]"), 2, List.of(), shrink))
        .isNull();
    // One violation the window explains and one it does not: the point stays a violation.
    assertThat(QemuWindows.explain(List.of(BEYOND,
        "img.qcow2: bitmap 'b' differs from the version stored at op 1"), 2, List.of(), shrink))
        .isNull();
  }
}
