package io.blocksim.model.job;

import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.util.RateLimit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What stream, commit and mirror share: a block job whose coroutine does its I/O, waits for the
 * host latency of it (busy, not at a pause point), and is rate-limited per QEMU's
 * block_job_ratelimit_get_delay (100 ms slices).
 */
public abstract class ChunkedJob extends Job {
  static final long SLICE_NS = 100_000_000L;

  private final RateLimit limit = new RateLimit();
  /** The nodes whose block-job operations this job blocks (job->blocker). */
  private final List<BlockNode> blocked = new ArrayList<>();
  private final List<BlockNode> backends = new ArrayList<>();
  /** The job's children on nodes (block_job_add_bdrv), for block_job_remove_all_bdrv. */
  private final List<Map.Entry<BlockNode, BlockNode.JobChild>> heldChildren = new ArrayList<>();
  /** The children of the job's own BlockBackends, which go with them (blk_unref). */
  private final List<Map.Entry<BlockNode, BlockNode.JobChild>> backendChildren =
      new ArrayList<>();
  /** The continuation waiting for the latency of I/O in flight, or null. */
  private Runnable inFlight;

  ChunkedJob(JobManager manager, String id) {
    super(manager, id);
  }

  @Override
  public boolean isBlockJob() {
    return true;
  }

  /** block_job_add_bdrv: other jobs and blockdev-del now find the node busy. */
  public void block(BlockNode node) {
    if (node != null && !blocked.contains(node)) {
      blocked.add(node);
      node.setBlockingJobType(type());
    }
  }

  /**
   * block_job_add_bdrv's child on node: what it shares decides whether another user (a guest
   * device, an export) may attach there ({@link io.blocksim.model.graph.Permissions}).
   */
  public void holdChild(BlockNode node, String childName, boolean sharesConsistentRead,
      boolean sharesWrite) {
    hold(heldChildren, node, new BlockNode.JobChild(type() + " job '" + id + "'", childName,
        sharesConsistentRead, sharesWrite));
  }

  /**
   * The child of one of the job's own BlockBackends (commit's base, mirror's target), which
   * QEMU names "an unnamed block device" using the node as 'root'; it goes with {@link
   * #detachBackends}.
   */
  public void holdBackendChild(BlockNode node, boolean sharesConsistentRead, boolean sharesWrite) {
    // Both take write (commit's base, mirror's target: their image locks, FileLocks).
    hold(backendChildren, node, new BlockNode.JobChild("an unnamed block device", "root",
        sharesConsistentRead, sharesWrite, true));
  }

  private static void hold(List<Map.Entry<BlockNode, BlockNode.JobChild>> list,
      BlockNode node, BlockNode.JobChild child) {
    node.jobChildren().add(child);
    list.add(Map.entry(node, child));
  }

  private static void release(List<Map.Entry<BlockNode, BlockNode.JobChild>> list) {
    for (Map.Entry<BlockNode, BlockNode.JobChild> held : list) {
      held.getKey().jobChildren().remove(held.getValue());
    }
    list.clear();
  }

  /** blk_new + blk_insert_bs: the job's own BlockBackend on node (blockdev-del: "in use"). */
  public void attachBackend(BlockNode node) {
    node.users().add(backendName());
    backends.add(node);
  }

  /** blk_unref of every BlockBackend the job holds. */
  void detachBackends() {
    for (BlockNode node : backends) {
      node.users().remove(backendName());
    }
    backends.clear();
    release(backendChildren);
  }

  private String backendName() {
    return "block job " + id;
  }

  /**
   * block_job_free removes what clean left: stream's clean never calls block_job_remove_all_bdrv,
   * so its nodes stay blocked while the job waits concluded for job-dismiss.
   */
  @Override
  protected void free() {
    unblockAll();
  }

  /** block_job_remove_all_bdrv. */
  void unblockAll() {
    for (BlockNode node : blocked) {
      if (type().equals(node.blockingJobType())) {
        node.setBlockingJobType(null);
      }
    }
    blocked.clear();
    release(heldChildren);
  }

  /** Continues with k once I/O that takes latencyNs has completed. */
  void afterIo(long latencyNs, Runnable k) {
    inFlight = k;
    manager.layer().scheduler().schedule(latencyNs, () -> {
      if (inFlight == k) {
        inFlight = null;
        k.run();
      }
    });
  }

  long ioLatencyNs(long bytes) {
    return manager.layer().scheduler().ioLatencyNs(bytes);
  }

  @Override
  protected void completeInFlight() {
    // A drain polls until no request is in flight: a chunk that reads and then writes has two
    // requests in a row, and the job reaches its pause point only after the last.
    while (inFlight != null) {
      Runnable k = inFlight;
      inFlight = null;
      k.run();
    }
  }

  @Override
  protected void setSpeedHook(long bytesPerSecond) {
    limit.setSpeed(bytesPerSecond, SLICE_NS);
  }

  /** block_job_ratelimit_get_delay. */
  long rateLimitDelay(long bytes) {
    if (speed == 0) {
      return 0;
    }
    return limit.calculateDelay(manager.layer().scheduler().nowNs(), bytes);
  }

  /** Reopens a node read-only or read-write; QEMU ignores a failure at this point too. */
  void reopenQuietly(BlockNode node, boolean readOnly) {
    try {
      Chains.reopen(manager.layer(), node, readOnly);
    } catch (io.blocksim.model.qapi.QmpError e) {
      // bdrv_reopen_set_read_only(..., NULL) in the clean callbacks drops the error.
    }
  }

  /** Fails the job with an error text of its own (error_setg in run). */
  void fail(int negativeErrno, String message) {
    error = message;
    runReturned(negativeErrno);
  }
}
