package io.blocksim.model.job;

import java.util.ArrayList;
import java.util.List;

/**
 * A job-transaction (QEMU's JobTxn): jobs that complete together. Members are kept most recently
 * added first, as QEMU's QLIST_INSERT_HEAD keeps them; that is the order of pending transitions
 * and of finalization.
 */
public final class JobTxn {
  final List<Job> jobs = new ArrayList<>();
  boolean aborting;
  /** The member the abort loop waits for (QEMU's nested job_finish_sync), or null. */
  Job abortWaitsFor;

  void add(Job job) {
    jobs.add(0, job);
    job.txn = this;
  }

  void remove(Job job) {
    jobs.remove(job);
    if (job.txn == this) {
      job.txn = null;
    }
  }
}
