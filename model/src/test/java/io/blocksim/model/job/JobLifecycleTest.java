package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Job life cycle beyond the backup sequences: user pause and resume, blockdev-create, drive-backup,
 * sync modes top and none, and the query commands' members.
 */
class JobLifecycleTest {
  private World world;

  @BeforeEach
  void setUp() throws Exception {
    world = new World().image("img", 4 * World.MIB).image("tgt", 4 * World.MIB);
    world.addRaw("drive0", "img", null);
    world.addRaw("target0", "tgt", null);
    for (int i = 0; i < 64; i += 3) {
      world.write("drive0", i * World.CLUSTER, 4096, 0x5a);
    }
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> queryJob(String command) {
    return ((List<Map<String, Object>>) world.qmp(command)).get(0);
  }

  @Test
  void pauseWaitsForTheTaskInFlightThenResumes() {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full", "x-perf", Json.object("max-workers", 1, "max-chunk", 65536));
    world.scheduler.step();
    world.qmp("job-pause", "id", "j1");
    assertThat(world.qmpError("job-pause", "id", "j1")).isEqualTo("Job is already paused");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 running", "j1 paused");
    Map<String, Object> info = queryJob("query-block-jobs");
    assertThat(info).containsEntry("paused", true).containsEntry("status", "paused")
        .containsEntry("busy", false).containsEntry("io-status", "ok");
    long offset = (Long) info.get("offset");
    assertThat(offset).isPositive().isLessThan(4 * World.MIB);
    world.qmp("block-job-resume", "device", "j1");
    assertThat(world.qmpError("job-resume", "id", "j1"))
        .isEqualTo("Can't resume a job that was not paused");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 paused", "j1 running", "j1 waiting",
        "j1 pending", "j1 COMPLETED", "j1 concluded", "j1 null");
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).containsEntry("offset", 4 * World.MIB);
  }

  @Test
  void verbsRefusedWhileRunning() {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full", "speed", 1);
    assertThat(world.qmpError("job-complete", "id", "j1"))
        .isEqualTo("Job 'j1' in state 'running' cannot accept command verb 'complete'");
    assertThat(world.qmpError("job-finalize", "id", "j1"))
        .isEqualTo("Job 'j1' in state 'running' cannot accept command verb 'finalize'");
    assertThat(world.qmpError("blockdev-backup", "job-id", "j2", "device", "drive0", "target",
        "target0", "sync", "full"))
        .isEqualTo("Node 'target0' is busy: block device is in use by block job: backup");
    assertThat(world.qmpError("blockdev-backup", "job-id", "j1", "device", "target0", "target",
        "drive0", "sync", "full"))
        .isEqualTo("Node 'target0' is busy: block device is in use by block job: backup");
    Map<String, Object> job = queryJob("query-jobs");
    assertThat(job.keySet()).containsExactly("id", "type", "status", "current-progress",
        "total-progress");
    world.qmp("block-job-set-speed", "device", "j1", "speed", 0);
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 COMPLETED", "j1 concluded", "j1 null");
  }

  @Test
  void anotherBackupDrainsTheRunningJobTwice() {
    // Recorded from qemu-storage-daemon 7.2: a refused second backup on the same source pauses
    // the running job once for the transaction's drain-all and once for the source's drain.
    world.qmp("blockdev-backup", "job-id", "js", "device", "drive0", "target", "target0",
        "sync", "full", "speed", 1);
    world.qmpError("blockdev-backup", "job-id", "js2", "device", "drive0", "target", "target0",
        "sync", "full");
    assertThat(world.jobEvents()).containsExactly("js created", "js running", "js paused",
        "js running", "js paused", "js running", "js paused", "js running");
    world.engine.jobs().drain(world.node("target0"));
    assertThat(world.jobEvents()).endsWith("js running", "js paused", "js running");
    int before = world.jobEvents().size();
    world.addRaw("other", "tgt", null);
    world.engine.jobs().drain(world.node("other"));
    assertThat(world.jobEvents()).hasSize(before);
  }

  @Test
  void aDrainRunsTheCompletionOfAJobWhoseRunHasReturned() {
    // bdrv_drained_begin polls while child_job_drained_poll says busy: a job is busy from the end
    // of its run until its job_exit bottom half has run, so the drain runs that completion.
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full");
    Job job = world.engine.jobs().find("j1");
    while (!(job.deferredToMainLoop && job.busy)) {
      assertThat(world.scheduler.step()).isTrue();
    }
    assertThat(world.jobEvents()).endsWith("j1 running");
    world.engine.jobs().drain(world.node("target0"));
    assertThat(world.jobEvents()).endsWith("j1 running", "j1 waiting", "j1 pending",
        "j1 COMPLETED", "j1 concluded", "j1 null");
  }

  @Test
  void theDrainPollObserverSeesTheCompletionsThePollRan() {
    // The seam a trace recorder uses to take a state inside a command that drained: it runs
    // once per poll that completed jobs, after those completions, and only then.
    List<List<String>> seen = new java.util.ArrayList<>();
    world.engine.jobs().observeDrainPolls(() -> seen.add(List.copyOf(world.jobEvents())));
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full");
    world.engine.jobs().drain(world.node("target0")); // j1 is running: nothing to complete
    assertThat(seen).isEmpty();
    Job job = world.engine.jobs().find("j1");
    while (!(job.deferredToMainLoop && job.busy)) {
      assertThat(world.scheduler.step()).isTrue();
    }
    world.engine.jobs().drain(world.node("target0"));
    assertThat(seen).hasSize(1);
    assertThat(seen.get(0)).endsWith("j1 concluded", "j1 null");
    world.engine.jobs().observeDrainPolls(null);
    world.qmp("blockdev-backup", "job-id", "j2", "device", "drive0", "target", "target0",
        "sync", "full");
    Job second = world.engine.jobs().find("j2");
    while (!(second.deferredToMainLoop && second.busy)) {
      assertThat(world.scheduler.step()).isTrue();
    }
    world.engine.jobs().drain(world.node("target0"));
    assertThat(seen).hasSize(1);
    assertThat(world.jobEvents()).endsWith("j2 concluded", "j2 null");
  }

  @Test
  void cancelledJobShowsOperationCanceled() {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "none", "auto-dismiss", false);
    world.write("drive0", 0, 512, 1);
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 paused", "j1 running");
    world.write(world.node("drive0").parents().get(0).name(), 0, 512, 0x77);
    world.qmp("block-job-cancel", "device", "j1");
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).endsWith("j1 aborting", "j1 CANCELLED", "j1 concluded");
    assertThat(queryJob("query-jobs")).containsEntry("error", "Operation canceled")
        .containsEntry("status", "concluded");
    assertThat(world.qmpError("job-cancel", "id", "j1")).isEqualTo(
        "Job 'j1' in state 'concluded' cannot accept command verb 'cancel'");
  }

  @Test
  void syncNoneCopiesOnlyBeforeGuestWrites() throws Exception {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "none", "filter-node-name", "cbw");
    world.write("cbw", 3 * World.CLUSTER + 512, 512, 0x66);
    MemoryStorage.MemoryFile target = world.storage.file("tgt");
    assertThat(target.peek(3 * World.CLUSTER, 4096)).containsOnly((byte) 0x5a);
    assertThat(target.nonZero(6 * World.CLUSTER, (int) World.CLUSTER)).isFalse();
    world.qmp("job-cancel", "id", "j1");
    world.scheduler.runUntilIdle();
    assertThat(world.lastEvent("BLOCK_JOB_CANCELLED")).containsEntry("offset", World.CLUSTER);
  }

  @Test
  void failedCopyBeforeWriteFailsTheGuestWrite() throws Exception {
    world.qmp("block-dirty-bitmap-add", "node", "drive0", "name", "b0");
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full", "filter-node-name", "cbw", "speed", 1);
    world.storage.file("img").failReadAt = 3 * World.CLUSTER;
    assertThat(world.write("cbw", 3 * World.CLUSTER, 512, 0x99)).isEqualTo(5);
    assertThat(world.node("drive0").bitmaps().get(1).countBytes()).isZero();
    assertThat(world.storage.file("img").peek(3 * World.CLUSTER, 512)).containsOnly((byte) 0x5a);
    assertThat(world.write("cbw", 3 * World.CLUSTER, 512, 0x99)).isZero();
    world.qmp("block-job-set-speed", "device", "j1", "speed", 0);
    world.scheduler.runUntilIdle();
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).doesNotContainKey("error");
    assertThat(world.storage.file("tgt").peek(3 * World.CLUSTER, 512)).containsOnly((byte) 0x5a);
    assertThat(world.clusters("drive0", "b0")).isEqualTo(1);
  }

  @Test
  void filterTakesOverParentsAndUsersForTheJob() {
    world.qmp("blockdev-add", "node-name", "top", "driver", "raw", "file", "drive0");
    world.node("drive0").users().add("export exp0");
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "full", "filter-node-name", "cbw", "speed", 1);
    assertThat(world.node("top").primaryChild().name()).isEqualTo("cbw");
    assertThat(world.node("cbw").primaryChild().name()).isEqualTo("drive0");
    assertThat(world.node("cbw").users()).containsExactly("export exp0");
    assertThat(world.node("drive0").parents()).extracting(n -> n.name()).containsExactly("cbw");
    assertThat(world.qmpError("blockdev-del", "node-name", "target0"))
        .isEqualTo("Node 'target0' is busy: block device is in use by block job: backup");
    // Text as qemu-storage-daemon 7.2 refused an NBD export of drive0 under a backup filter.
    assertThat(io.blocksim.model.graph.Permissions.attachConflict(
        world.node("drive0"), true)).isEqualTo("Permission conflict on node 'drive0': permissions"
        + " 'write' are both required by an unnamed block device (uses node 'drive0' as 'root'"
        + " child) and unshared by node 'cbw' (uses node 'drive0' as 'file' child).");
    assertThat(io.blocksim.model.graph.Permissions.attachConflict(
        world.node("target0"), true)).isNull();
    world.qmp("job-cancel", "id", "j1");
    world.scheduler.runUntilIdle();
    assertThat(world.node("top").primaryChild().name()).isEqualTo("drive0");
    assertThat(world.node("drive0").users()).containsExactly("export exp0");
    assertThat(world.engine.graph().find("cbw")).isNull();
    world.qmp("blockdev-del", "node-name", "target0");
  }

  @Test
  void driveBackupWithoutAFormatCreatorLeavesNoTrace() {
    assertThat(world.qmpError("drive-backup", "job-id", "d1", "device", "drive0", "target",
        "b.img", "format", "blkdebug", "sync", "full"))
        .isEqualTo("Format driver 'blkdebug' does not support image creation");
    assertThat(world.engine.graph().all()).hasSize(4);
    assertThat(world.jobEvents()).isEmpty();
  }

  @Test
  void syncTopOnRawCopiesEverything() throws Exception {
    world.qmp("blockdev-backup", "job-id", "j1", "device", "drive0", "target", "target0",
        "sync", "top");
    world.scheduler.runUntilIdle();
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).containsEntry("len", 4 * World.MIB);
    assertThat(world.storage.file("tgt").peek(63 * World.CLUSTER, 4096)).containsOnly((byte) 0x5a);
  }

  @Test
  void maxChunkBelowClusterIsRefused() {
    assertThat(world.qmpError("blockdev-backup", "job-id", "j1", "device", "drive0", "target",
        "target0", "sync", "full", "x-perf", Json.object("max-chunk", 4096)))
        .isEqualTo("Required max-chunk (4096) is less than backup cluster size (65536)");
    assertThat(world.node("drive0").parents()).isEmpty();
    assertThat(world.node("drive0").bitmaps()).isEmpty();
    assertThat(world.jobEvents()).isEmpty();
  }

  @Test
  void blockdevCreateRunsACreateJobWithManualDismiss() {
    world.qmp("blockdev-create", "job-id", "c1", "options",
        Json.object("driver", "file", "filename", "new.img", "size", 1048576));
    world.scheduler.runUntilIdle();
    assertThat(world.jobEvents()).containsExactly("c1 created", "c1 running", "c1 waiting",
        "c1 pending", "c1 concluded");
    assertThat(world.storage.file("new.img").length()).isEqualTo(1048576);
    assertThat(queryJob("query-jobs")).containsEntry("type", "create")
        .containsEntry("current-progress", 1L).containsEntry("total-progress", 1L);
    assertThat((List<?>) world.qmp("query-block-jobs")).isEmpty();
    world.qmp("job-dismiss", "id", "c1");
    assertThat(world.jobEvents()).endsWith("c1 null");
    assertThat(world.qmpError("blockdev-create", "job-id", "c2", "options",
        Json.object("driver", "raw", "file", "x", "size", 1)))
        .isEqualTo("Driver does not support blockdev-create");
  }

  @Test
  void driveBackupCreatesARawTargetAndReleasesIt() throws Exception {
    world.qmp("drive-backup", "job-id", "d1", "device", "drive0", "target", "backup.img",
        "sync", "full");
    world.scheduler.runUntilIdle();
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).doesNotContainKey("error");
    MemoryStorage.MemoryFile backup = world.storage.file("backup.img");
    assertThat(backup.length()).isEqualTo(4 * World.MIB);
    assertThat(backup.peek(0, 4096)).containsOnly((byte) 0x5a);
    assertThat(world.engine.graph().all()).extracting(n -> n.name())
        .containsExactly("#block100", "drive0", "#block200", "target0");
  }
}
