package io.blocksim.model.driver.qcow2;

import io.blocksim.model.driver.qcow2.Qcow2ClusterAllocator.L2Meta;
import io.blocksim.model.port.HostIoException;
import java.util.LinkedList;

/**
 * One host run of a multi-run guest write: qcow2_co_pwritev_task (block/qcow2.c) as a
 * coroutine that {@link Qcow2WriteScheduler} resumes. Each {@link #step} runs to the next
 * yield: after the zero-fill of a new cluster (handle_alloc_space), after the data write, or
 * when {@code s->lock} is taken by another coroutine.
 */
final class Qcow2WriteTask extends Qcow2WriteScheduler.Coroutine {
  private final Qcow2Writer writer;
  private final Qcow2WriteScheduler scheduler;
  private final long hostOffset;
  private final long offset;
  private final int bytes;
  private final byte[] src;
  private final int srcOffset;
  private final LinkedList<L2Meta> metas;
  private int nextMeta;
  private boolean dataWritten;
  private boolean failed;

  Qcow2WriteTask(Qcow2Writer writer, Qcow2WriteScheduler scheduler, long hostOffset,
      long offset, int bytes, byte[] src, int srcOffset, LinkedList<L2Meta> metas) {
    this.writer = writer;
    this.scheduler = scheduler;
    this.hostOffset = hostOffset;
    this.offset = offset;
    this.bytes = bytes;
    this.src = src;
    this.srcOffset = srcOffset;
    this.metas = metas;
  }

  /** Runs until the next yield; returns true when the task has finished. */
  boolean step() {
    Qcow2WriteScheduler s = scheduler;
    if (failed) {
      return abortUnderLock(s);
    }
    try {
      while (nextMeta < metas.size()) {
        L2Meta m = metas.get(nextMeta);
        if (!m.hasCow()) {
          nextMeta++;
          continue;
        }
        if (!s.tryLock(this)) {
          return false;
        }
        boolean zero;
        try {
          zero = writer.isZeroCow(m);
        } finally {
          s.unlock(this);
        }
        nextMeta++;
        if (zero) {
          writer.zeroFillCluster(m);
          s.taskSubmitted(this);
          return false;
        }
      }
      if (!dataWritten) {
        dataWritten = true;
        if (!Qcow2Writer.mergeCow(offset, bytes, src, srcOffset, metas)) {
          writer.writeData(hostOffset, src, srcOffset, bytes);
          s.taskSubmitted(this);
          return false;
        }
      }
      if (!s.tryLock(this)) {
        return false;
      }
      try {
        writer.linkAll(metas);
      } finally {
        s.unlock(this);
      }
      return true;
    } catch (HostIoException e) {
      s.recordFailure(e);
      failed = true;
      return abortUnderLock(s);
    }
  }

  /**
   * Frees the run's allocations after a failure, under s->lock as QEMU's out_unlocked path
   * does: a task whose data write failed waits for the lock before touching metadata.
   */
  private boolean abortUnderLock(Qcow2WriteScheduler s) {
    if (!s.tryLock(this)) {
      return false;
    }
    try {
      writer.abort(metas);
    } finally {
      s.unlock(this);
    }
    return true;
  }

  @Override
  public String toString() {
    return "task at guest offset " + offset;
  }
}
