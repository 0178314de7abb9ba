package io.blocksim.model.job;

import static io.blocksim.model.job.ChainWorld.KIB;
import static io.blocksim.model.job.ChainWorld.MIB;
import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.driver.Qcow2Driver;
import org.junit.jupiter.api.Test;

/** Intermediate block-commit against docs/qemu-behaviour.md §9 and E4c. */
class CommitJobTest {
  /** E4c: mid has 128 KiB at 0 and 4 KiB at 16 MiB, top (backing mid) is the active layer. */
  private static ChainWorld e4c() throws Exception {
    ChainWorld w = new ChainWorld()
        .qcow2("base.qcow2", 64 * MIB, null)
        .qcow2("mid.qcow2", 64 * MIB, "base.qcow2")
        .qcow2("top.qcow2", 64 * MIB, "mid.qcow2")
        .add("base", "base.qcow2", null)
        .add("mid", "mid.qcow2", "base")
        .add("top", "top.qcow2", "mid");
    w.write("mid", 0, 128 * KIB, 0xcc);
    w.write("mid", 16 * MIB, 4 * KIB, 0xcd);
    w.addBitmap("base", "bb");
    w.addBitmap("mid", "bm");
    return w;
  }

  @Test
  void commitDirtiesTheBaseBitmapPerGranuleAndDropsMid() throws Exception {
    ChainWorld w = e4c();
    w.qmp("block-commit", "job-id", "cj", "device", "top", "top-node", "mid", "base-node",
        "base");
    w.runUntil("cj", "null");
    assertThat(w.jobEvents()).containsExactly("cj created", "cj running", "cj waiting",
        "cj pending", "cj COMPLETED", "cj concluded", "cj null");
    // Clusters 0, 1 and 256 of 64 KiB (E4c).
    assertThat(w.count("base", "bb")).isEqualTo(196608);
    assertThat(w.count("mid", "bm")).isZero();
    assertThat(w.node("top").backing()).isSameAs(w.node("base"));
    assertThat(((Qcow2Driver) w.node("top").driver()).image().backingFileName())
        .isEqualTo("base.qcow2");
    assertThat(w.node("mid").parents()).as("mid is detached").isEmpty();
    w.assertPattern("top", 0, 128 * KIB, 0xcc);
    w.assertPattern("top", 16 * MIB, 4 * KIB, 0xcd);
    w.assertPattern("base", 0, 128 * KIB, 0xcc);
    assertThat(w.engine.graph().all()).extracting(n -> n.driver().name())
        .doesNotContain("commit_top");
  }

  @Test
  void aDisabledBaseBitmapMissesTheCommit() throws Exception {
    ChainWorld w = e4c();
    w.qmp("block-dirty-bitmap-disable", "node", "base", "name", "bb");
    w.qmp("block-commit", "job-id", "cj", "device", "top", "top-node", "mid", "base-node",
        "base");
    w.runUntil("cj", "null");
    w.qmp("block-dirty-bitmap-enable", "node", "base", "name", "bb");
    assertThat(w.count("base", "bb")).isZero();
    w.write("top", 32 * MIB, 4 * KIB, 0x01);
    assertThat(w.count("base", "bb")).as("top's writes are not base's").isZero();
  }

  @Test
  void nodesInUseByTheJobAreRefused() throws Exception {
    ChainWorld w = e4c();
    w.qmp("block-commit", "job-id", "cj", "device", "top", "top-node", "mid", "base-node",
        "base", "speed", 65536);
    assertThat(w.qmpError("block-stream", "job-id", "s1", "device", "top"))
        .isEqualTo("Node 'top' is busy: block device is in use by block job: commit");
    assertThat(w.qmpError("blockdev-del", "node-name", "base")).isEqualTo("Node base is in use");
    w.qmp("job-cancel", "id", "cj");
    w.runUntil("cj", "null");
    assertThat(w.jobEvents()).contains("cj aborting", "cj CANCELLED");
    assertThat(w.node("top").backing()).as("a cancelled commit keeps the chain")
        .isSameAs(w.node("mid"));
    assertThat(w.node("top").blockingJobType()).isNull();
  }

  @Test
  void activeCommitIsAMirrorIntoTheBase() throws Exception {
    ChainWorld w = e4c();
    w.write("top", 4 * MIB, 64 * KIB, 0x44);
    w.addBitmap("top", "bt");
    w.qmp("block-commit", "job-id", "ac", "device", "top", "base-node", "mid");
    w.runUntil("ac", "ready");
    assertThat(w.lastEvent("BLOCK_JOB_READY")).containsEntry("type", "commit")
        .containsEntry("len", 64 * KIB).containsEntry("offset", 64 * KIB);
    assertThat(w.count("mid", "bm")).isEqualTo(64 * KIB);
    w.qmp("job-complete", "id", "ac");
    w.runUntil("ac", "null");
    assertThat(w.jobEvents()).contains("ac COMPLETED").doesNotContain("ac CANCELLED");
    assertThat(w.node("top").bitmaps()).extracting(b -> b.name()).containsExactly("bt");
    w.assertPattern("mid", 4 * MIB, 64 * KIB, 0x44);
  }
}
