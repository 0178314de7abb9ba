package io.blocksim.model.driver.blockcopy;

import io.blocksim.model.semantics.Variant;
import io.blocksim.model.driver.blockcopy.ProgressMeter;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.bitmap.HBitmap;
import io.blocksim.model.check.Check;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.SpareReadBuffer;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.util.RateLimit;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * QEMU 7.2's block-copy (block/block-copy.c): copies the clusters that are dirty in the copy
 * bitmap from source to target, for a backup job (asynchronous calls, rate-limited, up to
 * max-workers tasks in flight) and for copy-before-write (synchronous, not rate-limited).
 *
 * <p>Fault model: a source read or target write may fail. The failing task's clusters are set
 * dirty again, the first error of the call is recorded with whether it was a read, and no new
 * task of that call starts; tasks in flight still finish. What must hold: a cluster is either
 * dirty in the copy bitmap, claimed by exactly one task in flight, or copied.
 *
 * <p>A task claims its clusters (clears them) when created, then does its I/O at once and
 * completes after the host latency of that I/O. A copy-before-write that overlaps a task in
 * flight completes that task early, which is what QEMU's wait for the conflicting request
 * amounts to at the data level. Unlike QEMU, a task is created only when a worker is free.
 */
public final class BlockCopy {
  static final long CLUSTER_SIZE_DEFAULT = 1 << 16;
  static final long MAX_BUFFER = 1 << 20;
  public static final int MAX_WORKERS = 64;
  private static final int EAGAIN = 11;
  private static final int ECANCELED = HostIoException.ECANCELED;

  private final BlockLayer layer;
  private final BlockNode source;
  private final BlockNode target;
  private final long clusterSize;
  private final long len;
  private final DirtyBitmap copyBitmap;
  private final List<Task> tasks = new ArrayList<>();
  private final RateLimit rateLimit = new RateLimit();
  private ProgressMeter progress;
  private long inFlightBytes;
  private boolean skipUnallocated;
  private boolean compress;

  /** One claimed range being copied (BlockCopyTask). */
  final class Task {
    final Call call;
    final long offset;
    long bytes;
    boolean zero;
    int result;
    boolean errorIsRead;
    boolean ioDone;
    boolean ended;
    boolean completed;
    Runnable completion;
    final List<Runnable> waiters = new ArrayList<>();

    Task(Call call, long offset, long bytes) {
      this.call = call;
      this.offset = offset;
      this.bytes = bytes;
    }

    long end() {
      return offset + bytes;
    }
  }

  /** One block-copy call over a range (BlockCopyCallState). */
  public final class Call {
    final long offset;
    final long bytes;
    final int maxWorkers;
    final long maxChunk;
    final boolean ignoreRatelimit;
    final Runnable callback;
    boolean finished;
    public boolean cancelled;
    public int ret;
    public boolean errorIsRead;
    // State of the current block_copy_dirty_clusters pass.
    private long cursor;
    private long remaining;
    private boolean foundDirty;
    private int busyTasks;
    private int poolStatus;
    private boolean pooled;
    private Runnable slotWaiter;
    private long sleepGeneration;
    private boolean sleeping;
    private IntConsumer passDone;
    /** The test's gate (see {@link CopyGate}), or null: always null outside such a test. */
    private CopyGate gate;
    private final Runnable gatedLoop = this::dirtyClustersLoop;

    Call(long offset, long bytes, int maxWorkers, long maxChunk, boolean ignoreRatelimit,
        Runnable callback) {
      this.offset = offset;
      this.bytes = bytes;
      this.maxWorkers = maxWorkers;
      this.maxChunk = maxChunk;
      this.ignoreRatelimit = ignoreRatelimit;
      this.callback = callback;
    }

    public boolean finished() {
      return finished;
    }

    public boolean succeeded() {
      return finished && !cancelled && ret == 0;
    }

    boolean failed() {
      return finished && !cancelled && ret < 0;
    }

    /** block_copy_call_cancel: stops starting tasks; the call finishes when they are done. */
    public void cancel() {
      cancelled = true;
      kick();
      if (gate != null && gate.unpark(gatedLoop)) {
        dirtyClustersLoop();
      }
    }

    /**
     * block_copy_kick: ends a rate-limit sleep at once. QEMU defers the wake-up to the next
     * coroutine switch; no caller here runs call code after kicking, so waking now is the same.
     */
    public void kick() {
      if (!sleeping) {
        return;
      }
      wakeFromSleep(sleepGeneration);
    }

    private void wakeFromSleep(long generation) {
      if (sleeping && sleepGeneration == generation) {
        sleeping = false;
        dirtyClustersLoop();
      }
    }

    // -------------------------------------------------------------- block_copy_common

    private void common() {
      dirtyClusters(this::afterPass);
    }

    private void afterPass(int result) {
      if (result == 0 && !cancelled) {
        Task conflict = firstTaskIn(offset, bytes);
        if (conflict != null) {
          conflict.waiters.add(() -> afterPass(1));
          return;
        }
        result = copyBitmap.hbitmap().nextDirty(offset, bytes) >= 0 ? 1 : 0;
      }
      if (result > 0 && !cancelled) {
        common();
        return;
      }
      finished = true;
      if (callback != null) {
        callback.run();
      }
    }

    // -------------------------------------------------------------- block_copy_dirty_clusters

    private void dirtyClusters(IntConsumer done) {
      cursor = offset;
      remaining = bytes;
      foundDirty = false;
      busyTasks = 0;
      poolStatus = 0;
      pooled = false;
      passDone = done;
      dirtyClustersLoop();
    }

    private void dirtyClustersLoop() {
      long end = offset + bytes;
      while (remaining > 0 && poolStatus == 0 && !cancelled) {
        if (gate != null && !gate.isOpen()) {
          gatedStep();
          return;
        }
        Task task = createTask(this, cursor, remaining);
        if (task == null) {
          break;
        }
        foundDirty = true;
        prepareTask(task);
        if (task.result == 1) {
          // Marked unallocated by prepareTask: the clusters stay clean and are not copied.
          endTask(task, 0);
          cursor = task.end();
          remaining = end - cursor;
          continue;
        }
        if (!ignoreRatelimit) {
          long delayNs = rateLimit.calculateDelay(layer.scheduler().nowNs(), 0);
          if (delayNs > 0) {
            endTask(task, -EAGAIN);
            sleeping = true;
            long generation = ++sleepGeneration;
            layer.scheduler().schedule(delayNs, () -> wakeFromSleep(generation));
            return;
          }
        }
        rateLimit.calculateDelay(layer.scheduler().nowNs(), task.bytes);
        cursor = task.end();
        remaining = end - cursor;
        if (!pooled && remaining > 0) {
          pooled = true;
        }
        if (!pooled) {
          // QEMU runs a lone task directly in the call coroutine and stops on its failure.
          startLoneTask(task);
          return;
        }
        if (busyTasks >= maxWorkers) {
          // As in QEMU, the task is claimed before it waits for a free worker
          // (aio_task_pool_wait_slot), so a cancel still lets it run.
          slotWaiter = () -> startClaimed(task);
          return;
        }
        startPooled(task);
      }
      finishPass();
    }

    /**
     * With a closed {@link CopyGate}: waits for a grant, then copies exactly the granted cluster
     * as a lone task, and comes back here when it is done (or stops on its error).
     */
    private void gatedStep() {
      long chosen = gate.take();
      if (chosen < 0) {
        gate.park(gatedLoop);
        return;
      }
      Task task = createTask(this, chosen, clusterSize);
      Check.that(task != null && task.offset == chosen,
          "copy gate: the cluster at %d is not dirty in the copy bitmap", chosen);
      foundDirty = true;
      prepareTask(task);
      if (task.result == 1) {
        endTask(task, 0);
        dirtyClustersLoop();
        return;
      }
      rateLimit.calculateDelay(layer.scheduler().nowNs(), task.bytes);
      startLoneTask(task);
    }

    /** Runs one task in the call itself; the loop goes on when it is done, or stops on error. */
    private void startLoneTask(Task task) {
      busyTasks++;
      startTask(task, () -> {
        busyTasks--;
        if (task.result < 0) {
          poolStatus = task.result;
        }
        if (poolStatus < 0) {
          finishPass();
        } else {
          dirtyClustersLoop();
        }
      });
    }

    /** The end of block_copy_task_run for a task that waited for a worker. */
    private void startClaimed(Task task) {
      if (poolStatus < 0) {
        endTask(task, -ECANCELED);
        finishPass();
        return;
      }
      startPooled(task);
      dirtyClustersLoop();
    }

    private void startPooled(Task task) {
      if (task.ended) {
        // A copy-before-write already did this task's work while it waited.
        return;
      }
      busyTasks++;
      startTask(task, () -> {
        busyTasks--;
        if (task.result < 0 && poolStatus == 0) {
          poolStatus = task.result;
        }
        Runnable waiter = slotWaiter;
        slotWaiter = null;
        if (waiter != null) {
          waiter.run();
        }
      });
    }

    /** aio_task_pool_wait_all, then the pass's result. */
    private void finishPass() {
      if (busyTasks > 0) {
        slotWaiter = this::finishPass;
        return;
      }
      IntConsumer done = passDone;
      passDone = null;
      done.accept(poolStatus < 0 ? poolStatus : foundDirty ? 1 : 0);
    }
  }

  public BlockCopy(BlockLayer layer, BlockNode source, BlockNode target) {
    this(layer, source, target, null);
  }

  /**
   * block_copy_state_new: the copy bitmap starts as {@code initial}'s dirty granules (merged,
   * rounded outward to clusters) or, without one, all dirty. Throws IllegalArgumentException
   * with bdrv_merge_dirty_bitmap's error when {@code initial} cannot be merged.
   */
  public BlockCopy(BlockLayer layer, BlockNode source, BlockNode target, DirtyBitmap initial) {
    this.layer = layer;
    this.source = source;
    this.target = target;
    this.clusterSize = clusterSizeFor(target);
    this.len = source.length();
    this.copyBitmap = new DirtyBitmap(null, len, clusterSize);
    copyBitmap.setDisabled(true);
    if (initial == null) {
      copyBitmap.setDirty(0, len);
    } else {
      String refusal = copyBitmap.checkMergeFrom(initial);
      if (refusal != null) {
        throw new IllegalArgumentException(refusal);
      }
      copyBitmap.mergeFrom(initial, false);
    }
    // QEMU 7.2 creates the copy bitmap on the source node (later versions: on the filter).
    source.bitmaps().add(0, copyBitmap);
  }

  /** Returns the block-copy cluster size: max(64 KiB, the target's cluster size). */
  static long clusterSizeFor(BlockNode target) {
    return Math.max(CLUSTER_SIZE_DEFAULT, target.driver().clusterSize());
  }

  /** Releases the copy bitmap (block_copy_state_free). */
  public void free() {
    source.bitmaps().remove(copyBitmap);
  }

  public long clusterSize() {
    return clusterSize;
  }

  /** block_copy_reset: the range is no longer to be copied. */
  public void reset(long offset, long bytes) {
    resetCopyBitmap(offset, bytes);
    updateRemaining();
  }

  public DirtyBitmap copyBitmap() {
    return copyBitmap;
  }

  /**
   * Returns whether a task still in flight covers part of {@code [offset, offset + bytes)}. Its
   * copy bits are already clear, but it may fail and set them again, so an observer that asks
   * "which clusters are still to be copied" counts it as not copied yet (trace validation).
   */
  public boolean inFlight(long offset, long bytes) {
    return firstTaskIn(offset, bytes) != null;
  }

  public void setProgress(ProgressMeter job) {
    this.progress = job;
  }

  public void setSpeed(long bytesPerSecond) {
    rateLimit.setSpeed(bytesPerSecond, RateLimit.BLOCK_COPY_SLICE_NS);
  }

  public void setSkipUnallocated(boolean skip) {
    skipUnallocated = skip;
  }

  public void setCompress(boolean compress) {
    this.compress = compress;
  }

  /**
   * Starts an asynchronous call (block_copy_async); a non-null {@code gate} holds the call's
   * copies (a test seam, see CopyGate).
   */
  public Call startAsync(long offset, long bytes, int maxWorkers, long maxChunk,
      Runnable callback, CopyGate gate) {
    Call call = new Call(offset, bytes, maxWorkers, maxChunk, false, callback);
    call.gate = gate;
    call.common();
    return call;
  }

  /**
   * Copies the still-dirty clusters of a guest write's range before the write passes down
   * (cbw_do_copy_before_write's block_copy call): synchronous and not rate-limited. Returns 0 or
   * a negative errno.
   */
  public int copyBeforeWrite(long offset, long bytes) {
    long start = offset / clusterSize * clusterSize;
    long end = (offset + bytes + clusterSize - 1) / clusterSize * clusterSize;
    Call call = new Call(start, end - start, MAX_WORKERS, 0, true, null);
    while (true) {
      int result = copySynchronously(call);
      if (result == 0) {
        Task conflict = firstTaskIn(start, end - start);
        if (conflict != null) {
          // QEMU waits for the conflicting task; at the data level that is finishing it now.
          if (!conflict.ioDone) {
            doTaskIo(conflict);
            conflict.ioDone = true;
          }
          finishTaskData(conflict);
          continue;
        }
        result = copyBitmap.hbitmap().nextDirty(start, end - start) >= 0 ? 1 : 0;
      }
      if (result <= 0) {
        return call.ret;
      }
    }
  }

  /** One pass of block_copy_dirty_clusters for a synchronous call; returns -errno, 0 or 1. */
  private int copySynchronously(Call call) {
    long cursor = call.offset;
    long end = call.offset + call.bytes;
    boolean found = false;
    while (cursor < end) {
      Task task = createTask(call, cursor, end - cursor);
      if (task == null) {
        break;
      }
      found = true;
      prepareTask(task);
      cursor = task.end();
      if (task.result == 1) {
        endTask(task, 0);
        continue;
      }
      doTaskIo(task);
      finishTaskData(task);
      if (task.result < 0) {
        return task.result;
      }
    }
    return found ? 1 : 0;
  }

  // ---------------------------------------------------------------- tasks

  private long chunkSize() {
    return compress ? clusterSize : Math.max(clusterSize, MAX_BUFFER);
  }


  /** The chunk from a dirty cluster on, clean clusters included, up to a task in flight. */
  private HBitmap.DirtyArea wholeChunkFrom(long start, long limit, long maxChunk) {
    long end = Math.min(Math.min(start + maxChunk, limit), (len + clusterSize - 1) / clusterSize
        * clusterSize);
    for (Task task : tasks) {
      if (task.offset >= start && task.offset < end) {
        end = task.offset;
      }
    }
    return new HBitmap.DirtyArea(start, end - start);
  }

  /** block_copy_task_create: claims the next dirty area of [offset, offset + bytes). */
  private Task createTask(Call call, long offset, long bytes) {
    long maxChunk = call.maxChunk == 0 ? chunkSize() : Math.min(chunkSize(), call.maxChunk);
    HBitmap.DirtyArea area = copyBitmap.hbitmap().nextDirtyArea(offset, offset + bytes, maxChunk);
    if (area == null) {
      return null;
    }
    if (layer.variant(Variant.BACKUP_COPIES_CLEAN_CLUSTERS)) {
      area = wholeChunkFrom(area.offsetBytes(), offset + bytes, maxChunk);
    }
    Check.that(area.offsetBytes() % clusterSize == 0, "block-copy: area at %d not aligned",
        area.offsetBytes());
    long taskBytes = (area.lengthBytes() + clusterSize - 1) / clusterSize * clusterSize;
    Check.that(firstTaskIn(area.offsetBytes(), taskBytes) == null,
        "block-copy: dirty area at %d overlaps a task in flight", area.offsetBytes());
    resetCopyBitmap(area.offsetBytes(), taskBytes);
    inFlightBytes += taskBytes;
    Task task = new Task(call, area.offsetBytes(), taskBytes);
    tasks.add(task);
    return task;
  }

  /**
   * Asks the source's block status for the task start and shrinks the task to that run
   * (block_copy_block_status). Marks zero runs; for skip-unallocated, marks unallocated runs
   * with result 1.
   */
  private void prepareTask(Task task) {
    long num;
    boolean zero = false;
    boolean allocated = true;
    try {
      BlockStatus status = skipUnallocated
          ? BlockIo.blockStatus(source, task.offset, task.bytes)
          : BlockIo.blockStatusAbove(source, task.offset, task.bytes);
      num = Math.min(status.lengthBytes(), task.bytes);
      zero = status.zero();
      allocated = status.allocated();
    } catch (HostIoException e) {
      num = -1;
    }
    if (num < clusterSize) {
      num = clusterSize;
      zero = false;
      allocated = true;
    } else if (task.offset + num == len) {
      num = (num + clusterSize - 1) / clusterSize * clusterSize;
    } else {
      num = num / clusterSize * clusterSize;
    }
    if (num < task.bytes) {
      inFlightBytes -= task.bytes - num;
      copyBitmap.setDirty(task.offset + num, Math.min(task.bytes - num, len - task.offset - num));
      task.bytes = num;
    }
    task.zero = zero;
    task.result = skipUnallocated && !allocated ? 1 : 0;
    if (task.result == 1) {
      task.zero = false;
    }
  }

  /** Does the task's I/O now and completes it after the host latency. */
  private void startTask(Task task, Runnable released) {
    long latencyNs = doTaskIo(task);
    task.ioDone = true;
    task.completion = () -> {
      if (task.completed) {
        return;
      }
      task.completed = true;
      finishTaskData(task);
      released.run();
    };
    layer.scheduler().schedule(latencyNs, task.completion);
  }

  /**
   * Completes every task in flight now, as a drained section waits for them (QEMU polls them to
   * completion in a nested event loop; here their scheduled completions become no-ops).
   */
  public void completeInFlight() {
    while (true) {
      Task pending = null;
      for (Task task : tasks) {
        if (task.completion != null && !task.completed) {
          pending = task;
          break;
        }
      }
      if (pending == null) {
        return;
      }
      pending.completion.run();
    }
  }

  /** Reused by a failed read's retry (a task that fails forever under on-source-error ignore). */
  private final SpareReadBuffer readBuffer = new SpareReadBuffer();

  /** block_copy_do_copy; returns the virtual time it takes. */
  private long doTaskIo(Task task) {
    long nbytes = Math.min(task.end(), len) - task.offset;
    long latencyNs = layer.scheduler().ioLatencyNs(nbytes);
    task.result = 0;
    try {
      if (task.zero) {
        BlockIo.writeZeroes(target, task.offset, nbytes, 0);
        return latencyNs;
      }
      byte[] buf;
      try {
        buf = readBuffer.read(source, task.offset, (int) nbytes);
      } catch (HostIoException e) {
        task.result = -e.errno();
        task.errorIsRead = true;
        return latencyNs;
      }
      latencyNs += layer.scheduler().ioLatencyNs(nbytes);
      BlockIo.write(target, task.offset, buf, 0, (int) nbytes, 0);
    } catch (HostIoException e) {
      task.result = -e.errno();
      task.errorIsRead = false;
    }
    return latencyNs;
  }


  /** The end of block_copy_task_entry: records the result, then block_copy_task_end. */
  private void finishTaskData(Task task) {
    if (task.ended) {
      return;
    }
    if (task.result < 0 && task.call.ret == 0) {
      task.call.ret = task.result;
      task.call.errorIsRead = task.errorIsRead;
    } else if ((task.result >= 0 || layer.variant(Variant.BLOCK_COPY_PROGRESS_ON_FAILURE))
        && progress != null) {
      progress.workDone(task.bytes);
    }
    endTask(task, task.result);
  }

  /** block_copy_task_end. */
  private void endTask(Task task, int result) {
    if (task.ended) {
      return;
    }
    task.ended = true;
    inFlightBytes -= task.bytes;
    if (result < 0) {
      copyBitmap.setDirty(task.offset, Math.min(task.bytes, len - task.offset));
    }
    if (progress != null) {
      progress.setRemaining(copyBitmap.countBytes() + inFlightBytes);
    }
    tasks.remove(task);
    List<Runnable> waiters = new ArrayList<>(task.waiters);
    task.waiters.clear();
    for (Runnable waiter : waiters) {
      waiter.run();
    }
  }

  private void updateRemaining() {
    if (progress != null) {
      progress.setRemaining(copyBitmap.countBytes() + inFlightBytes);
    }
  }

  private Task firstTaskIn(long offset, long bytes) {
    for (Task task : tasks) {
      if (task.offset < offset + bytes && offset < task.end()) {
        return task;
      }
    }
    return null;
  }

  private void resetCopyBitmap(long offset, long bytes) {
    copyBitmap.resetDirty(offset, Math.min(bytes, len - offset));
  }

  // ---------------------------------------------------------------- sync=top scan

  /**
   * Clears the copy bits of the unallocated clusters starting at offset
   * (block_copy_reset_unallocated); returns how many bytes were examined.
   */
  public long resetUnallocated(long offset) throws HostIoException {
    long total = 0;
    long at = offset;
    while (true) {
      BlockStatus status = BlockIo.blockStatus(source, at, len - at);
      long count = Math.min(status.lengthBytes(), len - at);
      total += count;
      if (status.allocated() || count == 0) {
        long bytes = (total + clusterSize - 1) / clusterSize * clusterSize;
        if (!status.allocated()) {
          resetCopyBitmap(offset, bytes);
          updateRemaining();
        }
        return bytes;
      }
      if (total >= clusterSize || at + count >= len) {
        long clusters = Math.max(total / clusterSize, 1);
        long bytes = clusters * clusterSize;
        resetCopyBitmap(offset, bytes);
        updateRemaining();
        return bytes;
      }
      at += count;
    }
  }
}
