package io.blocksim.model.job;

import io.blocksim.model.semantics.Variant;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.filter.JobFilterDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.SpareReadBuffer;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU 7.2's mirror job (block/mirror.c), which also runs an active block-commit (type "commit",
 * the base as target). A mirror_top filter goes above the source; an anonymous bitmap on the
 * source records what is left to copy (enabled in copy-mode background, disabled in
 * write-blocking, where the filter copies each guest write to the target before it completes).
 * Once the bitmap is empty the target is flushed and the job is READY; it keeps copying new
 * writes. job-complete replaces the source by the target for every parent; a soft cancel in READY
 * ends successfully without that pivot.
 *
 * <p>Simplification: QEMU keeps up to 16 copy operations in flight; blocksim does one iteration's
 * operations at once and waits for their latency before the next, which changes timing only.
 *
 * <p>Fault model: a chunk's source read or target write may fail; the range is set dirty again
 * and on-source-error / on-target-error decide: report ends the job, ignore retries it later,
 * stop pauses the job (the range is retried after job-resume).
 */
public final class MirrorJob extends ChunkedJob {
  static final long MAX_IO_BYTES = 1 << 20;
  static final int MAX_IN_FLIGHT = 16;
  public static final long DEFAULT_BUF_SIZE = MAX_IN_FLIGHT * MAX_IO_BYTES;
  /** BlockMirrorBackingMode: what the target's backing file becomes at the end. */
  static final int LEAVE_BACKING_CHAIN = 0;
  public static final int SOURCE_BACKING_CHAIN = 1;
  public static final int OPEN_BACKING_CHAIN = 2;

  final String type;
  final BlockNode source;
  final BlockNode target;
  final BlockNode base;
  final BlockNode baseOverlay;
  final boolean noneMode;
  final boolean zeroTarget;
  final boolean writeBlocking;
  final long granularity;
  final long bufSize;
  final ErrorPolicy onSourceError;
  final ErrorPolicy onTargetError;
  final boolean unmap;
  final String replaces;
  private BlockNode mirrorTop;
  private DirtyBitmap bitmap;
  boolean shouldComplete;
  private int backingMode = LEAVE_BACKING_CHAIN;
  /** Whether the job holds the only reference to the target (drive-mirror). */
  private boolean ownsTarget;
  private BlockNode toReplace;
  private long bdevLength;
  private long iterPos;
  /** QEMU's s->ret: the first reported I/O error, or 0. */
  private int opRet;
  private boolean prepared;
  /**
   * proposal:incremental-mirror: the user's bitmap whose copy (the job's own bitmap) drives the
   * copy; busy while the job runs, cleared when the job completes, left alone otherwise.
   */
  private DirtyBitmap syncBitmap;

  public MirrorJob(JobManager manager, String id, String type, BlockNode source, BlockNode target,
      BlockNode base, boolean noneMode, boolean zeroTarget, boolean writeBlocking,
      long granularity, long bufSize, ErrorPolicy onSourceError, ErrorPolicy onTargetError,
      boolean unmap, String replaces) {
    super(manager, id);
    this.type = type;
    this.source = source;
    this.target = target;
    this.base = base;
    this.baseOverlay = Chains.overlay(source, base);
    this.noneMode = noneMode;
    this.zeroTarget = zeroTarget;
    this.writeBlocking = writeBlocking;
    this.granularity = granularity;
    this.bufSize = (bufSize + granularity - 1) / granularity * granularity;
    this.onSourceError = onSourceError;
    this.onTargetError = onTargetError;
    this.unmap = unmap;
    this.replaces = replaces;
  }

  /**
   * The part of mirror_start_job after block_job_create: the job takes its mirror_top filter
   * and creates its dirty bitmap on the source (disabled in write-blocking mode, where the
   * filter copies guest writes itself).
   */
  public void attachMirrorTop(BlockNode mirrorTop) {
    this.mirrorTop = mirrorTop;
    DirtyBitmap dirty = new DirtyBitmap(null, source.length(), granularity);
    if (writeBlocking) {
      dirty.setDisabled(true);
    }
    source.bitmaps().add(0, dirty);
    this.bitmap = dirty;
  }

  /** proposal:incremental-mirror: the bitmap of sync 'incremental' (null: QEMU 7.2's mirror). */
  public void useSyncBitmap(DirtyBitmap syncBitmap) {
    this.syncBitmap = syncBitmap;
    if (syncBitmap != null) {
      syncBitmap.setBusy(true);
    }
  }

  /**
   * drive-mirror: the job holds the only reference to the target it opened, and at completion
   * gives it the backing chain per backingMode (SOURCE_ or OPEN_BACKING_CHAIN).
   */
  public void ownTarget(int backingMode) {
    this.backingMode = backingMode;
    this.ownsTarget = true;
  }

  @Override
  public String type() {
    return type;
  }

  @Override
  protected List<BlockNode> heldNodes() {
    if (prepared || mirrorTop == null) {
      return List.of();
    }
    return List.of(mirrorTop, target);
  }

  private boolean isCommit() {
    return base != null && base == target;
  }

  // ---------------------------------------------------------------- run


  @Override
  protected void run() {
    if (isCancelled()) {
      runReturned(0);
      return;
    }
    bdevLength = source.length();
    long targetLength = target.length();
    if (isCommit()) {
      if (bdevLength > targetLength) {
        // mirror_run: active commit grows the base to the active layer's length first.
        try {
          BlockIo.truncate(target, bdevLength);
        } catch (HostIoException e) {
          fail(-e.errno(), HostIoException.strerror(e.errno()));
          return;
        }
      }
    } else if (bdevLength != targetLength
        && !manager.layer().variant(Variant.MIRROR_SIZE_MISMATCH)) {
      fail(-HostIoException.EINVAL, "Source and target image have different sizes");
      return;
    }
    int ret = dirtyInit();
    if (ret < 0 || isCancelled()) {
      runReturned(ret);
      return;
    }
    loopTop();
  }


  /** mirror_dirty_init. */
  private int dirtyInit() {
    if (syncBitmap != null) {
      // proposal:incremental-mirror: the job's bitmap starts as a copy of the user's bitmap
      // (bdrv_dirty_bitmap_merge_internal in the series' mirror_dirty_init); nothing is zeroed.
      bitmap.mergeFrom(syncBitmap, false);
      return 0;
    }
    if (zeroTarget && !manager.layer().variant(Variant.MIRROR_TRUSTS_ZERO_INIT)) {
      if (!target.discardUnmap()) {
        bitmap.setDirty(0, bdevLength);
        return 0;
      }
      try {
        BlockIo.writeZeroes(target, 0, bdevLength, RequestFlags.MAY_UNMAP);
      } catch (HostIoException e) {
        // QEMU ignores the result of the initial zeroing operations.
      }
    }
    if (noneMode) {
      return 0;
    }
    long offset = 0;
    while (offset < bdevLength) {
      BlockIo.Run run;
      try {
        run = BlockIo.allocatedAbove(source, baseOverlay, offset, bdevLength - offset);
      } catch (HostIoException e) {
        return -e.errno();
      }
      if (run.allocated()) {
        bitmap.setDirty(offset, run.length());
      }
      offset += run.length();
    }
    return 0;
  }

  private void loopTop() {
    if (opRet < 0) {
      runReturned(opRet);
      return;
    }
    pausePoint(this::loopBody);
  }


  /** Whether the last pass ended in a failed flush (the `continue` of QEMU before 6.2). */
  private boolean flushFailed;

  /**
   * The `continue` after a failed flush. The flush was I/O: mirror_run's coroutine yielded in
   * blk_flush until the error came back (blkdebug completes a failed request from a bottom half),
   * so the next pass of the loop runs after the event loop has had its turn, and a policy that
   * does not end the job (ignore; stop after job-resume) retries the flush pass after pass
   * without recursion. Under the variant a cancelled job passes no pause point and never stops
   * retrying, as QEMU's job spun; the simulator spaces those retries a slice apart so that such a
   * run reaches its await timeout quickly.
   */
  private void retryAfterFailedFlush() {
    flushFailed = true;
    if (isCancelled() && manager.layer().variant(Variant.CANCEL_IGNORED_ON_FLUSH_ERROR)) {
      afterIo(SLICE_NS, this::loopTop);
    } else {
      afterIo(ioLatencyNs(0), this::loopTop);
    }
  }

  private void loopBody() {
    boolean skipCancelCheck = flushFailed
        && manager.layer().variant(Variant.CANCEL_IGNORED_ON_FLUSH_ERROR);
    flushFailed = false;
    if (isCancelled() && !skipCancelCheck) {
      runReturned(0);
      return;
    }
    long cnt = bitmap.countBytes();
    setRemaining(cnt);
    if (ioStatus.equals("ok") && cnt != 0) {
      long[] delay = new long[1];
      List<long[]> ops = new ArrayList<>();
      long latency = iteration(delay, ops);
      inFlightOps = ops;
      plannedSleep = delay;
      // The operations were submitted; their data moves when their I/O completes. They were in
      // flight at the loop's check, so there is no flush or READY check this round.
      afterIo(latency, () -> {
        inFlightOps = List.of();
        plannedSleep = null;
        for (long[] op : ops) {
          performOnce(op);
        }
        long d = status.ready() && !shouldComplete ? 0 : delay[0];
        sleepNs(d, this::loopTop);
      });
      return;
    }
    boolean complete = false;
    if (cnt == 0) {
      if (manager.layer().variant(Variant.MIRROR_UNSYNCED_ON_ERROR) ? !synced : !status.ready()) {
        try {
          BlockIo.flush(target);
        } catch (HostIoException e) {
          if (manager.errorAction(this, onTargetError, false, e.errno())
              == BlockErrorAction.REPORT) {
            opRet = -e.errno();
          }
          retryAfterFailedFlush();
          return;
        }
        manager.transitionToReady(this);
        synced = true;
      }
      complete = shouldComplete || cancelled;
      cnt = bitmap.countBytes();
    }
    if (cnt == 0 && complete) {
      try {
        BlockIo.flush(target);
      } catch (HostIoException e) {
        if (manager.errorAction(this, onTargetError, false, e.errno()) == BlockErrorAction.REPORT) {
          opRet = -e.errno();
        }
        retryAfterFailedFlush();
        return;
      }
      runReturned(0);
      return;
    }
    long delayNs = 0;
    if (status.ready() && !complete) {
      delayNs = cnt == 0 ? SLICE_NS : 0;
    }
    sleepNs(delayNs, this::loopTop);
  }

  /**
   * The rate-limit sleep of the iteration in flight. QEMU's mirror_run arms that timer while the
   * iteration's I/O is in flight; the simulator sleeps after the I/O completes.
   */
  private long[] plannedSleep;

  @Override
  protected void dropPlannedSleep() {
    if (plannedSleep != null) {
      plannedSleep[0] = 0;
    }
  }

  private static final String[] METHODS = {"copy", "zero", "discard"};
  /** The operations of the iteration in flight: {offset, bytes, method, done}. */
  private List<long[]> inFlightOps = List.of();

  private void performOnce(long[] op) {
    if (op[3] == 0) {
      op[3] = 1;
      perform(op[0], op[1], METHODS[(int) op[2]]);
    }
  }

  /**
   * mirror_iteration: claims one run of dirty chunks and plans its operations ({offset, bytes,
   * method} into ops); returns the latency of their I/O.
   */
  private long iteration(long[] delayOut, List<long[]> ops) {
    // The last run may end past the device's end (a granularity larger than the image): the
    // iterator then starts over, as QEMU's dirty iterator does at the end of the bitmap.
    long offset = iterPos < bdevLength
        ? bitmap.hbitmap().nextDirty(iterPos, bdevLength - iterPos) : -1;
    if (offset < 0) {
      iterPos = 0;
      offset = bitmap.hbitmap().nextDirty(0, bdevLength);
    }
    long nbChunks = 1;
    while (nbChunks * granularity < bufSize) {
      long next = offset + nbChunks * granularity;
      if (next >= bdevLength || !bitmap.hbitmap().get(next)) {
        break;
      }
      nbChunks++;
    }
    bitmap.resetDirty(offset, Math.min(nbChunks * granularity, bdevLength - offset));
    iterPos = offset + nbChunks * granularity;
    long maxIo = Math.max(bufSize / MAX_IN_FLIGHT, MAX_IO_BYTES);
    long latency = 0;
    long delay = 0;
    while (nbChunks > 0 && offset < bdevLength) {
      long ioBytes;
      boolean data = true;
      boolean zero = false;
      boolean statusOk = true;
      try {
        BlockStatus status = BlockIo.blockStatusAbove(source, offset, nbChunks * granularity);
        ioBytes = status.lengthBytes();
        data = status.data();
        zero = status.zero();
        if (data) {
          ioBytes = Math.min(ioBytes, maxIo);
        }
      } catch (HostIoException e) {
        statusOk = false;
        ioBytes = Math.min(nbChunks * granularity, maxIo);
      }
      ioBytes -= ioBytes % granularity;
      String method = "copy";
      if (ioBytes < granularity) {
        ioBytes = granularity;
      } else if (statusOk && !data) {
        long cluster = Math.max(1, target.driver().clusterSize());
        if (offset % cluster == 0 && ioBytes % cluster == 0) {
          method = zero ? "zero" : "discard";
        }
      }
      ioBytes = Math.min(ioBytes, bdevLength - offset);
      ops.add(new long[] {offset, ioBytes, List.of(METHODS).indexOf(method), 0});
      latency = Math.max(latency, (method.equals("copy") ? 2 : 1) * ioLatencyNs(ioBytes));
      long acct = !method.equals("copy") && target.discardUnmap() ? 0 : ioBytes;
      offset += ioBytes;
      nbChunks -= (ioBytes + granularity - 1) / granularity;
      delay = rateLimitDelay(acct);
    }
    delayOut[0] = delay;
    return latency;
  }

  /** Reused by a failed read's retry (on-source-error ignore retries forever). */
  private final SpareReadBuffer readBuffer = new SpareReadBuffer();

  /** The I/O of one operation (mirror_co_read / _zero / _discard) and its completion. */
  private void perform(long offset, long bytes, String method) {
    try {
      switch (method) {
        case "zero" -> BlockIo.blkWriteZeroes(target, offset, bytes,
            unmap ? RequestFlags.MAY_UNMAP : 0);
        case "discard" -> BlockIo.discard(target, offset, bytes);
        default -> {
          byte[] buf;
          try {
            buf = readBuffer.read(source, offset, (int) bytes);
          } catch (HostIoException e) {
            opFailed(offset, bytes, true, e.errno());
            return;
          }
          BlockIo.write(target, offset, buf, 0, (int) bytes, 0);
        }
      }
    } catch (HostIoException e) {
      opFailed(offset, bytes, false, e.errno());
      return;
    }
    workDone(bytes);
  }


  /** s->synced of QEMU before 6.2: set at READY, cleared by an error under the variant. */
  private boolean synced;

  private void opFailed(long offset, long bytes, boolean isRead, int errno) {
    if (manager.layer().variant(Variant.MIRROR_UNSYNCED_ON_ERROR)) {
      synced = false;
    }
    bitmap.setDirty(offset, bytes);
    BlockErrorAction action = manager.errorAction(this,
        isRead ? onSourceError : onTargetError, isRead, errno);
    if (action == BlockErrorAction.REPORT && opRet >= 0) {
      opRet = -errno;
    }
  }

  // ---------------------------------------------------------------- guest writes

  /**
   * active_write_prepare's wait: a write-blocking guest write waits for the job's operations in
   * flight on its range, which were issued before it; here they complete now.
   */
  public void beforeActiveWrite(long offset, long length) {
    if (!writeBlocking || opRet < 0 || isCancelled() || prepared || !started) {
      return;
    }
    for (long[] op : inFlightOps) {
      if (op[0] < offset + length && offset < op[0] + op[1]) {
        performOnce(op);
      }
    }
  }


  /** do_sync_target_write for a guest write that reached the source (write-blocking mode). */
  public void activeWrite(long offset, long length, byte[] buf, int pos, boolean zero)
      throws HostIoException {
    if (!writeBlocking || opRet < 0 || isCancelled() || prepared || !started) {
      return;
    }
    long start = offset;
    long bytes = length;
    if (manager.layer().variant(Variant.ACTIVE_MIRROR_UNALIGNED_RESET)) {
      // Before 4.1: the whole request is written and its range reset, which hbitmap_reset
      // rounded out to whole granules, clean or not.
      long from = offset / granularity * granularity;
      long to = Math.min((offset + length + granularity - 1) / granularity * granularity,
          bdevLength);
      bitmap.resetDirty(from, to - from);
    } else if (start % granularity != 0 && bitmap.hbitmap().get(start)) {
      long skip = (start + granularity - 1) / granularity * granularity - start;
      if (bytes <= skip) {
        return;
      }
      start += skip;
      bytes -= skip;
    }
    if (!manager.layer().variant(Variant.ACTIVE_MIRROR_UNALIGNED_RESET)
        && (start + bytes) % granularity != 0 && bitmap.hbitmap().get(start + bytes - 1)) {
      long tail = (start + bytes) % granularity;
      if (bytes <= tail) {
        return;
      }
      bytes -= tail;
    }
    long alignedStart = (start + granularity - 1) / granularity * granularity;
    long alignedEnd = (start + bytes) / granularity * granularity;
    if (alignedStart < alignedEnd
        && !manager.layer().variant(Variant.ACTIVE_MIRROR_UNALIGNED_RESET)) {
      bitmap.resetDirty(alignedStart, alignedEnd - alignedStart);
    }
    progressTotal += bytes;
    try {
      if (zero) {
        BlockIo.writeZeroes(target, start, bytes, 0);
      } else {
        BlockIo.write(target, start, buf, pos + (int) (start - offset), (int) bytes, 0);
      }
      workDone(bytes);
    } catch (HostIoException e) {
      long from = start / granularity * granularity;
      long to = Math.min((start + bytes + granularity - 1) / granularity * granularity,
          bdevLength);
      bitmap.setDirty(from, to - from);
      if (manager.layer().variant(Variant.MIRROR_UNSYNCED_ON_ERROR)) {
        synced = false;
      }
      if (manager.errorAction(this, onTargetError, false, e.errno()) == BlockErrorAction.REPORT
          && opRet == 0) {
        opRet = -e.errno();
      }
    }
  }

  // ---------------------------------------------------------------- complete, cancel, end

  @Override
  protected boolean hasComplete() {
    return true;
  }


  /** mirror_complete. */
  @Override
  protected void complete() throws QmpError {
    if (!status.ready()) {
      throw QmpError.generic("The active block job '" + id + "' cannot be completed");
    }
    if (replaces != null) {
      toReplace = manager.layer().graph().find(replaces);
      if (toReplace == null) {
        throw QmpError.generic("Node name '" + replaces + "' not found");
      }
    }
    shouldComplete = true;
    if (!paused || manager.layer().variant(Variant.COMPLETE_ENTERS_PAUSED_JOB)) {
      enter();
    }
  }

  /** mirror_cancel / commit_active_cancel: before READY every cancel is forced. */
  @Override
  protected boolean cancelHook(boolean force) {
    return force || !status.ready();
  }

  @Override
  protected int prepare() {
    return exitCommon();
  }

  @Override
  protected void abort() {
    exitCommon();
  }

  /** mirror_exit_common: drops the job bitmap and the filter; pivots on a completed job. */
  private int exitCommon() {
    if (prepared) {
      return 0;
    }
    prepared = true;
    detachBackends();
    boolean aborted = ret < 0;
    source.bitmaps().remove(bitmap);
    if (syncBitmap != null) {
      // proposal:incremental-mirror (on-success): only a completed job clears the user's bitmap,
      // keeping what its own bitmap still holds; a failure or cancel leaves it as it is.
      syncBitmap.setBusy(false);
      if (shouldComplete && !aborted) {
        syncBitmap.clear();
        syncBitmap.mergeFrom(bitmap, false);
      }
    }
    int result = 0;
    if (!aborted && backingMode == SOURCE_BACKING_CHAIN) {
      BlockNode backing = noneMode ? source : base;
      BlockNode unfilteredTarget = Chains.skipFilters(target);
      if (Chains.below(unfilteredTarget) != backing) {
        Chains.setBacking(unfilteredTarget, backing);
      }
    } else if (!aborted && backingMode == OPEN_BACKING_CHAIN) {
      result = openBackingFromHeader(Chains.skipFilters(target));
    }
    BlockNode replaced = null;
    if (shouldComplete && !aborted) {
      replaced = toReplace != null ? toReplace : source;
      if (replaced.readOnly() != target.readOnly()) {
        // mirror_exit_common: bdrv_reopen_set_read_only(target_bs, ro, NULL), errors ignored.
        reopenQuietly(target, replaced.readOnly());
      }
      JobFilterDriver.moveParents(replaced, target);
      target.users().addAll(replaced.users());
      replaced.users().clear();
    }
    unblockAll();
    if (mirrorTop != null) {
      ((JobFilterDriver) mirrorTop.driver()).setWriteListener(null);
      JobFilterDriver.drop(manager.layer(), mirrorTop);
    }
    // mirror_exit_common ends with bdrv_unref(src): a replaced node that only its parents held
    // (an overlay blockdev-snapshot-sync made, under an export) is closed once they moved to the
    // target, and so are the children only it held (docs/qemu-behaviour.md §24.11).
    if (replaced != null && replaced != target
        && manager.layer().graph().find(replaced.name()) == replaced
        && replaced.parents().isEmpty() && replaced.users().isEmpty()
        && replaced.jobChildren().isEmpty()
        && !manager.layer().graph().isMonitorOwned(replaced)) {
      manager.layer().release(replaced);
    }
    if (ownsTarget && target.parents().isEmpty() && target.users().isEmpty()) {
      manager.layer().release(target);
    }
    return result;
  }

  /** bdrv_open_backing_file: opens the backing file the target's header names, read-only. */
  private int openBackingFromHeader(BlockNode node) {
    if (!(node.driver() instanceof io.blocksim.model.driver.Qcow2Driver qcow2)
        || qcow2.image().backingFileName() == null || node.backing() != null) {
      return 0;
    }
    String format = qcow2.image().backingFormat() != null ? qcow2.image().backingFormat()
        : "raw";
    java.util.Map<String, Object> options = io.blocksim.model.qapi.Json.object("driver", format,
        "read-only", true, "file", io.blocksim.model.qapi.Json.object("driver", "file",
            "filename", qcow2.image().backingFileName()));
    try {
      BlockNode backing = manager.layer().open(new io.blocksim.model.qapi.Args(options, "backing"),
          java.util.Map.of(), new ArrayList<>());  // an inline child: discard=unmap
      Chains.setBacking(node, backing);
      return 0;
    } catch (QmpError e) {
      return -HostIoException.EINVAL;
    }
  }

  @Override
  protected void clean() {
    exitCommon();
  }
}
