package io.blocksim.model.job;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.blockcopy.BlockCopy;
import io.blocksim.model.check.Check;
import io.blocksim.model.driver.filter.CopyBeforeWriteDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.semantics.Variant;
import java.util.List;

/**
 * QEMU 7.2's backup job (block/backup.c): a copy-before-write filter above the source copies
 * old data of guest writes, and the job copies the clusters of the copy bitmap in the
 * background; at the end the sync bitmap is abdicated or reclaimed per bitmap-mode.
 *
 * <p>Fault model: source reads and target writes may fail (blkdebug). The error policy decides:
 * report ends the job with the error, ignore retries at once (failed clusters were set dirty
 * again), stop pauses the job until job-resume, then retries. Whatever the outcome, the sync
 * bitmap ends as §6.6 of docs/qemu-behaviour.md says.
 */
public final class BackupJob extends Job {
  final BlockNode source;
  final BlockNode target;
  final MirrorSyncMode sync;
  final DirtyBitmap syncBitmap;
  final BitmapSyncMode bitmapMode;
  final ErrorPolicy onSourceError;
  final ErrorPolicy onTargetError;
  final int maxWorkers;
  final long maxChunk;
  /** Whether the job owns the target node and closes it when it ends (drive-backup). */
  final boolean ownsTarget;
  private BlockNode filter;
  private BlockCopy bcs;
  private long len;
  private boolean waitingForCall;
  private BlockCopy.Call backgroundCall;
  private boolean cleaned;
  /** proposal:bitmap-slices: the slice the copy starts from (0: the bitmap alone). */
  private int fromSlice;

  public BackupJob(JobManager manager, String id, BlockNode source, BlockNode target,
      MirrorSyncMode sync, DirtyBitmap syncBitmap, BitmapSyncMode bitmapMode, ErrorPolicy onSourceError,
      ErrorPolicy onTargetError, int maxWorkers, long maxChunk, boolean ownsTarget) {
    super(manager, id);
    this.source = source;
    this.target = target;
    this.sync = sync;
    this.syncBitmap = syncBitmap;
    this.bitmapMode = bitmapMode;
    this.onSourceError = onSourceError;
    this.onTargetError = onTargetError;
    this.maxWorkers = maxWorkers;
    this.maxChunk = maxChunk;
    this.ownsTarget = ownsTarget;
  }

  /** proposal:bitmap-slices: copy slices id.. of the bitmap too (checked by the command). */
  public void fromSlice(int id) {
    this.fromSlice = id;
  }

  /**
   * The end of backup_job_create, once the job exists: the job takes the copy-before-write
   * filter and its block-copy state, and sets the copy's progress meter and speed limit.
   */
  public void attachCopyBeforeWrite(BlockNode filter, BlockCopy bcs, long speed) {
    this.speed = speed;
    this.filter = filter;
    this.bcs = bcs;
    this.len = source.length();
    bcs.setProgress(this);
    bcs.setSpeed(speed);
  }

  @Override
  public BlockCopy blockCopy() {
    return bcs;
  }

  @Override
  public String type() {
    return "backup";
  }

  @Override
  public boolean isBlockJob() {
    return true;
  }

  /** Returns the copy-before-write filter node while the job holds it, else null. */
  public BlockNode filter() {
    return filter;
  }

  @Override
  protected List<BlockNode> heldNodes() {
    return cleaned || filter == null ? List.of() : List.of(filter, target);
  }

  @Override
  protected void completeInFlight() {
    if (bcs != null && !cleaned) {
      bcs.completeInFlight();
    }
  }

  // ---------------------------------------------------------------- run

  @Override
  protected void run() {
    initCopyBitmap();
    if (sync == MirrorSyncMode.TOP) {
      scanUnallocated(0);
    } else if (sync == MirrorSyncMode.NONE) {
      waitForCancel();
    } else {
      backupLoop();
    }
  }

  /** backup_init_bcs_bitmap. */
  private void initCopyBitmap() {
    DirtyBitmap copy = bcs.copyBitmap();
    if (sync == MirrorSyncMode.BITMAP) {
      copy.clear();
      copy.mergeFrom(syncBitmap, false);
      if (fromSlice != 0) {
        // proposal:bitmap-slices: a backup from slice K covers slices K.. and the bitmap.
        syncBitmap.slices().mergeFrom(fromSlice, copy);
      }
    } else if (sync == MirrorSyncMode.TOP) {
      bcs.setSkipUnallocated(true);
    }
    setRemaining(copy.countBytes());
  }

  /** The sync=top scan: clears the copy bits of clusters the top image does not allocate. */
  private void scanUnallocated(long offset) {
    long at = offset;
    while (at < len) {
      if (isCancelled()) {
        runReturned(-HostIoException.ECANCELED);
        return;
      }
      if (shouldPause()) {
        long resumeAt = at;
        pausePoint(() -> {
          if (isCancelled()) {
            runReturned(-HostIoException.ECANCELED);
          } else {
            scanStep(resumeAt);
          }
        });
        return;
      }
      long count;
      try {
        count = bcs.resetUnallocated(at);
      } catch (HostIoException e) {
        runReturned(-e.errno());
        return;
      }
      at += count;
    }
    bcs.setSkipUnallocated(false);
    backupLoop();
  }

  private void scanStep(long offset) {
    long count;
    try {
      count = bcs.resetUnallocated(offset);
    } catch (HostIoException e) {
      runReturned(-e.errno());
      return;
    }
    scanUnallocated(offset + count);
  }

  /** sync=none: only copy-before-write copies; the job yields until it is cancelled. */
  private void waitForCancel() {
    if (isCancelled()) {
      runReturned(0);
      return;
    }
    jobYield(this::waitForCancel);
  }

  /** backup_loop: one block-copy call over the whole disk, repeated on retry. */
  private void backupLoop() {
    long bytes = (len + bcs.clusterSize() - 1) / bcs.clusterSize() * bcs.clusterSize();
    backgroundCall = bcs.startAsync(0, bytes, maxWorkers, maxChunk, this::callFinished,
        manager.copyGate());
    waitForCall();
  }

  private void waitForCall() {
    BlockCopy.Call call = backgroundCall;
    if (!call.finished() && !isCancelled()) {
      jobYield(this::waitForCall);
      return;
    }
    if (!call.finished()) {
      waitingForCall = true;
      rawYield(() -> loopOut(0));
      call.cancel();
      return;
    }
    if (isCancelled() || call.succeeded()) {
      loopOut(0);
      return;
    }
    if (call.cancelled) {
      backupLoop();
      return;
    }
    int result = call.ret;
    boolean isRead = call.errorIsRead;
    BlockErrorAction action = manager.errorAction(this,
        isRead ? onSourceError : onTargetError, isRead,
        -result);
    switch (action) {
      case REPORT -> loopOut(result);
      case STOP -> pausePoint(this::backupLoop);
      case IGNORE -> backupLoop();
      default -> throw Check.unreachable("error action %s", action);
    }
  }

  private void loopOut(int result) {
    backgroundCall = null;
    runReturned(result);
  }

  /** backup_block_copy_callback. */
  private void callFinished() {
    if (waitingForCall) {
      waitingForCall = false;
      rawWake();
    } else {
      enter();
    }
  }

  /** backup_pause: stops the background call and waits for its tasks in flight. */
  @Override
  protected void pauseHook(Runnable k) {
    if (backgroundCall != null && !backgroundCall.finished()) {
      waitingForCall = true;
      rawYield(k);
      backgroundCall.cancel();
    } else {
      k.run();
    }
  }

  @Override
  protected void setSpeedHook(long bytesPerSecond) {
    if (bcs != null) {
      bcs.setSpeed(bytesPerSecond);
      if (backgroundCall != null) {
        backgroundCall.kick();
      }
    }
  }

  // ---------------------------------------------------------------- end

  @Override
  protected void commit() {
    if (syncBitmap != null) {
      cleanupSyncBitmap(0);
    }
  }

  @Override
  protected void abort() {
    if (syncBitmap != null) {
      cleanupSyncBitmap(-1);
    }
  }

  /**
   * Whether the end of the job gives the bitmap back instead of syncing it: the proposals of the
   * "add 'always' bitmap sync policy" thread ({@link Variant#FORCE_CANCEL_SKIPS_SYNC}, {@link
   * Variant#CANCEL_ONLY_RECLAIMS}).
   */
  private boolean reclaimsUnderProposal(int result) {
    if (result >= 0 || bitmapMode != BitmapSyncMode.ALWAYS || !isCancelRequested()) {
      return false;
    }
    if (manager.layer().variant(Variant.CANCEL_ONLY_RECLAIMS)) {
      return true;
    }
    return manager.layer().variant(Variant.FORCE_CANCEL_SKIPS_SYNC)
        && Boolean.TRUE.equals(userCancelForce);
  }

  /** backup_cleanup_sync_bitmap: abdicate or reclaim per mode; always-on-failure adds R. */
  void cleanupSyncBitmap(int result) {
    boolean abdicate = (result == 0 || bitmapMode == BitmapSyncMode.ALWAYS)
        && bitmapMode != BitmapSyncMode.NEVER && !reclaimsUnderProposal(result);
    DirtyBitmap.Handover handover = abdicate ? syncBitmap.abdicate() : syncBitmap.reclaim();
    source.bitmaps().remove(handover.released());
    io.blocksim.model.bitmap.BitmapSlices slices = handover.survivor().slices();
    if (abdicate && result == 0 && slices != null && slices.retention() > 0) {
      // proposal:bitmap-slices: the frozen bitmap, what this successful backup covered, becomes
      // the newest slice; the survivor (the successor's writes) is the active bitmap.
      slices.save(handover.released());
    }
    if (abdicate && result < 0 && bitmapMode == BitmapSyncMode.ALWAYS
        && !manager.layer().variant(Variant.ALWAYS_DROPS_UNCOPIED)) {
      handover.survivor().mergeFrom(bcs.copyBitmap(), false);
    }
  }

  @Override
  protected void clean() {
    if (cleaned) {
      return;
    }
    cleaned = true;
    removeFromNodes(manager, filter, target, bcs, ownsTarget);
  }

  /** Drops the filter, frees the block-copy state and the job's hold on its nodes. */
  public static void removeFromNodes(JobManager manager, BlockNode filter, BlockNode target,
      BlockCopy bcs, boolean ownsTarget) {
    if (filter != null) {
      filter.setBlockingJobType(null);
    }
    target.setBlockingJobType(null);
    if (filter != null) {
      CopyBeforeWriteDriver.drop(manager.layer(), filter);
    }
    if (bcs != null) {
      bcs.free();
    }
    if (ownsTarget && target.parents().isEmpty()) {
      manager.layer().release(target);
    }
  }
}
