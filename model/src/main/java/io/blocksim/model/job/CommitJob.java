package io.blocksim.model.job;

import io.blocksim.model.driver.filter.JobFilterDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeFilenames;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.List;

/**
 * QEMU 7.2's intermediate block-commit job (block/commit.c): a commit_top filter goes above the
 * top node; the job walks the disk in 512 KiB steps and, for every range a layer from top down to
 * the base overlay allocates, reads the top's view and writes it into the base with an ordinary
 * write, so the base's enabled bitmaps are dirtied. At the end the layers from top down to the
 * base overlay are dropped from the chain (bdrv_drop_intermediate): the top's overlay gets the
 * base as backing file, in the graph and in its image header.
 *
 * <p>Fault model: the read (source) or the base write (target) may fail; on-error decides for
 * both: report ends the job, ignore and stop retry the same chunk (stop after job-resume).
 */
public final class CommitJob extends ChunkedJob {
  static final long BUFFER = 512 * 1024;

  final BlockNode top;
  final BlockNode base;
  final BlockNode baseOverlay;
  final String backingFileStr;
  final ErrorPolicy onError;
  final boolean baseWasReadOnly;
  private BlockNode filter;
  private long len;
  private long offset;
  private long delayNs;
  private boolean filterRemoved;

  public CommitJob(JobManager manager, String id, BlockNode top, BlockNode base, BlockNode baseOverlay,
      String backingFileStr, ErrorPolicy onError, boolean baseWasReadOnly) {
    super(manager, id);
    this.top = top;
    this.base = base;
    this.baseOverlay = baseOverlay;
    this.backingFileStr = backingFileStr;
    this.onError = onError;
    this.baseWasReadOnly = baseWasReadOnly;
  }
  /** Gives the job its filter node once the job exists (QEMU sets it after block_job_create). */
  public void attachFilter(BlockNode filter) {
    this.filter = filter;
  }


  @Override
  public String type() {
    return "commit";
  }

  @Override
  protected List<BlockNode> heldNodes() {
    List<BlockNode> held = new ArrayList<>();
    if (filter != null && !filterRemoved) {
      held.add(filter);
    }
    held.add(top);
    held.add(base);
    return held;
  }

  @Override
  protected void run() {
    len = top.length();
    setRemaining(len);
    if (base.length() < len) {
      // commit_run: blk_truncate(s->base, len); the base's bitmaps grow with it.
      try {
        BlockIo.truncate(base, len);
      } catch (HostIoException e) {
        fail(-e.errno(), HostIoException.strerror(e.errno()));
        return;
      }
    }
    loop();
  }

  private void loop() {
    if (offset >= len) {
      runReturned(0);
      return;
    }
    sleepNs(delayNs, this::iteration);
  }

  private void iteration() {
    if (isCancelled()) {
      runReturned(0);
      return;
    }
    long n;
    boolean copy;
    int ret = 0;
    try {
      BlockIo.Run run = BlockIo.allocatedAbove(top, baseOverlay, offset,
          Math.min(BUFFER, len - offset));
      n = run.length();
      copy = run.allocated();
    } catch (HostIoException e) {
      n = 0;
      copy = false;
      ret = -e.errno();
    }
    long chunk = n;
    if (!copy || ret < 0) {
      afterChunk(chunk, false, ret, true);
      return;
    }
    // The read from the top's view, then the write into the base, each when its I/O completes.
    long at = offset;
    byte[] buf = new byte[(int) n];
    afterIo(ioLatencyNs(n), () -> {
      try {
        BlockIo.read(top, at, buf, 0, (int) chunk);
      } catch (HostIoException e) {
        afterChunk(chunk, true, -e.errno(), true);
        return;
      }
      afterIo(ioLatencyNs(chunk), () -> {
        try {
          BlockIo.write(base, at, buf, 0, (int) chunk, 0);
        } catch (HostIoException e) {
          afterChunk(chunk, true, -e.errno(), false);
          return;
        }
        afterChunk(chunk, true, 0, true);
      });
    });
  }

  private void afterChunk(long n, boolean copy, int ret, boolean errorInSource) {
    if (ret < 0) {
      BlockErrorAction action = manager.errorAction(this, onError, errorInSource, -ret);
      if (action == BlockErrorAction.REPORT) {
        runReturned(ret);
        return;
      }
      delayNs = 0;
      loop();
      return;
    }
    workDone(n);
    delayNs = copy ? rateLimitDelay(n) : 0;
    offset += n;
    loop();
  }

  // ---------------------------------------------------------------- end

  /** commit_prepare: bdrv_drop_intermediate(commit_top, base, backing_file_str). */
  @Override
  protected int prepare() {
    detachBackends();
    List<BlockNode> dropped = new ArrayList<>();
    for (BlockNode n = top; n != null && n != base; n = Chains.below(n)) {
      dropped.add(n);
    }
    String backingFile = backingFileStr != null ? backingFileStr : NodeFilenames.filename(base);
    int ret = 0;
    for (BlockNode parent : new ArrayList<>(filter.parents())) {
      if (parent.backing() == filter) {
        Chains.setBacking(parent, base);
        int r = Chains.changeBackingFile(manager.layer(), parent, backingFile,
            base.driver().name(), backingFileStr == null);
        if (ret == 0) {
          ret = r;
        }
      }
    }
    removeFilter();
    Chains.releaseUnreferenced(manager.layer(), dropped);
    return ret;
  }

  /**
   * commit_abort: the filter goes, the top is where it was. Only here are the blockers removed
   * before the job is freed; after a successful commit they stay until job-dismiss.
   */
  @Override
  protected void abort() {
    detachBackends();
    unblockAll();
    removeFilter();
  }

  private void removeFilter() {
    if (filter != null && !filterRemoved) {
      filterRemoved = true;
      if (filter.primaryChild() != null) {
        JobFilterDriver.drop(manager.layer(), filter);
      }
    }
  }

  @Override
  protected void clean() {
    detachBackends();
    removeFilter();
    if (baseWasReadOnly) {
      reopenQuietly(base, true);
    }
  }
}
