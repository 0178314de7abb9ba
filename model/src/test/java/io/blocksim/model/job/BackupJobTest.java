package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Event sequences of backup jobs against docs/qemu-behaviour.md §5.3 and Appendix A (E2, E3, E6, E7,
 * E9): each test drives a 64 MiB raw source and target through QMP and compares the job events
 * with the sequences QEMU 7.2 emitted in the experiments.
 */
class BackupJobTest {
  private World world;

  @BeforeEach
  void setUp() throws Exception {
    world = new World().image("img", 64 * World.MIB).image("tgt", 64 * World.MIB);
    world.addRaw("drive0", "img", null);
    world.addRaw("target0", "tgt", null);
    world.write("drive0", 0, 65536, 0x49);
    world.write("drive0", 0x100000, 65536, 0x6c);
  }

  @Test
  void successfulBackupEmitsTransientPauseThenCompletes() {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full");
    assertThat(world.jobEvents()).containsExactly("j1 created", "j1 running", "j1 paused",
        "j1 running");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).containsExactly("j1 created", "j1 running", "j1 paused",
        "j1 running", "j1 waiting", "j1 pending", "j1 COMPLETED", "j1 concluded", "j1 null");
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).isEqualTo(Json.object("type", "backup",
        "device", "j1", "len", 64 * World.MIB, "offset", 64 * World.MIB, "speed", 0L));
    assertThat(world.engine.graph().all()).extracting(n -> n.driver().name())
        .doesNotContain("copy-before-write");
    assertThat(world.node("drive0").bitmaps()).isEmpty();
  }

  @Test
  void readErrorWithReportFailsTheJob() {
    world.addRaw("faulty", "img", Json.object("inject-error",
        List.of(Json.object("event", "read_aio", "once", true))));
    world.qmp("blockdev-backup", "job-id", "j1", "device", "faulty", "target", "target0",
        "sync", "full");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).containsExactly("j1 created", "j1 running", "j1 paused",
        "j1 running", "j1 ERROR read report", "j1 aborting", "j1 COMPLETED", "j1 concluded",
        "j1 null");
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).containsEntry("error",
        "Input/output error");
  }

  @Test
  void cancelWhileRunningEndsCancelled() {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full", "speed", 65536);
    world.scheduler.advance(1_000_000_000L);
    world.qmp("job-cancel", "id", "j1");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).containsExactly("j1 created", "j1 running", "j1 paused",
        "j1 running", "j1 aborting", "j1 CANCELLED", "j1 concluded", "j1 null");
  }

  @Test
  void rateLimitCopiesOneClusterPerSecondAtSixtyFourKibPerSecond() {
    world.qmp("block-dirty-bitmap-add", "node", "drive0", "name", "b0");
    for (int i = 0; i < 32; i++) {
      world.write("drive0", i * 2 * World.CLUSTER, 512, 0x11);
    }
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "bitmap", "bitmap", "b0", "bitmap-mode", "always", "speed", 65536,
        "x-perf", Json.object("max-workers", 1));
    world.scheduler.advance(2_500_000_000L);
    @SuppressWarnings("unchecked")
    Map<String, Object> info = ((List<Map<String, Object>>) world.qmp("query-block-jobs")).get(0);
    // E3 parts B-D: after 2.5 s at 64 KiB/s, three clusters are copied.
    assertThat(info).containsEntry("offset", 196608L).containsEntry("len", 2097152L);
    world.write(world.node("drive0").parents().get(0).name(), 0, 512, 0x22);
    world.write(world.node("drive0").parents().get(0).name(), 1000 * World.CLUSTER, 512, 0x22);
    world.qmp("job-cancel", "id", "j1");
    world.scheduler.runUntilIdle();
    // W {0, 1000} ∪ R (29): 31 clusters, as E3 measured.
    assertThat(world.clusters("drive0", "b0")).isEqualTo(31);
  }

  @Test
  void manualFinalizeAndDismiss() {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full", "auto-finalize", false, "auto-dismiss", false);
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 waiting", "j1 pending", "j1 PENDING");
    assertThat(world.qmpError("job-dismiss", "id", "j1"))
        .isEqualTo("Job 'j1' in state 'pending' cannot accept command verb 'dismiss'");
    assertThat(world.qmpError("job-pause", "id", "j1"))
        .isEqualTo("Job 'j1' in state 'pending' cannot accept command verb 'pause'");
    world.qmp("job-finalize", "id", "j1");
    assertThat(world.jobEvents()).endsWith("j1 PENDING", "j1 COMPLETED", "j1 concluded");
    world.qmp("job-dismiss", "id", "j1");
    assertThat(world.jobEvents()).endsWith("j1 concluded", "j1 null");
    assertThat(world.qmpError("job-dismiss", "id", "j1")).isEqualTo("Job not found");
    assertThat(world.qmpError("block-job-cancel", "device", "nope"))
        .isEqualTo("Block job 'nope' not found");
  }

  @Test
  void transactionAbortOfCreatedJobEmitsNoBlockJobEvent() {
    world.qmp("block-dirty-bitmap-add", "node", "drive0", "name", "b0");
    world.write("drive0", 5 * World.CLUSTER, 512, 0x33);
    String error = world.qmpError("transaction", "actions", List.of(
        Json.object("type", "blockdev-backup", "data", Json.object("job-id", "j1", "device",
            "drive0", "target", "target0", "sync", "bitmap", "bitmap", "b0", "bitmap-mode",
            "always")),
        Json.object("type", "abort", "data", Json.object())));
    assertThat(error).isEqualTo("Transaction aborted using Abort action");
    assertThat(world.jobEvents()).containsExactly("j1 created", "j1 aborting", "j1 concluded",
        "j1 null");
    // E9: bitmap-mode always merges the never-started job's all-ones copy bitmap.
    assertThat(world.bitmap("drive0", "b0").countBytes()).isEqualTo(64 * World.MIB);
    assertThat(world.node("drive0").bitmaps()).hasSize(1);
    assertThat(world.node("drive0").parents()).isEmpty();
  }

  @Test
  void groupedTransactionCancelsTheOtherJobWhenOneFails() throws Exception {
    world.image("img2", 64 * World.MIB).image("tgt2", 64 * World.MIB);
    world.addRaw("src2", "img2", Json.object("inject-error",
        List.of(Json.object("event", "read_aio", "once", true))));
    world.addRaw("target2", "tgt2", null);
    world.write("src2", 0, 65536, 0x44);
    world.write("src2", 0x100000, 65536, 0x44);
    world.qmp("transaction", "actions", List.of(
        Json.object("type", "blockdev-backup", "data", Json.object("job-id", "ja", "device",
            "drive0", "target", "target0", "sync", "full", "speed", 65536)),
        Json.object("type", "blockdev-backup", "data", Json.object("job-id", "jb", "device",
            "src2", "target", "target2", "sync", "full"))),
        "properties", Json.object("completion-mode", "grouped"));
    world.scheduler.runUntilIdle();
    // E6: the failing job is finalized first (most recent), then the cancelled one.
    assertThat(world.jobEvents()).containsExactly("ja created", "jb created", "ja running",
        "ja paused", "jb running", "jb paused", "ja running", "jb running",
        "jb ERROR read report", "jb aborting", "jb COMPLETED", "jb concluded", "jb null",
        "ja aborting", "ja CANCELLED", "ja concluded", "ja null");
  }

  @Test
  void groupedSuccessGoesPendingTogetherMostRecentFirst() throws Exception {
    world.image("img2", 64 * World.MIB).image("tgt2", 64 * World.MIB);
    world.addRaw("src2", "img2", null);
    world.addRaw("target2", "tgt2", null);
    world.qmp("transaction", "actions", List.of(
        Json.object("type", "blockdev-backup", "data", Json.object("job-id", "ja", "device",
            "drive0", "target", "target0", "sync", "full")),
        Json.object("type", "blockdev-backup", "data", Json.object("job-id", "jb", "device",
            "src2", "target", "target2", "sync", "full"))),
        "properties", Json.object("completion-mode", "grouped"));
    world.scheduler.runUntilIdle();
    // job_txn_apply walks the job-transaction most recently added first (§5.4).
    assertThat(world.jobEvents()).contains("ja waiting", "jb waiting").endsWith("jb pending",
        "ja pending", "jb COMPLETED", "jb concluded", "jb null", "ja COMPLETED",
        "ja concluded", "ja null");
  }

  @Test
  void stopPolicyPausesUntilResume() {
    world.addRaw("faulty", "img", Json.object("inject-error",
        List.of(Json.object("event", "read_aio", "once", true))));
    world.qmp("blockdev-backup", "job-id", "j1", "device", "faulty", "target", "target0",
        "sync", "full", "on-source-error", "stop");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 ERROR read stop", "j1 paused");
    @SuppressWarnings("unchecked")
    Map<String, Object> info = ((List<Map<String, Object>>) world.qmp("query-block-jobs")).get(0);
    assertThat(info).containsEntry("io-status", "failed").containsEntry("paused", true);
    assertThat(world.qmpError("block-job-cancel", "device", "j1"))
        .isEqualTo("The block job for device 'j1' is currently paused");
    world.qmp("job-resume", "id", "j1");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 paused", "j1 running", "j1 waiting",
        "j1 pending", "j1 COMPLETED", "j1 concluded", "j1 null");
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).doesNotContainKey("error");
  }

  @Test
  void ignorePolicyRetriesAndSucceeds() {
    world.addRaw("faulty", "img", Json.object("inject-error",
        List.of(Json.object("event", "read_aio", "once", true))));
    world.qmp("blockdev-backup", "job-id", "j1", "device", "faulty", "target", "target0",
        "sync", "full", "on-source-error", "ignore");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).contains("j1 ERROR read ignore").endsWith("j1 COMPLETED",
        "j1 concluded", "j1 null");
  }

  @Test
  void apiErrorsInQemuOrder() {
    world.qmp("block-dirty-bitmap-add", "node", "drive0", "name", "bitmap0");
    assertThat(backupError("incremental", null, "always"))
        .isEqualTo("must provide a valid bitmap name for 'incremental' sync mode");
    assertThat(backupError("incremental", "bitmap404", "always"))
        .isEqualTo("Bitmap sync mode must be 'on-success' when using sync mode 'incremental'");
    assertThat(backupError("incremental", "bitmap404", null))
        .isEqualTo("Bitmap 'bitmap404' could not be found");
    assertThat(backupError("bitmap", "bitmap0", null))
        .isEqualTo("Bitmap sync mode must be given when providing a bitmap");
    assertThat(backupError("full", "bitmap0", "never")).isEqualTo(
        "Bitmap sync mode 'never' has no meaningful effect when combined with sync mode 'full'");
    assertThat(backupError("full", null, "never"))
        .isEqualTo("Cannot specify bitmap sync mode without a bitmap");
    assertThat(backupError("none", "bitmap0", "always"))
        .isEqualTo("sync mode 'none' does not produce meaningful bitmap outputs");
    assertThat(backupError("x", null, null))
        .isEqualTo("Parameter 'sync' does not accept value 'x'");
    assertThat(backupError("bitmap", "bitmap0", "on_success"))
        .isEqualTo("Parameter 'bitmap-mode' does not accept value 'on_success'");
    assertThat(world.qmpError("blockdev-backup", "job-id", "j", "device", "drive0", "target",
        "target0", "sync", "full", "on-source-error", "Stop"))
        .isEqualTo("Parameter 'on-source-error' does not accept value 'Stop'");
    assertThat(world.qmpError("blockdev-backup", "device", "drive0", "target", "target0",
        "sync", "full")).isEqualTo("Invalid job ID ''");
    assertThat(world.qmpError("blockdev-backup", "job-id", "j", "device", "drive0", "target",
        "drive0", "sync", "full")).isEqualTo("Source and target cannot be the same");
    assertThat(world.qmpError("blockdev-backup", "job-id", "j", "device", "drive0", "target",
        "target0", "sync", "full", "x-perf", Json.object("max-workers", 0)))
        .isEqualTo("max-workers must be between 1 and 2147483647");
    assertThat(world.jobEvents()).containsExactly();
    assertThat(world.node("drive0").bitmaps()).hasSize(1);
    assertThat(world.bitmap("drive0", "bitmap0").busy()).isFalse();
  }

  private String backupError(String sync, String bitmap, String mode) {
    Map<String, Object> args = Json.object("job-id", "api_job", "device", "drive0", "target",
        "target0", "sync", sync, "filter-node-name", "backup-top");
    if (bitmap != null) {
      args.put("bitmap", bitmap);
    }
    if (mode != null) {
      args.put("bitmap-mode", mode);
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> error = (Map<String, Object>) world.engine.execute("blockdev-backup",
        args).get("error");
    return (String) error.get("desc");
  }
}
