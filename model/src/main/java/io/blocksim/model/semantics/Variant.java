package io.blocksim.model.semantics;

import java.util.Optional;

/**
 * The named engine variants (scenario-format.md's {@code semantics:}): known historical bugs
 * ({@code bug:...}) put back and mailing-list proposals ({@code proposal:...}). The one registry
 * the engine, {@code blocksim semantics} and the scenario parser read; a variant is added here
 * when the engine implements it, and its {@link #actsIn} names the QEMU file whose fix it undoes
 * and the engine code where its switch is. docs/variants.md has the research behind each bug:
 * the fixing commit, the release that shipped the fix, what a user saw.
 */
public enum Variant {
  ALWAYS_DROPS_UNCOPIED("bug:always-drops-uncopied", Kind.BUG,
      "a backup with bitmap-mode=always that fails or is cancelled keeps only the successor's "
          + "writes and drops the clusters it never copied (planted, to show the checks bite)",
      "block/backup.c; BackupJob.cleanupSyncBitmap",
      null, null),
  WRITE_UNCHANGED_DIRTIES("bug:write-unchanged-dirties", Kind.BUG,
      "copy-on-read population writes (BDRV_REQ_WRITE_UNCHANGED) dirty bitmaps, which QEMU 7.2 "
          + "does not do (planted)",
      "block/io.c; BlockJobCommands, CopyOnReadDriver",
      null, null),
  MERGE_EMPTY_SOURCE_CLEARS("bug:merge-empty-source-clears", Kind.BUG,
      "block-dirty-bitmap-merge of empty bitmaps clears the target: hbitmap_merge returned "
          + "early before copying the target into the fresh result",
      "util/hbitmap.c; HBitmap.merge",
      "hbitmap: Fix merge when b is empty, and result is not an alias of a", "4.2.0"),
  LONG_TRANSIENT_BITMAP_NAME("bug:long-transient-bitmap-name", Kind.BUG,
      "a bitmap that is not persistent may have a name longer than 1023 bytes",
      "block/dirty-bitmap.c; BitmapCommands.Add",
      "cf7c49cf6a bitmap: Enforce maximum bitmap name length", "4.2.0"),
  ACTIVE_MIRROR_UNALIGNED_RESET("bug:active-mirror-unaligned-reset", Kind.BUG,
      "a write-blocking mirror resets its dirty bitmap over an unaligned guest write rounded "
          + "out to whole granules, so the rest of a dirty granule is never copied",
      "block/mirror.c, util/hbitmap.c; MirrorJob.activeWrite",
      "9adc1cb49a mirror: Only mirror granularity-aligned chunks", "4.1.0"),
  BACKUP_COPIES_CLEAN_CLUSTERS("bug:backup-copies-clean-clusters", Kind.BUG,
      "a backup copies a whole chunk after checking only its first cluster, copying again (with"
          + " the guest's new data) clusters that copy-before-write already saved",
      "block/backup.c (today block/block-copy.c); BlockCopy.createTask",
      "4a5b91ca02 backup: Copy only dirty areas", "4.1.0"),
  COMMIT_BASE_RW_AFTER_EARLY_FAILURE("bug:commit-base-rw-after-early-failure", Kind.BUG,
      "a block-commit that fails after reopening its read-only base read-write leaves the base "
          + "read-write",
      "block/commit.c; BlockJobCommands.startCommit",
      "commit: Make base read-only if there is an early failure", "4.1.0"),
  MERGE_BUSY_SOURCE("bug:merge-busy-source", Kind.BUG,
      "block-dirty-bitmap-merge accepts a source bitmap that a job is using (busy), reading "
          + "a bitmap whose owner may still change it",
      "block/dirty-bitmap.c; BitmapCommands.Merge, DirtyBitmap.checkMergeFrom",
      "block/dirty-bitmaps: disallow busy bitmaps as merge source", "4.0.0"),
  READONLY_BITMAP_BACKUP_ACCEPTED("bug:readonly-bitmap-backup-accepted", Kind.BUG,
      "a backup accepts a readonly bitmap for every bitmap-mode, though on-success and always "
          + "change the bitmap when the job ends",
      "block/backup.c; BackupCommands.createJob",
      "block/dirty-bitmaps: prohibit readonly bitmaps for backups", "4.0.0"),
  IN_USE_BITMAP_NOT_LOADED("bug:in-use-bitmap-not-loaded", Kind.BUG,
      "a stored bitmap left in use (by a crash) is not loaded when the image is opened: it is "
          + "missing from query-block, cannot be removed, and its name cannot be used again",
      "block/qcow2-bitmap.c; Qcow2Driver.createLoadedBitmaps",
      "74da6b9435 block/dirty-bitmaps: implement inconsistent bit", "4.0.0"),
  MERGE_GRANULARITY_REFUSED("bug:merge-granularity-refused", Kind.BUG,
      "block-dirty-bitmap-merge refuses a source whose granularity differs from the target's "
          + "(hbitmap_can_merge compared granularities)",
      "util/hbitmap.c; BitmapCommands.Merge, DirtyBitmap.checkMergeFrom",
      "hbitmap: enable merging across granularities", "4.2.0"),
  READONLY_BITMAP_NEVER_REFUSED("bug:readonly-bitmap-never-refused", Kind.BUG,
      "a backup with bitmap-mode=never refuses a readonly bitmap, which it would only read",
      "block/backup.c; BackupCommands.createJob",
      "block/backup: loosen restriction on readonly bitmaps", "4.2.0"),
  MIRROR_TRUSTS_ZERO_INIT("bug:mirror-trusts-zero-init", Kind.BUG,
      "a sync=full mirror does not zero a target it did not create when the format reports "
          + "zero-init, leaving old data where the source reads zeroes",
      "block/mirror.c; MirrorJob.dirtyInit",
      "mirror: Fix bdrv_has_zero_init() use", "4.2.0"),
  REMOVE_UNSTORED_PERSISTENT_KEEPS_BITMAP("bug:remove-unstored-persistent-keeps-bitmap", Kind.BUG,
      "removing a persistent bitmap not yet stored, from an image that stores others, replies "
          + "success and keeps the bitmap",
      "block/qcow2-bitmap.c; BitmapCommands.Remove",
      "f56281abd9 block/qcow2-bitmap: fix crash bug in"
          + " qcow2_co_remove_persistent_dirty_bitmap", "4.2.0"),
  BACKUP_COMMAND_UNDRAINED("bug:backup-command-undrained", Kind.BUG,
      "the blockdev-backup command creates its job outside a drained section: no paused and "
          + "running at creation",
      "blockdev.c; BackupCommands",
      "5b7bfe515e blockdev: unify qmp_blockdev_backup and blockdev-backup transaction paths",
      "5.0.0"),
  DRIVE_BACKUP_COMMAND_UNDRAINED("bug:drive-backup-command-undrained", Kind.BUG,
      "the drive-backup command creates its job outside a drained section: no paused and "
          + "running at creation",
      "blockdev.c; BackupCommands",
      "2288ccfac9 blockdev: unify qmp_drive_backup and drive-backup transaction paths", "5.0.0"),
  BACKUP_SIZE_MISMATCH("bug:backup-size-mismatch", Kind.BUG,
      "a backup to a target of another size is accepted; a smaller target is written past its end",
      "block/backup.c; BackupCommands.createJob",
      "958a04bd32 backup: Make sure that source and target size match", "5.1.0"),
  MIRROR_SIZE_MISMATCH("bug:mirror-size-mismatch", Kind.BUG,
      "a mirror to a target of another size runs; a smaller target fails late past its end",
      "block/mirror.c; MirrorJob.run",
      "mirror: Make sure that source and target size match", "5.1.0"),
  STANDBY_REFUSES_COMPLETE("bug:standby-refuses-complete", Kind.BUG,
      "job-complete is refused for a READY job the user paused (standby)",
      "job.c; JobManager.applyVerb",
      "53ddb9c892 job: Allow complete for jobs on standby", "6.0.0"),
  COMPLETE_ENTERS_PAUSED_JOB("bug:complete-enters-paused-job", Kind.BUG,
      "job-complete wakes a mirror the user paused, which then runs on and finishes",
      "block/mirror.c; MirrorJob.complete",
      "00769414cd mirror: Do not enter a paused job on completion", "6.0.0"),
  BLOCK_COPY_PROGRESS_ON_FAILURE("bug:block-copy-progress-on-failure", Kind.BUG,
      "a failed copy task counts as progress when another task of its call failed first",
      "block/block-copy.c; BlockCopy.finishTaskData",
      "8146b357d0 block-copy: fix block_copy_task_entry() progress update", "6.1.0"),
  MIRROR_UNSYNCED_ON_ERROR("bug:mirror-unsynced-on-error", Kind.BUG,
      "an error in READY takes the mirror out of sync, and catching up again transitions it "
          + "from ready to ready, which the job state machine forbids",
      "block/mirror.c; MirrorJob.opFailed, loopBody",
      "a3810da5cf mirror: Keep s->synced on error", "6.2.0"),
  CANCEL_IGNORED_ON_FLUSH_ERROR("bug:cancel-ignored-on-flush-error", Kind.BUG,
      "a mirror whose target flush keeps failing cannot be cancelled: the failed flush skips "
          + "the cancel check",
      "block/mirror.c; MirrorJob.loopBody",
      "4feeec7e23 mirror: Check job_is_cancelled() earlier", "6.2.0"),
  FORCE_CANCEL_SKIPS_SYNC("proposal:force-cancel-skips-sync", Kind.PROPOSAL,
      "a forced cancel (job-cancel, block-job-cancel force=true) of a backup with bitmap-mode "
          + "always gives the bitmap back as before the job (plus the writes since); a soft cancel "
          + "and a cancel induced by a grouped transaction still sync (thread: add 'always' bitmap "
          + "sync policy)",
      "block/backup.c; BackupJob.cleanupSyncBitmap",
      null, null),
  ALWAYS_NOT_GROUPED("proposal:always-not-grouped", Kind.PROPOSAL,
      "a grouped transaction refuses a backup with bitmap-mode always (alternative in the same "
          + "thread)",
      "blockdev.c; BackupCommands.BackupAction.prepare",
      null, null),
  CANCEL_ONLY_RECLAIMS("proposal:cancel-only-reclaims", Kind.PROPOSAL,
      "no cancel syncs a bitmap-mode always backup's bitmap, only a failure does (alternative "
          + "in the same thread)",
      "block/backup.c; BackupJob.cleanupSyncBitmap",
      null, null),
  INCREMENTAL_MIRROR("proposal:incremental-mirror", Kind.PROPOSAL,
      "blockdev-mirror and drive-mirror take sync 'incremental' with a bitmap of the source: a "
          + "copy of the bitmap drives the copy; a failure or cancel leaves the bitmap as it was "
          + "(plus the writes since), completion clears it (thread: mirror: implement "
          + "incremental and bitmap modes)",
      "block/mirror.c, blockdev.c; BlockJobCommands.incrementalBitmap, MirrorJob.dirtyInit",
      null, null),
  BITMAP_SLICES("proposal:bitmap-slices", Kind.PROPOSAL,
      "a bitmap keeps up to N past points in time as slices (block-dirty-bitmap-set-retention "
          + "node, name, slices, force-cycle): a successful backup that syncs it saves what it "
          + "covered as a disabled slice, a backup past the retention is refused unless "
          + "force-cycle (dropped-slices), and a backup with slice K copies slices K.. and the "
          + "bitmap (thread: qmp dirty bitmap API)",
      "blockdev.c, block/backup.c; SliceCommands, BackupCommands, BackupJob.cleanupSyncBitmap",
      null, null),
  QBM("proposal:qbm", Kind.PROPOSAL,
      "blockdev-add takes driver 'qbm' (Qemu Bit Map) with file = a JSON descriptor {\"QBM\": "
          + "{version 1, image {file, format raw}, bitmaps {name: {file, granularity-bytes, "
          + "type}}}} gluing a raw image and one plain bitmap file per persistent bitmap, all "
          + "loaded enabled and consistent (no in-use flag); mode 'close' (default) writes the "
          + "bitmap files only at close, 'synchronous' (the RFC's driver) also writes a write's "
          + "new bits after the data write, flushed only with guest flushes, 'write-ahead' "
          + "(blocksim's) writes and flushes them before it; qemu-img create -f qbm makes one "
          + "(RFC: Qemu Bit Map (QBM), 2016-01-26)",
      "block/qbm.c of the RFC; driver/qbm/QbmDriver, BlockLayer.driverNames",
      null, null),
  // Planted for blocksim explore's checkers: each shows that one checker bites.
  STREAM_POPULATES_ZEROES("bug:stream-populates-zeroes", Kind.BUG,
      "stream's copy-on-read population writes zeroes instead of the data it copies (planted:"
          + " the data checker must flag it)",
      "driver/filter/CopyOnReadDriver (the population write of block-stream's filter)", null, null),
  BACKUP_SKIPS_COPY_BEFORE_WRITE("bug:backup-skips-copy-before-write", Kind.BUG,
      "a backup's copy-before-write filter lets guest writes through before the old data is"
          + " copied (planted: the backup-point-in-time checker must flag it)",
      "driver/filter/CopyBeforeWriteDriver (cbw_do_copy_before_write)", null, null),
  SET_SPEED_ANY_STATUS("bug:set-speed-any-status", Kind.BUG,
      "block-job-set-speed is accepted in every job status, against job.c's verb table"
          + " (planted: the job-state-machine checker must flag it)",
      "job/JobManager (the verb check)", null, null);

  /** Whether a variant puts back a bug or tries a proposal. */
  public enum Kind {
    BUG, PROPOSAL
  }

  private final String spelling;
  private final Kind kind;
  private final String description;
  private final String actsIn;
  private final String fixingCommit;
  private final String release;

  Variant(String spelling, Kind kind, String description, String actsIn, String fixingCommit,
      String release) {
    this.spelling = spelling;
    this.kind = kind;
    this.description = description;
    this.actsIn = actsIn;
    this.fixingCommit = fixingCommit;
    this.release = release;
  }

  /** The name scenarios and {@code --semantics} use ({@code bug:...}). */
  public String spelling() {
    return spelling;
  }

  public Kind kind() {
    return kind;
  }

  /** What the variant changes, as a user would see it. */
  public String description() {
    return description;
  }

  /** The QEMU file whose fix the variant undoes, and where in model/ its switch is. */
  public String actsIn() {
    return actsIn;
  }

  /**
   * The QEMU commit that fixed the bug ("hash subject", or the subject where no hash was found);
   * empty for planted bugs and proposals.
   */
  public Optional<String> fixingCommit() {
    return Optional.ofNullable(fixingCommit);
  }

  /** The first QEMU release with the fix; empty when there is no fix. */
  public Optional<String> release() {
    return Optional.ofNullable(release);
  }

  /** The one line {@code blocksim semantics} prints after the name. */
  public String line() {
    return fixingCommit == null ? description
        : description + " [fixed by " + fixingCommit + ", QEMU " + release + "]";
  }

  /** Returns the variant with that spelling, if any. */
  public static Optional<Variant> bySpelling(String spelling) {
    for (Variant v : values()) {
      if (v.spelling.equals(spelling)) {
        return Optional.of(v);
      }
    }
    return Optional.empty();
  }
}
