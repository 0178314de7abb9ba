package io.blocksim.model.job;

import io.blocksim.model.semantics.Variant;
import io.blocksim.model.driver.blockcopy.CopyGate;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.check.Check;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeGraph;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The jobs of one simulated QEMU process: QEMU 7.2's job life cycle (job.c, blockjob.c). The QMP
 * commands that drive it (job-qmp.c, the block-job-* commands of blockdev.c) are
 * {@link io.blocksim.model.qmp.JobCommands}.
 *
 * <p>Jobs are listed newest first, as QEMU's job list (QLIST_INSERT_HEAD) lists them in
 * query-jobs and query-block-jobs.
 */
public final class JobManager {
  private final BlockLayer layer;
  private final List<Job> jobs = new ArrayList<>();
  private final Map<String, FormatCreator> creators = new TreeMap<>();
  /** Null except in a model-based test: see {@link #gateBackgroundCopies}. */
  private CopyGate copyGate;
  /** Null unless an observer asked: see {@link #observeDrainPolls}. */
  private Runnable drainPollObserver;

  public JobManager(BlockLayer layer) {
    this.layer = layer;
    layer.setDrainedSection(this::drained);
  }

  public BlockLayer layer() {
    return layer;
  }

  /**
   * Test seam (model-based testing, see {@link CopyGate}): from now on the background copy of
   * every backup job waits at {@code gate} before each cluster it copies; null removes it. No
   * QMP command or scenario calls this.
   */
  public void gateBackgroundCopies(CopyGate gate) {
    this.copyGate = gate;
  }

  CopyGate copyGate() {
    return copyGate;
  }

  /**
   * Observer seam (trace recording): {@code observer} runs each time the poll of a drained
   * section ({@link #pollWhileBusy}) has run the completions of jobs whose run had returned, at
   * that point of the command that drained, before the command goes on; null removes it. It
   * lets a trace recorder take the state a job's end leaves before what the command does after
   * its drain (a transaction's drain_all before its actions). It must not change the engine.
   */
  public void observeDrainPolls(Runnable observer) {
    this.drainPollObserver = observer;
  }

  /** Returns the live jobs, newest first. */
  public List<Job> jobs() {
    return Collections.unmodifiableList(jobs);
  }

  /** Returns the job with that id, or null. */
  public Job find(String id) {
    for (Job job : jobs) {
      if (id.equals(job.id)) {
        return job;
      }
    }
    return null;
  }

  /**
   * Registers how blockdev-create (and drive-backup) format an image of that driver ("qcow2");
   * the file driver is built in.
   */
  public void registerFormatCreator(String driver, FormatCreator creator) {
    creators.put(driver, creator);
  }

  public FormatCreator formatCreator(String driver) {
    return creators.get(driver);
  }

  /** block_job_set_speed (blockjob.c): a negative speed fails after the verb check. */
  public void setSpeed(Job job, long speed) throws QmpError {
    applyVerb(job, JobVerb.SET_SPEED);
    if (speed < 0) {
      throw QmpError.generic("Parameter 'speed' expects a non-negative value");
    }
    long old = job.speed;
    job.speed = speed;
    job.setSpeedHook(speed);
    if (speed != 0 && speed <= old) {
      return;
    }
    if (job.timerPending()) {
      job.enter();
    } else {
      job.dropPlannedSleep();
    }
  }

  /** Returns a block job by id, or QEMU's DeviceNotActive error (find_block_job). */
  public Job findBlockJob(String id) throws QmpError {
    Job job = find(id);
    if (job == null || !job.isBlockJob()) {
      throw new QmpError(QmpError.DEVICE_NOT_ACTIVE, "Block job '" + id + "' not found");
    }
    return job;
  }

  // ---------------------------------------------------------------- creation and start

  /**
   * job_create: checks the id, creates the job in status created and puts it into txn (a new
   * private one if null). Block jobs without an id get the device name, which is "" for a node
   * that is not a device, and fail the id check. Auto-finalize and auto-dismiss false are
   * QEMU's flags JOB_MANUAL_FINALIZE and JOB_MANUAL_DISMISS.
   */
  public void create(Job job, JobTxn txn, boolean autoFinalize, boolean autoDismiss)
      throws QmpError {
    job.autoFinalize = autoFinalize;
    job.autoDismiss = autoDismiss;
    create(job, txn);
  }

  /** job_create with the job's own flags (JOB_DEFAULT unless the job type says otherwise). */
  public void create(Job job, JobTxn txn) throws QmpError {
    if (job.id == null || !NodeGraph.wellFormed(job.id)) {
      throw QmpError.generic("Invalid job ID '" + (job.id == null ? "" : job.id) + "'");
    }
    if (find(job.id) != null) {
      throw QmpError.generic("Job ID '" + job.id + "' already in use");
    }
    transition(job, JobStatus.CREATED);
    jobs.add(0, job);
    (txn == null ? new JobTxn() : txn).add(job);
  }

  /** job_start. */
  public void start(Job job) {
    Check.that(!job.started && job.paused, "job '%s': start of a started job", job.id);
    job.started = true;
    job.pauseCount--;
    job.busy = true;
    job.paused = false;
    transition(job, JobStatus.RUNNING);
    job.pausePoint(job::run);
  }

  /** job_transition_to_ready: for jobs that converge (mirror, active commit). */
  void transitionToReady(Job job) {
    transition(job, JobStatus.READY);
    if (job.isBlockJob() && job.id != null) {
      layer.emit("BLOCK_JOB_READY", BlockLayer.data("type", job.type(), "device", job.id,
          "len", job.progressTotal, "offset", job.progressCurrent, "speed", job.speed));
    }
  }

  /** Emits JOB_STATUS_CHANGE for a real change of a job with an id. */
  void transition(Job job, JobStatus to) {
    JobStatus from = job.status;
    Check.that(from.canBecome(to), "job '%s': transition %s -> %s not allowed", job.id,
        from.qapiName(), to.qapiName());
    // A job the user paused (job-pause, or an error under the stop policy) runs again only
    // after job-resume or a cancel, which clear user_paused first (job_user_resume_locked).
    Check.that(!(job.userPaused && (from == JobStatus.PAUSED || from == JobStatus.STANDBY)
        && (to == JobStatus.RUNNING || to == JobStatus.READY)),
        "job '%s': %s -> %s while the user has it paused", job.id, from.qapiName(),
        to.qapiName());
    job.status = to;
    if (job.id != null && from != to) {
      layer.emit("JOB_STATUS_CHANGE", BlockLayer.data("id", job.id, "status", to.qapiName()));
    }
  }


  private void applyVerb(Job job, JobVerb verb) throws QmpError {
    boolean refusedByVariant = verb == JobVerb.COMPLETE && job.status == JobStatus.STANDBY
        && layer.variant(Variant.STANDBY_REFUSES_COMPLETE);
    boolean allowedByVariant = verb == JobVerb.SET_SPEED
        && layer.variant(Variant.SET_SPEED_ANY_STATUS);
    if ((!verb.allowedIn(job.status) && !allowedByVariant) || refusedByVariant) {
      throw QmpError.generic("Job '" + job.id + "' in state '" + job.status.qapiName()
          + "' cannot accept command verb '" + verb.qapiName() + "'");
    }
  }

  // ---------------------------------------------------------------- pause, resume, cancel

  // ---------------------------------------------------------------- drained sections

  /**
   * One drained section (bdrv_drained_begin .. bdrv_drained_end on a node): the jobs it paused,
   * and those created inside it on a node it quiesces (QEMU attaches a job's child to a
   * quiesced node with one pause per quiesce).
   */
  public static final class DrainedSection {
    private final BlockNode node;
    private final List<Job> paused = new ArrayList<>();
    private final List<Job> createdInside = new ArrayList<>();

    private DrainedSection(BlockNode node) {
      this.node = node;
    }
  }

  /** The sections begun and not yet ended, oldest first. */
  private final List<DrainedSection> activeSections = new ArrayList<>();

  /**
   * bdrv_drained_begin on a node: pauses every job that holds the node or one of its ancestors
   * (the drain reaches all parents); {@link #drainedEnd} resumes them. QEMU polls the job's
   * requests in flight to completion in a nested event loop; blocksim completes them at once,
   * without letting virtual time pass.
   */
  public DrainedSection drainedBegin(BlockNode node) {
    DrainedSection section = new DrainedSection(node);
    Set<BlockNode> reached = ancestors(node);
    for (Job job : new ArrayList<>(jobs)) {
      if (holdsAny(job, reached)) {
        section.paused.add(job);
      }
    }
    for (Job job : section.paused) {
      pauseAndWait(job);
    }
    pollWhileBusy(section.paused);
    activeSections.add(section);
    return section;
  }

  /**
   * The poll of bdrv_drained_begin (BDRV_POLL_WHILE on bdrv_drain_poll): it runs the main loop
   * while a parent is not quiescent, and child_job_drained_poll counts a job busy until it is
   * completed. A job whose run has returned stays busy until its job_exit bottom half runs, so
   * the drain runs that completion (job_completed: aborting or waiting) inside itself, before
   * the code that drained goes on (as backup_clean's bdrv_cbw_drop does while its transaction
   * aborts).
   */
  private void pollWhileBusy(List<Job> reached) {
    List<Job> exiting = new ArrayList<>();
    for (Job job : reached) {
      if (job.deferredToMainLoop && job.busy && !job.status.completed()) {
        exiting.add(job);
      }
    }
    if (!exiting.isEmpty()) {
      layer.scheduler().pollNow(() -> exiting.stream()
          .allMatch(j -> !j.busy || j.status.completed()));
      if (drainPollObserver != null) {
        drainPollObserver.run();
      }
    }
  }

  /** The node and every node above it: what a drain on it quiesces. */
  private static Set<BlockNode> ancestors(BlockNode node) {
    Set<BlockNode> reached = new LinkedHashSet<>();
    ArrayDeque<BlockNode> queue = new ArrayDeque<>();
    queue.add(node);
    while (!queue.isEmpty()) {
      BlockNode n = queue.poll();
      if (reached.add(n)) {
        queue.addAll(n.parents());
      }
    }
    return reached;
  }

  private static boolean holdsAny(Job job, Set<BlockNode> nodes) {
    for (BlockNode held : job.heldNodes()) {
      if (nodes.contains(held)) {
        return true;
      }
    }
    return false;
  }

  /**
   * A job created inside drained sections starts paused once for each section that quiesces
   * one of its nodes; each of those sections resumes it when it ends. Returns whether any did.
   */
  public boolean pauseForActiveSections(Job job) {
    boolean paused = false;
    for (DrainedSection section : activeSections) {
      if (holdsAny(job, ancestors(section.node))) {
        job.pauseCount++;
        section.createdInside.add(job);
        paused = true;
      }
    }
    return paused;
  }

  /** job_pause, then what the drain's polling does: lets requests in flight complete. */
  private void pauseAndWait(Job job) {
    pause(job);
    if (job.started && !job.paused && !job.deferredToMainLoop) {
      job.completeInFlight();
    }
  }

  /**
   * bdrv_drained_end: resumes the jobs the section paused in QEMU's order, which
   * bdrv_parent_drained_end gives: the drained node's parents newest first, each job before the
   * parents of the nodes it holds ({@link #resumeOrder}).
   */
  public void drainedEnd(DrainedSection section) {
    activeSections.remove(section);
    List<Job> order = resumeOrder(section.node);
    List<Job> all = new ArrayList<>(section.paused);
    all.addAll(section.createdInside);
    all.sort(java.util.Comparator.comparingInt(j -> {
      int i = order.indexOf(j);
      return i < 0 ? Integer.MAX_VALUE : i;
    }));
    for (Job job : all) {
      if (section.createdInside.contains(job)) {
        if (job.status != JobStatus.NULL) {
          resume(job);
        }
      } else {
        resumeAfterDrain(job);
      }
    }
  }

  /**
   * The order in which ending a drain on node reaches the jobs: from the node up through its
   * parents, newest parent first (QEMU lists a node's parents newest first), a node's own jobs
   * (newest first) before its parents.
   */
  private List<Job> resumeOrder(BlockNode node) {
    List<Job> order = new ArrayList<>();
    visitForResume(node, new LinkedHashSet<>(), order);
    return order;
  }

  private void visitForResume(BlockNode node, Set<BlockNode> seen, List<Job> order) {
    if (!seen.add(node)) {
      return;
    }
    for (int k = jobs.size() - 1; k >= 0; k--) {
      Job job = jobs.get(k);
      if (!order.contains(job) && job.heldNodes().contains(node)) {
        order.add(job);
      }
    }
    List<BlockNode> parents = node.parents();
    for (int k = parents.size() - 1; k >= 0; k--) {
      visitForResume(parents.get(k), seen, order);
    }
  }

  private void resumeAfterDrain(Job job) {
    if (job.status == JobStatus.NULL) {
      return;
    }
    boolean quiescent = job.paused || !job.started || job.deferredToMainLoop;
    if (quiescent) {
      resume(job);
    } else {
      job.resumesWhenPaused++;
    }
  }

  /** Resumes the drained sections that ended while the job was still on its way to pause. */
  void releaseResumesWhenPaused(Job job) {
    while (job.resumesWhenPaused > 0 && job.paused) {
      job.resumesWhenPaused--;
      resume(job);
    }
  }

  /** bdrv_drain_all, as every transaction starts with: each block job pauses, then resumes. */
  public void drainAll() {
    List<Job> blockJobs = new ArrayList<>();
    for (Job job : new ArrayList<>(jobs)) {
      if (job.isBlockJob() && job.status != JobStatus.NULL) {
        blockJobs.add(job);
        pauseAndWait(job);
      }
    }
    pollWhileBusy(blockJobs);
    for (Job job : blockJobs) {
      resumeAfterDrain(job);
    }
  }

  /**
   * A drained section on one node, begun and ended at once (what attaching or detaching a
   * BlockBackend such as an NBD export does): the jobs above the node pause and resume.
   */
  public void drain(BlockNode node) {
    drainedEnd(drainedBegin(node));
  }

  /**
   * Runs {@code change} inside a drained section on {@code node} (bdrv_drained_begin/end around
   * a graph change, as bdrv_replace_node_common does around dropping a filter): the jobs above
   * the node pass a pause point.
   */
  public void drained(BlockNode node, Runnable change) {
    DrainedSection section = drainedBegin(node);
    try {
      change.run();
    } finally {
      drainedEnd(section);
    }
  }

  /**
   * Begins a drained section on {@code node} and returns what ends it: the same code as
   * {@link #drain}, split in two, for a section held open across steps, as an external snapshot
   * action holds one from its prepare to its clean (and the model-based tests of the job life
   * cycle hold one across their steps).
   */
  public Runnable beginDrainedSection(BlockNode node) {
    DrainedSection section = drainedBegin(node);
    return () -> drainedEnd(section);
  }

  /** job_pause. */
  void pause(Job job) {
    job.pauseCount++;
    if (!job.paused) {
      job.enter();
    }
  }

  /** job_resume. */
  public void resume(Job job) {
    Check.that(job.pauseCount > 0, "job '%s': resume with pause count 0", job.id);
    job.pauseCount--;
    if (job.pauseCount == 0 && !job.timerPending()) {
      job.enter();
    }
  }

  public void userPause(Job job) throws QmpError {
    applyVerb(job, JobVerb.PAUSE);
    if (job.userPaused) {
      throw QmpError.generic("Job is already paused");
    }
    job.userPaused = true;
    pause(job);
  }

  public void userResume(Job job) throws QmpError {
    if (!job.userPaused || job.pauseCount <= 0) {
      throw QmpError.generic("Can't resume a job that was not paused");
    }
    applyVerb(job, JobVerb.RESUME);
    userResumeHook(job);
    job.userPaused = false;
    resume(job);
  }

  /** block_job_user_resume: clears the io-status. */
  private static void userResumeHook(Job job) {
    if (job.isBlockJob()) {
      job.ioStatus = "ok";
    }
  }

  public void complete(Job job) throws QmpError {
    applyVerb(job, JobVerb.COMPLETE);
    if (job.cancelled || !job.hasComplete()) {
      throw QmpError.generic("The active block job '" + job.id + "' cannot be completed");
    }
    job.complete();
  }

  public void finalizeVerb(Job job) throws QmpError {
    applyVerb(job, JobVerb.FINALIZE);
    doFinalize(job);
  }

  public void dismissVerb(Job job) throws QmpError {
    applyVerb(job, JobVerb.DISMISS);
    doDismiss(job);
  }

  public void userCancel(Job job, boolean force) throws QmpError {
    applyVerb(job, JobVerb.CANCEL);
    job.userCancelForce = job.userCancelForce == null ? force : job.userCancelForce || force;
    cancel(job, force);
  }

  /** job_cancel_locked. */
  void cancel(Job job, boolean force) {
    if (job.status == JobStatus.CONCLUDED) {
      doDismiss(job);
      return;
    }
    cancelAsync(job, force);
    if (!job.started) {
      completed(job);
    } else if (job.deferredToMainLoop) {
      if (job.isCancelled()) {
        txnAbort(job);
      }
    } else {
      job.enter();
    }
  }

  /** job_cancel_async_locked. */
  private void cancelAsync(Job job, boolean force) {
    force = job.cancelHook(force);
    if (job.userPaused) {
      userResumeHook(job);
      job.userPaused = false;
      Check.that(job.pauseCount > 0, "job '%s': user paused with pause count 0", job.id);
      job.pauseCount--;
    }
    if (force || !job.deferredToMainLoop) {
      job.cancelled = true;
      job.forceCancel |= force;
    }
  }

  /**
   * Reports an I/O error of a block job under its policy (block_job_error_action): emits
   * BLOCK_JOB_ERROR and, for stop, pauses the job as a user pause. Returns the action.
   */
  BlockErrorAction errorAction(Job job, ErrorPolicy policy, boolean isRead, int errno) {
    BlockErrorAction action = policy.action(errno);
    if (job.id != null) {
      layer.emit("BLOCK_JOB_ERROR", BlockLayer.data("device", job.id, "operation",
          isRead ? "read" : "write", "action", action.qapiName()));
    }
    if (action == BlockErrorAction.STOP) {
      if (!job.userPaused) {
        pause(job);
        job.userPaused = true;
      }
      if (job.ioStatus.equals("ok")) {
        job.ioStatus = errno == HostIoException.ENOSPC ? "nospace"
            : "failed";
      }
    }
    return action;
  }

  // ---------------------------------------------------------------- completion

  /** job_exit, the bottom half after run returned. */
  void jobExit(Job job) {
    job.busy = false;
    completed(job);
  }

  /** job_completed_locked. */
  private void completed(Job job) {
    Check.that(!job.status.completed(), "job '%s': completed twice", job.id);
    updateRc(job);
    if (job.ret != 0) {
      txnAbort(job);
    } else {
      txnSuccess(job);
    }
  }

  /** job_update_rc_locked. */
  private void updateRc(Job job) {
    if (job.ret == 0 && job.isCancelled()) {
      job.ret = -HostIoException.ECANCELED;
    }
    if (job.ret != 0) {
      if (job.error == null) {
        job.error = Job.strerror(job.ret);
      }
      transition(job, JobStatus.ABORTING);
    }
  }

  private void txnSuccess(Job job) {
    JobTxn txn = job.txn;
    transition(job, JobStatus.WAITING);
    for (Job other : txn.jobs) {
      if (!other.status.completed()) {
        return;
      }
      Check.that(other.ret == 0, "job '%s': waiting beside a failed job", other.id);
    }
    for (Job member : new ArrayList<>(txn.jobs)) {
      transition(member, JobStatus.PENDING);
      if (!member.autoFinalize && member.isBlockJob() && member.id != null) {
        layer.emit("BLOCK_JOB_PENDING", BlockLayer.data("type", member.type(), "id", member.id));
      }
    }
    for (Job member : txn.jobs) {
      if (!member.autoFinalize) {
        return;
      }
    }
    doFinalize(job);
  }

  /** job_do_finalize_locked: prepare every member, then finalize them (or abort all). */
  private void doFinalize(Job job) {
    for (Job member : new ArrayList<>(job.txn.jobs)) {
      if (member.ret == 0) {
        member.ret = member.prepare();
        if (member.ret != 0) {
          updateRc(member);
          txnAbort(member);
          return;
        }
      }
    }
    for (Job member : new ArrayList<>(job.txn.jobs)) {
      finalizeSingle(member);
    }
  }

  /**
   * job_completed_txn_abort_locked. QEMU waits for each unfinished member in a nested event loop
   * (job_finish_sync), so a job-cancel that aborts a transaction returns with every member
   * concluded. Here the member's requests in flight complete at once, as in a drain, and a
   * nested poll runs what is then due now; the member's completion continues the abort
   * (re-entering {@link #txnAbort}). Only a member still waiting for virtual time to pass
   * leaves the abort parked until it completes.
   */
  private void txnAbort(Job job) {
    JobTxn txn = job.txn;
    if (txn.aborting) {
      if (txn.abortWaitsFor == job) {
        txn.abortWaitsFor = null;
        continueTxnAbort(txn);
      }
      return;
    }
    txn.aborting = true;
    for (Job other : new ArrayList<>(txn.jobs)) {
      if (other != job) {
        cancelAsync(other, true);
      }
    }
    continueTxnAbort(txn);
  }

  private void continueTxnAbort(JobTxn txn) {
    while (!txn.jobs.isEmpty()) {
      Job other = txn.jobs.get(0);
      if (!other.status.completed()) {
        if (!other.started) {
          // Never started: nothing would ever run it to completion; complete it directly.
          updateRc(other);
        } else {
          txn.abortWaitsFor = other;
          other.enter();
          if (!other.paused && !other.deferredToMainLoop) {
            other.completeInFlight();
          }
          layer.scheduler().pollNow(() -> other.status.completed());
          return;
        }
      }
      finalizeSingle(other);
    }
  }

  /** job_finalize_single_locked. */
  private void finalizeSingle(Job job) {
    Check.that(job.status.completed(), "job '%s': finalize while %s", job.id,
        job.status.qapiName());
    updateRc(job);
    if (job.ret == 0) {
      job.commit();
    } else {
      job.abort();
    }
    job.clean();
    if (job.started && job.isBlockJob() && job.id != null) {
      if (job.isCancelled()) {
        layer.emit("BLOCK_JOB_CANCELLED", BlockLayer.data("type", job.type(), "device", job.id,
            "len", job.progressTotal, "offset", job.progressCurrent, "speed", job.speed));
      } else {
        Map<String, Object> data = BlockLayer.data("type", job.type(), "device", job.id,
            "len", job.progressTotal, "offset", job.progressCurrent, "speed", job.speed);
        if (job.ret < 0) {
          data.put("error", job.error);
        }
        layer.emit("BLOCK_JOB_COMPLETED", data);
      }
    }
    if (job.txn != null) {
      job.txn.remove(job);
    }
    transition(job, JobStatus.CONCLUDED);
    if (job.autoDismiss || !job.started) {
      doDismiss(job);
    }
  }

  /** job_early_fail: a job that failed right after creation goes to null. */
  /** The end of the drained section a job was created in (Job#beginCreationDrain). */
  public void endCreationDrain(Job job) {
    if (job.drainedAtCreation) {
      job.drainedAtCreation = false;
      if (job.status != JobStatus.NULL) {
        resume(job);
      }
    }
  }

  public void dismissEarly(Job job) {
    Check.that(job.status == JobStatus.CREATED, "job '%s': early fail while %s", job.id,
        job.status.qapiName());
    doDismiss(job);
  }

  /** job_do_dismiss_locked. */
  private void doDismiss(Job job) {
    job.busy = false;
    job.paused = false;
    job.deferredToMainLoop = true;
    if (job.txn != null) {
      job.txn.remove(job);
    }
    transition(job, JobStatus.NULL);
    jobs.remove(job);
    job.free();
  }

  /**
   * Cancels a job synchronously, as a failed transaction's abort does (job_cancel_sync with
   * force). Only jobs that never started can be finished without letting time pass.
   */
  public void cancelSync(Job job) {
    if (job.status == JobStatus.NULL) {
      return;
    }
    cancel(job, true);
  }
}
