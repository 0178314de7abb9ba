package io.blocksim.model.job;

import static io.blocksim.model.job.ChainWorld.KIB;
import static io.blocksim.model.job.ChainWorld.MIB;
import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockNode;
import org.junit.jupiter.api.Test;

/** blockdev-mirror against docs/qemu-behaviour.md §7 and E4a. */
class MirrorJobTest {
  private static ChainWorld twoDisks() throws Exception {
    ChainWorld w = new ChainWorld()
        .qcow2("disk.qcow2", 64 * MIB, null)
        .qcow2("tgt.qcow2", 64 * MIB, null)
        .add("drive0", "disk.qcow2", null)
        .add("tgt", "tgt.qcow2", null);
    w.write("drive0", 0, MIB, 0x11);
    w.addBitmap("drive0", "bitmap0");
    return w;
  }

  private static DirtyBitmap jobBitmap(ChainWorld w) {
    for (DirtyBitmap b : w.node("drive0").bitmaps()) {
      if (b.name() == null) {
        return b;
      }
    }
    return null;
  }

  /** The mirror_top filter a guest device would now write through. */
  private static BlockNode guestTop(ChainWorld w) {
    return w.node("drive0").parents().get(0);
  }

  @Test
  void fullMirrorReadyWriteInReadyAndPivot() throws Exception {
    ChainWorld w = twoDisks();
    w.qmp("blockdev-mirror", "job-id", "mj", "device", "drive0", "target", "tgt", "sync",
        "full");
    w.runUntil("mj", "ready");
    // E4a: the whole 64 MiB device is copied (the target cannot zero with unmap).
    assertThat(w.lastEvent("BLOCK_JOB_READY")).containsEntry("len", 64 * MIB)
        .containsEntry("offset", 64 * MIB);
    DirtyBitmap job = jobBitmap(w);
    assertThat(job).isNotNull();
    assertThat(job.recording()).isTrue();
    assertThat(guestTop(w).driver().name()).isEqualTo("mirror_top");
    byte[] data = new byte[(int) (64 * KIB)];
    java.util.Arrays.fill(data, (byte) 0x22);
    io.blocksim.model.graph.BlockIo.write(guestTop(w), MIB, data, 0, data.length, 0);
    assertThat(job.countBytes()).isEqualTo(64 * KIB);
    assertThat(w.count("drive0", "bitmap0")).isEqualTo(64 * KIB);
    w.scheduler.advance(500_000_000L);
    assertThat(job.countBytes()).isZero();
    w.qmp("job-complete", "id", "mj");
    w.runUntil("mj", "null");
    assertThat(w.lastEvent("BLOCK_JOB_COMPLETED")).containsEntry("len", 64 * MIB + 64 * KIB)
        .containsEntry("offset", 64 * MIB + 64 * KIB);
    assertThat(w.node("drive0").bitmaps()).extracting(DirtyBitmap::name)
        .containsExactly("bitmap0");
    w.assertPattern("tgt", MIB, 64 * KIB, 0x22);
    w.assertPattern("tgt", 0, MIB, 0x11);
  }

  @Test
  void softCancelInReadyCompletesWithoutPivotAndForceCancelIsCancelled() throws Exception {
    ChainWorld w = twoDisks();
    w.qmp("blockdev-mirror", "job-id", "a", "device", "drive0", "target", "tgt", "sync",
        "none");
    w.runUntil("a", "ready");
    w.qmp("block-job-cancel", "device", "a");
    w.runUntil("a", "null");
    assertThat(w.jobEvents()).containsSubsequence("a ready", "a READY", "a waiting",
        "a pending", "a COMPLETED", "a concluded", "a null");
    w.qmp("blockdev-mirror", "job-id", "b", "device", "drive0", "target", "tgt", "sync",
        "none");
    w.runUntil("b", "ready");
    w.qmp("block-job-cancel", "device", "b", "force", true);
    w.runUntil("b", "null");
    assertThat(w.jobEvents()).containsSubsequence("b ready", "b aborting", "b CANCELLED");
    assertThat(w.node("drive0").parents()).isEmpty();
  }

  @Test
  void writeBlockingCopiesGuestWritesBeforeTheyComplete() throws Exception {
    ChainWorld w = twoDisks();
    w.qmp("blockdev-mirror", "job-id", "mj", "device", "drive0", "target", "tgt", "sync",
        "none", "copy-mode", "write-blocking");
    w.runUntil("mj", "ready");
    DirtyBitmap job = jobBitmap(w);
    assertThat(job.recording()).isFalse();
    byte[] data = new byte[(int) (64 * KIB)];
    java.util.Arrays.fill(data, (byte) 0x66);
    io.blocksim.model.graph.BlockIo.write(guestTop(w), 2 * MIB, data, 0, data.length, 0);
    w.assertPattern("tgt", 2 * MIB, 64 * KIB, 0x66);
    assertThat(job.countBytes()).isZero();
    assertThat(w.count("drive0", "bitmap0")).isEqualTo(64 * KIB);
  }

  @Test
  void argumentErrors() throws Exception {
    ChainWorld w = twoDisks();
    assertThat(w.qmpError("blockdev-mirror", "job-id", "m", "device", "drive0", "target",
        "tgt", "sync", "bitmap")).isEqualTo("Sync mode 'bitmap' not supported");
    assertThat(w.qmpError("blockdev-mirror", "job-id", "m", "device", "drive0", "target",
        "tgt", "sync", "full", "granularity", 1000))
        .isEqualTo("Parameter 'granularity' expects a power of 2");
    assertThat(w.qmpError("blockdev-mirror", "job-id", "m", "device", "drive0", "target",
        "drive0", "sync", "full")).isEqualTo("Can't mirror node into itself");
    assertThat(w.qmpError("blockdev-mirror", "job-id", "m", "device", "drive0", "target",
        "tgt", "sync", "Full")).isEqualTo("Parameter 'sync' does not accept value 'Full'");
    assertThat(w.qmpError("blockdev-mirror", "job-id", "m", "device", "drive0", "target",
        "tgt", "sync", "full", "copy-mode", "write_blocking"))
        .isEqualTo("Parameter 'copy-mode' does not accept value 'write_blocking'");
    assertThat(w.qmpError("blockdev-mirror", "job-id", "m", "device", "drive0", "target",
        "tgt", "sync", "full", "on-target-error", "retry"))
        .isEqualTo("Parameter 'on-target-error' does not accept value 'retry'");
    assertThat(w.node("drive0").parents()).as("no filter left behind").isEmpty();
    assertThat(w.node("drive0").bitmaps()).hasSize(1);
  }
}
