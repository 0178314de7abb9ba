package io.blocksim.model.job;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.filter.CopyOnReadDriver;
import io.blocksim.model.driver.filter.JobFilterDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeFilenames;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU 7.2's block-stream job (block/stream.c): a copy-on-read filter above the top node, and a
 * walk over the disk in 512 KiB steps that prefetches, through that filter, every range the top
 * does not allocate but a layer down to the base overlay does. At the end the top's backing
 * becomes the base (or nothing) and the header's backing file name is rewritten.
 *
 * <p>Fault model: a read or the population write may fail. Every error counts as a read error
 * under on-error: report ends the job, ignore skips the chunk but the job still ends with that
 * error (so the backing file is kept), stop pauses and retries the same chunk.
 */
public final class StreamJob extends ChunkedJob {
  static final long CHUNK = 512 * 1024;

  final BlockNode target;
  final BlockNode baseOverlay;
  final BlockNode aboveBase;
  final String backingFileStr;
  final ErrorPolicy onError;
  private BlockNode filter;
  /** Whether the top was read-only before the job (stream_clean reopens it so). */
  final boolean readOnlyAfter;
  private long len;
  private long offset;
  private long delayNs;
  private int firstError;
  private boolean filterDropped;

  public StreamJob(JobManager manager, String id, BlockNode target, BlockNode baseOverlay,
      BlockNode aboveBase, String backingFileStr, ErrorPolicy onError, boolean readOnlyAfter) {
    super(manager, id);
    this.readOnlyAfter = readOnlyAfter;
    this.target = target;
    this.baseOverlay = baseOverlay;
    this.aboveBase = aboveBase;
    this.backingFileStr = backingFileStr;
    this.onError = onError;
  }

  /** Gives the job its filter node once the job exists (QEMU sets it after block_job_create). */
  public void attachFilter(BlockNode filter) {
    this.filter = filter;
  }

  @Override
  public String type() {
    return "stream";
  }

  @Override
  protected List<BlockNode> heldNodes() {
    List<BlockNode> held = new ArrayList<>();
    if (filter != null && !filterDropped) {
      held.add(filter);
    }
    held.add(target);
    return held;
  }

  @Override
  protected void run() {
    BlockNode unfiltered = Chains.skipFilters(target);
    if (unfiltered == baseOverlay) {
      runReturned(0);
      return;
    }
    len = target.length();
    setRemaining(len);
    loop();
  }

  private void loop() {
    if (offset >= len) {
      runReturned(firstError);
      return;
    }
    sleepNs(delayNs, this::iteration);
  }

  private void iteration() {
    if (isCancelled()) {
      runReturned(firstError);
      return;
    }
    BlockNode unfiltered = Chains.skipFilters(target);
    long n;
    boolean copy = false;
    int ret = 0;
    try {
      BlockStatus status = BlockIo.blockStatus(unfiltered, offset, Math.min(CHUNK, len - offset));
      n = Math.min(status.lengthBytes(), len - offset);
      if (!status.allocated()) {
        BlockIo.Run run = BlockIo.allocatedAbove(unfiltered.backing(), baseOverlay, offset, n);
        n = run.length();
        copy = run.allocated();
      }
    } catch (HostIoException e) {
      n = 0;
      ret = -e.errno();
    }
    long chunk = n;
    if (!copy || ret < 0) {
      afterChunk(chunk, false, ret);
      return;
    }
    // stream_populate: a prefetch read through the filter, whose copy-on-read writes the data
    // into the top; the job's coroutine waits for it, so the data lands when the I/O completes.
    long at = offset;
    afterIo(2 * ioLatencyNs(n), () -> {
      int result = 0;
      try {
        prefetch((CopyOnReadDriver) filter.driver(), at, chunk);
      } catch (HostIoException e) {
        result = -e.errno();
      }
      afterChunk(chunk, true, result);
    });
  }

  private void prefetch(CopyOnReadDriver cor, long at, long n) throws HostIoException {
    for (long done = 0; done < n; ) {
      int piece = (int) Math.min(n - done, CHUNK);
      cor.read(filter, at + done, new byte[piece], 0, piece);
      done += piece;
    }
  }

  private void afterChunk(long n, boolean copy, int ret) {
    long step = n;
    if (ret < 0) {
      BlockErrorAction action = manager.errorAction(this, onError, true, -ret);
      if (action == BlockErrorAction.STOP) {
        delayNs = 0;
        loop();
        return;
      }
      if (firstError == 0) {
        firstError = ret;
      }
      if (action == BlockErrorAction.REPORT) {
        runReturned(firstError);
        return;
      }
    }
    workDone(step);
    delayNs = copy ? rateLimitDelay(step) : 0;
    offset += step;
    loop();
  }

  // ---------------------------------------------------------------- end

  private void dropFilter() {
    if (filter != null && !filterDropped) {
      filterDropped = true;
      detachBackends();
      JobFilterDriver.drop(manager.layer(), filter);
    }
  }

  /** stream_prepare: drop the filter, then rewrite the chain below the top. */
  @Override
  protected int prepare() {
    dropFilter();
    BlockNode unfiltered = Chains.skipFilters(target);
    BlockNode base = Chains.below(aboveBase);
    BlockNode unfilteredBase = Chains.skipFilters(base);
    if (Chains.below(unfiltered) == null) {
      return 0;
    }
    List<BlockNode> dropped = new ArrayList<>();
    for (BlockNode n = unfiltered.backing(); n != null && n != base; n = Chains.below(n)) {
      dropped.add(n);
    }
    String baseId = null;
    String baseFmt = null;
    if (unfilteredBase != null) {
      baseId = backingFileStr != null ? backingFileStr : NodeFilenames.filename(unfilteredBase);
      baseFmt = unfilteredBase.driver().name();
    }
    Chains.setBacking(unfiltered, base);
    int ret = Chains.changeBackingFile(manager.layer(), unfiltered, baseId, baseFmt,
        backingFileStr == null);
    Chains.releaseUnreferenced(manager.layer(), dropped);
    return ret;
  }

  @Override
  protected void clean() {
    dropFilter();
    if (readOnlyAfter) {
      reopenQuietly(target, true);
    }
  }
}
