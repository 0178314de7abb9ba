package io.blocksim.model.job;

import io.blocksim.model.driver.blockcopy.ProgressMeter;
import io.blocksim.model.driver.blockcopy.BlockCopy;
import io.blocksim.model.check.Check;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpError;
import java.util.List;

/**
 * One job (QEMU's Job, job.c) with its coroutine modelled as continuations: the job's run code
 * parks a continuation when it yields, and {@link #enter()} runs it again. Everything runs on the
 * engine's scheduler thread, so there is no concurrency, only interleaving at yield points.
 *
 * <p>Subclasses implement {@link #run()}, which must eventually call {@link #runReturned(int)},
 * and the driver callbacks (commit, abort, clean, cancel, pause) QEMU's JobDriver has.
 */
public abstract class Job implements ProgressMeter {
  final JobManager manager;
  final String id;
  JobStatus status = JobStatus.UNDEFINED;
  JobTxn txn;
  boolean autoFinalize = true;
  boolean autoDismiss = true;
  int pauseCount = 1;
  boolean paused = true;
  boolean userPaused;
  boolean busy;
  boolean cancelled;
  boolean forceCancel;
  boolean deferredToMainLoop;
  boolean started;
  /** 0 or a negative errno, as QEMU's job->ret. */
  int ret;
  /** The pretty text of job->err, or null. */
  String error;
  long progressCurrent;
  long progressTotal;
  long speed;
  String ioStatus = "ok";
  /**
   * The force flag of the user's cancel (job-cancel is force), or null while no user cancelled
   * the job; a cancel induced by a failed member of a grouped transaction leaves it null. QEMU
   * keeps no such record; the proposal: variants about cancel and bitmap sync need it.
   */
  Boolean userCancelForce;
  /** Whether the source node of the job was drained when the job was created (transactions). */
  boolean drainedAtCreation;
  /** Drained sections that ended before the job reached its pause point; resumed once paused. */
  int resumesWhenPaused;

  /** The continuation parked by a job_yield-style yield (job->busy false), or null. */
  private Runnable wakeup;
  /** The continuation parked by a raw qemu_coroutine_yield (job->busy stays true), or null. */
  private Runnable rawWakeup;
  private long timerGeneration;
  private boolean timerPending;

  protected Job(JobManager manager, String id) {
    this.manager = manager;
    this.id = id;
  }

  // ---------------------------------------------------------------- identity and driver

  /** Returns the job id (null for an internal job). */
  public String id() {
    return id;
  }

  /**
   * Returns the job's block-copy state (backup), null for a job without one. It outlives the
   * job's end (the copy bitmap then holds what was never copied), for observers such as trace
   * validation.
   */
  public BlockCopy blockCopy() {
    return null;
  }

  /** Returns the JobType as QMP spells it ("backup", "create", ...). */
  public abstract String type();

  /** Returns whether this is a block job (listed by query-block-jobs, emits BLOCK_JOB_*). */
  public abstract boolean isBlockJob();

  /** Returns the current status. */
  public JobStatus status() {
    return status;
  }

  /** Returns the error text QMP shows, or null. */
  public String error() {
    return error;
  }

  public long progressCurrent() {
    return progressCurrent;
  }

  public long progressTotal() {
    return progressTotal;
  }

  /** Whether the job's coroutine is running (job->busy). */
  public boolean busy() {
    return busy;
  }

  /** Whether a pause is requested (job->pause_count > 0: query-block-jobs' "paused"). */
  public boolean pauseRequested() {
    return pauseCount > 0;
  }

  /** Whether the user paused the job (job->user_paused). */
  public boolean userPaused() {
    return userPaused;
  }

  /** The speed limit in bytes per second, 0 for none. */
  public long speed() {
    return speed;
  }

  /** QAPI BlockDeviceIoStatus ("ok", "failed", "nospace"). */
  public String ioStatus() {
    return ioStatus;
  }

  public boolean autoFinalize() {
    return autoFinalize;
  }

  public boolean autoDismiss() {
    return autoDismiss;
  }

  /**
   * The job is created inside a drained section (a transaction's prepare): it stays paused
   * until {@link JobManager#endCreationDrain} ends that section for it.
   */
  public void beginCreationDrain() {
    pauseCount++;
    drainedAtCreation = true;
  }

  /** Sets the speed limit a job starts with (its command's {@code speed} argument). */
  public void setInitialSpeed(long bytesPerSecond) {
    speed = bytesPerSecond;
    setSpeedHook(bytesPerSecond);
  }

  /** 0 or a negative errno (job->ret). */
  public int ret() {
    return ret;
  }

  /** The job's body; ends by calling runReturned. */
  protected abstract void run();

  /** JobDriver.prepare: the first step of finalizing a successful job; returns 0 or -errno. */
  protected int prepare() {
    return 0;
  }

  /** job_commit: the transaction succeeded. */
  protected void commit() {}

  /** job_abort: the job or its transaction failed or was cancelled. */
  protected void abort() {}

  /** job_clean: always, after commit or abort. */
  protected void clean() {}

  /** The job's last reference goes at its dismissal (job_unref: the driver's free). */
  protected void free() {}

  /** JobDriver.cancel: returns whether the cancel is forced; QEMU's default is forced. */
  protected boolean cancelHook(boolean force) {
    return true;
  }

  /** JobDriver.pause, run at a pause point before pausing; calls k when the job may pause. */
  protected void pauseHook(Runnable k) {
    k.run();
  }

  /** JobDriver.complete, or an error if the job has none. */
  protected void complete() throws QmpError {
    throw QmpError.generic("The active block job '" + id + "' cannot be completed");
  }

  /** Returns whether the driver has a complete callback. */
  protected boolean hasComplete() {
    return false;
  }

  /** BlockJobDriver.set_speed. */
  protected void setSpeedHook(long bytesPerSecond) {}

  /** Lets the job's requests in flight complete now, for a drained section that waits for them. */
  protected void completeInFlight() {}

  /** Returns the nodes the job holds as a block job (its BdrvChild parents), for drains. */
  protected List<BlockNode> heldNodes() {
    return List.of();
  }

  // ---------------------------------------------------------------- progress

  @Override
  public void workDone(long bytes) {
    progressCurrent += bytes;
  }

  @Override
  public void setRemaining(long bytes) {
    progressTotal = progressCurrent + bytes;
  }

  // ---------------------------------------------------------------- coroutine

  boolean isCancelled() {
    return forceCancel;
  }

  /** job_cancel_requested: a cancel, forced or not, was asked for. */
  boolean isCancelRequested() {
    return cancelled;
  }

  boolean shouldPause() {
    return pauseCount > 0;
  }

  /** job_enter: resumes the job if it is parked in a yield and not busy. */
  void enter() {
    if (!started || deferredToMainLoop || busy || wakeup == null) {
      return;
    }
    timerGeneration++;
    timerPending = false;
    busy = true;
    Runnable k = wakeup;
    wakeup = null;
    k.run();
  }

  /** job_do_yield: parks k; with delayNs >= 0 a timer re-enters the job after that time. */
  void doYield(long delayNs, Runnable k) {
    Check.that(wakeup == null, "job '%s': yield while already parked", id);
    if (delayNs >= 0) {
      long generation = ++timerGeneration;
      timerPending = true;
      manager.layer().scheduler().schedule(delayNs, () -> {
        if (timerGeneration == generation) {
          timerPending = false;
          enter();
        }
      });
    }
    busy = false;
    wakeup = k;
  }

  boolean timerPending() {
    return timerPending;
  }

  /** Parks k without clearing busy (a plain qemu_coroutine_yield). */
  void rawYield(Runnable k) {
    Check.that(rawWakeup == null, "job '%s': raw yield while already parked", id);
    rawWakeup = k;
  }

  /** Wakes a raw yield (aio_co_wake); returns whether one was parked. */
  boolean rawWake() {
    Runnable k = rawWakeup;
    if (k == null) {
      return false;
    }
    rawWakeup = null;
    k.run();
    return true;
  }

  /** job_pause_point: pauses here if asked to, then continues with k. */
  void pausePoint(Runnable k) {
    if (!shouldPause() || isCancelled()) {
      k.run();
      return;
    }
    pauseHook(() -> {
      if (shouldPause() && !isCancelled()) {
        JobStatus before = status;
        manager.transition(this, before == JobStatus.READY ? JobStatus.STANDBY
            : JobStatus.PAUSED);
        paused = true;
        doYield(-1, () -> {
          paused = false;
          manager.transition(this, before);
          k.run();
        });
        manager.releaseResumesWhenPaused(this);
      } else {
        k.run();
      }
    });
  }

  /** job_yield: waits for job_enter (unless cancelled or pausing), then a pause point. */
  void jobYield(Runnable k) {
    if (isCancelled()) {
      k.run();
      return;
    }
    if (!shouldPause()) {
      doYield(-1, () -> pausePoint(k));
    } else {
      pausePoint(k);
    }
  }

  /** job_sleep_ns. */
  void sleepNs(long ns, Runnable k) {
    if (isCancelled()) {
      k.run();
      return;
    }
    if (!shouldPause()) {
      doYield(ns, () -> pausePoint(k));
    } else {
      pausePoint(k);
    }
  }

  /**
   * block_job_set_speed's kick of a job whose sleep timer QEMU has already armed, where the
   * simulator has only planned that sleep for after the I/O in flight (mirror): the sleep is
   * dropped, as the kick would have ended it.
   */
  protected void dropPlannedSleep() {}

  /** The end of job_co_entry: records the result and defers completion to the main loop. */
  void runReturned(int result) {
    Check.that(result <= 0, "job '%s': run returned %d", id, result);
    ret = result;
    deferredToMainLoop = true;
    busy = true;
    manager.layer().scheduler().schedule(0, () -> manager.jobExit(this));
  }

  /** Returns strerror for a negative errno. */
  public static String strerror(int negativeErrno) {
    return HostIoException.strerror(-negativeErrno);
  }

  @Override
  public String toString() {
    return type() + " job '" + id + "' (" + status.qapiName() + ")";
  }
}
