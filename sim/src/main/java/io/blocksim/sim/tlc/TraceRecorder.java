package io.blocksim.sim.tlc;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.bitmap.HBitmap;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.driver.blockcopy.BlockCopy;
import io.blocksim.model.job.Job;
import io.blocksim.model.job.JobStatus;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpEvent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Records a run of the engine as a trace in BitmapSync's vocabulary (trace validation,
 * tla-crosscheck.md §5): after each step the caller names the spec action it took, and the
 * recorder adds the abstract state it reads from the engine (the named bitmaps of one node as
 * cluster sets, their successors, the statuses of the backup jobs that take one of them).
 *
 * <p>The trace is a projection of the run onto BitmapSync: one node (the first that gets a named
 * bitmap), its bitmaps, the guest writes to it, and the backup jobs that take one of its bitmaps.
 * Everything else (bitmaps and writes of other nodes, bitmaps of another granularity, backups
 * without a bitmap, blockdev-create jobs, stream/commit/mirror jobs that leave the node alone)
 * leaves these untouched and is left out. A removal of the node, a crash or a failed guest write
 * ends the trace (what came before is validated). A run whose traced part leaves the vocabulary
 * (a job writing into the node, a job copy cluster other than the bitmap granularity, ...) is
 * marked not applicable, with the reason, and is never reported as validated.
 *
 * <p>Copies are logged, not guessed: after every observation the recorder compares each job's
 * remaining copy set (its copy bitmap and the tasks in flight, which may still fail) with the
 * spec's, and logs the clusters that left it as one Copy step. The trace check then has no copy
 * order to explore, so its cost grows with the trace's length, not as 2^clusters.
 */
public final class TraceRecorder {
  /**
   * The largest disk, in clusters, a trace may have: TLC evaluates the invariants over every
   * cluster in every state (about 50 ms per state at 16,384 clusters).
   */
  public static final int MAX_CLUSTERS = 4096;

  /** A backup job that takes a bitmap of the traced node, and the spec's view of its copy. */
  private static final class TrackedJob {
    final Job job;
    final String sync;
    final SortedSet<Integer> bitmapAtCreation;
    /** The clusters the spec's job has still to copy; null before it starts, after it ends. */
    TreeSet<Integer> copy;

    TrackedJob(Job job, String sync, SortedSet<Integer> bitmapAtCreation) {
      this.job = job;
      this.sync = sync;
      this.bitmapAtCreation = bitmapAtCreation;
    }
  }

  /** A guest write made before the traced node was known. */
  private record EarlyWrite(String node, long offset, long length) {}

  private final List<AbstractState> states = new ArrayList<>();
  private String nodeName;
  private long granularity;
  private int clusterCount;
  private String notApplicable;
  /** Why the trace ended early (the traced node was removed), or null. */
  private String ended;
  private AbstractState last;
  private int eventsSeen;
  private final List<Integer> pendingInternal = new ArrayList<>();
  private final TreeSet<String> cancelRequested = new TreeSet<>();
  private final List<TreeSet<String>> groups = new ArrayList<>();
  private final Map<String, TrackedJob> tracked = new LinkedHashMap<>();
  private final List<EarlyWrite> earlyWrites = new ArrayList<>();
  private final TreeSet<String> failedWriteNodes = new TreeSet<>();
  /** The traced node's write generation after the last write the trace accounts for. */
  private long guestWriteGeneration = -1;
  /** The clusters the trace has written: BitmapSync's {@code Allocated}. */
  private final TreeSet<Integer> written = new TreeSet<>();
  /** The bitmaps of the traced node left out: their granularity is not the traced one. */
  private final TreeSet<String> otherGranularity = new TreeSet<>();
  /** The bitmaps the trace has added: any other that shows up was loaded from an image. */
  private final TreeSet<String> added = new TreeSet<>();

  /**
   * Starts a trace of the bitmaps of node {@code nodeName} (null: the first node that gets a
   * named bitmap). The initial state is BitmapSync's: no bitmap, no job.
   */
  public TraceRecorder(String nodeName) {
    this.nodeName = nodeName;
    last = new AbstractState("", "", Collections.emptySortedMap(), Collections.emptySortedMap(),
        Collections.emptySortedMap());
    states.add(last);
  }

  /** Returns the node whose bitmaps are traced, or null while none is known. */
  public String nodeName() {
    return nodeName;
  }

  /** Marks the run as outside BitmapSync's vocabulary; the first reason is kept. */
  public void notApplicable(String reason) {
    if (notApplicable == null) {
      notApplicable = reason;
    }
  }

  /** Returns why the run is not applicable, or null when it is. */
  public String notApplicableReason() {
    return notApplicable;
  }

  /**
   * Ends the trace here: what follows is outside BitmapSync (a crash, a failed write), what came
   * before is still a behaviour to validate. The first reason is kept.
   */
  public void endHere(String reason) {
    if (ended == null && notApplicable == null) {
      ended = reason;
    }
  }

  /** Returns why the trace ended before the run did, or null when it did not. */
  public String endedEarly() {
    return ended;
  }

  /** Returns the recorded states, the initial one first. */
  public List<AbstractState> states() {
    return Collections.unmodifiableList(states);
  }

  /** Returns the number of clusters of the traced disk (at least 1). */
  public int clusterCount() {
    return Math.max(1, clusterCount);
  }

  /** Returns whether {@code node} is the traced node, or could become it (none traced yet). */
  public boolean traces(String node) {
    return nodeName == null || nodeName.equals(node);
  }

  // ---------------------------------------------------------------- bitmap commands

  /**
   * A block-dirty-bitmap-add or -clear of bitmap {@code name} on {@code node} succeeded: on the
   * traced node (the first node with a bitmap becomes it) it is a Clear. Bitmaps of other nodes
   * are not traced.
   */
  public void bitmapCleared(Engine engine, String node, String name, boolean add,
      boolean addDisabled) {
    if (!traces(node)) {
      return;
    }
    if (nodeName == null) {
      startTracing(engine, node, name);
    }
    BlockNode traced = engine.graph().find(node);
    DirtyBitmap bitmap = traced == null ? null : traced.bitmap(name);
    if (bitmap != null && bitmap.granularityBytes() != granularity) {
      // Bitmaps do not interact unless merged: one of another cluster size is left out.
      otherGranularity.add(name);
      return;
    }
    if (!add) {
      record(engine, "Clear", -1, name, "");
      return;
    }
    added.add(name);
    // A new bitmap is enabled unless added disabled; the spec may still hold the state of a
    // removed bitmap of the same name.
    if (addDisabled) {
      recordUnobserved("Clear", -1, name, "");
      record(engine, "Disable", -1, name, "");
    } else {
      recordUnobserved("Enable", -1, name, "");
      record(engine, "Clear", -1, name, "");
    }
  }

  /** A block-dirty-bitmap-enable or -disable of bitmap {@code name} on {@code node} succeeded. */
  public void enabled(Engine engine, String node, String name, boolean enable) {
    if (traces(node) && nodeName != null && !otherGranularity.contains(name)) {
      record(engine, enable ? "Enable" : "Disable", -1, name, "");
    }
  }

  /**
   * Returns whether bitmap {@code name} is left out of the trace (its granularity is not the
   * traced one's); a backup that takes it is then not a BitmapSync job.
   */
  public boolean leavesOut(String name) {
    return otherGranularity.contains(name);
  }

  /** A block-dirty-bitmap-remove succeeded: the bitmap is no longer observed. */
  public void bitmapRemoved(Engine engine, String node) {
    if (traces(node) && nodeName != null) {
      record(engine, "Stutter", -1, "", "");
    }
  }

  /**
   * A block-dirty-bitmap-merge into {@code target} on {@code node} succeeded, from {@code
   * sources} (a String is a bitmap of the same node; anything else names another node's).
   */
  public void merged(Engine engine, String node, String target, List<?> sources) {
    if (!traces(node) || nodeName == null) {
      return;
    }
    if (otherGranularity.contains(target)
        || sources.stream().anyMatch(otherGranularity::contains)) {
      notApplicable("a merge between bitmaps of different granularities");
      return;
    }
    for (int k = 0; k < sources.size(); k++) {
      if (!(sources.get(k) instanceof String source)) {
        notApplicable("a merge source on another node; BitmapSync models one node");
        return;
      }
      if (k + 1 < sources.size()) {
        recordUnobserved("Merge", -1, target, source);
      } else {
        record(engine, "Merge", -1, target, source);
      }
    }
  }

  private void startTracing(Engine engine, String node, String bitmapName) {
    nodeName = node;
    BlockNode traced = engine.graph().find(node);
    DirtyBitmap bitmap = traced == null ? null : traced.bitmap(bitmapName);
    if (bitmap == null) {
      notApplicable("bitmap '" + bitmapName + "' not found after it was added");
      return;
    }
    granularity = bitmap.granularityBytes();
    long clusters = (traced.length() + granularity - 1) / granularity;
    clusterCount = (int) Math.min(Integer.MAX_VALUE, clusters);
    if (clusters > MAX_CLUSTERS) {
      notApplicable("the disk has " + clusters + " clusters of " + granularity
          + " bytes; TLC evaluates the invariants over every cluster, so at most "
          + MAX_CLUSTERS);
      return;
    }
    if (failedWriteNodes.contains(node)) {
      notApplicable("a failed guest write before the first bitmap; BitmapSync's writes always "
          + "succeed");
    }
    // The writes made before the bitmap existed dirty nothing, but they are the spec's disk:
    // sync=top copies what they allocated.
    for (EarlyWrite write : earlyWrites) {
      if (isTracedOrFilterAbove(engine, write.node())) {
        for (int cluster : clustersOf(write.offset(), write.length())) {
          recordUnobserved("Write", cluster, "", "");
          written.add(cluster);
        }
      } else if (writesThrough(engine, write.node())) {
        notApplicable("a write to node '" + write.node() + "', above the traced '" + node + "'");
      }
    }
    earlyWrites.clear();
  }

  /**
   * Returns whether {@code node} is the traced node or a filter above it (a job's
   * copy-before-write, blkdebug): I/O to it is I/O to the traced node, at the same offsets.
   */
  private boolean isTracedOrFilterAbove(Engine engine, String node) {
    BlockNode traced = engine.graph().find(nodeName);
    BlockNode at = engine.graph().find(node);
    while (at != null && at != traced && at.driver().isFilter()) {
      at = at.primaryChild();
    }
    return at != null && at == traced;
  }

  /** Returns whether I/O to {@code node} reaches the traced node through its children. */
  private boolean writesThrough(Engine engine, String node) {
    BlockNode from = engine.graph().find(node);
    BlockNode traced = engine.graph().find(nodeName);
    return from != null && traced != null && from != traced && reaches(from, traced);
  }

  private static boolean reaches(BlockNode from, BlockNode to) {
    for (BlockNode child : from.children().values()) {
      if (child == to || reaches(child, to)) {
        return true;
      }
    }
    return false;
  }

  // ---------------------------------------------------------------- guest writes

  /** A guest write to {@code node} failed. */
  public void writeFailed(Engine engine, String node) {
    if (nodeName == null) {
      failedWriteNodes.add(node);
    } else if (writesThrough(engine, node) || isTracedOrFilterAbove(engine, node)) {
      endHere("a guest write failed (BitmapSync's writes always succeed)");
    }
  }

  /**
   * A guest write of {@code [offset, offset + length)} to {@code node} succeeded. The engine may
   * have run job steps before and after it (the write takes virtual time); each cluster is one
   * BitmapSync Write, and the copies the job made meanwhile come first (a copy-before-write of
   * a written cluster is part of the spec's Write).
   */
  public void written(Engine engine, String node, long offset, long length) {
    if (notApplicable != null || ended != null) {
      return;
    }
    if (nodeName == null) {
      earlyWrites.add(new EarlyWrite(node, offset, length));
      return;
    }
    if (!isTracedOrFilterAbove(engine, node)) {
      if (writesThrough(engine, node)) {
        notApplicable("a write to node '" + node + "', above the traced '" + nodeName + "'");
      }
      return;
    }
    BlockNode traced = engine.graph().find(nodeName);
    if (traced != null) {
      guestWriteGeneration = traced.writeGeneration();
    }
    List<Integer> clusters = clustersOf(offset, length);
    logCopies(Set.copyOf(clusters));
    recordUnobserved("Internal", -1, "", "");
    for (int cluster : clusters) {
      recordUnobserved("Write", cluster, "", "");
      written.add(cluster);
      for (TrackedJob job : tracked.values()) {
        if (job.copy != null) {
          job.copy.remove(cluster);
        }
      }
    }
    record(engine, "Internal", -1, "", "");
  }

  /** Returns the clusters {@code [offset, offset + length)} touches, in order. */
  private List<Integer> clustersOf(long offset, long length) {
    List<Integer> clusters = new ArrayList<>();
    if (granularity == 0 || length <= 0) {
      return clusters;
    }
    for (long c = offset / granularity; c * granularity < offset + length; c++) {
      clusters.add((int) c);
    }
    return clusters;
  }

  // ---------------------------------------------------------------- jobs

  /**
   * A backup transaction succeeded and created {@code job}, which takes bitmap {@code bitmap}
   * of the traced node with sync {@code sync} ("bitmap", "full" or "top"). Call before the
   * CreateTxn is recorded: the bitmap's content now is the job's S.
   */
  public void backupCreated(Engine engine, String jobId, String bitmap, String sync) {
    Job job = engine.jobs().find(jobId);
    if (job == null || !job.type().equals("backup")) {
      return; // refused, or already gone: the observations show it
    }
    SortedSet<Integer> bitmapNow = last.bitmaps() == null ? new TreeSet<>()
        : last.bitmaps().getOrDefault(bitmap, new TreeSet<>());
    tracked.put(jobId, new TrackedJob(job, sync, bitmapNow));
    // An id used again belongs to a new job: the group of the old one no longer holds it.
    groups.removeIf(group -> group.contains(jobId));
    BlockCopy copy = job.blockCopy();
    if (copy != null && copy.clusterSize() != granularity) {
      notApplicable("job '" + jobId + "' copies clusters of " + copy.clusterSize()
          + " bytes and bitmap '" + bitmap + "' has a granularity of " + granularity
          + "; BitmapSync copies in bitmap clusters");
    }
  }

  /** The jobs of a successful transaction have started: each gets the spec's initial copy. */
  public void backupsStarted(Engine engine, Set<String> jobIds) {
    for (String id : jobIds) {
      TrackedJob job = tracked.get(id);
      if (job == null || job.copy != null) {
        continue;
      }
      job.copy = switch (job.sync) {
        case "bitmap" -> new TreeSet<>(job.bitmapAtCreation);
        case "top" -> {
          checkAllocationMatchesWrites(engine, id);
          yield new TreeSet<>(written);
        }
        default -> allClusters();
      };
    }
  }

  /**
   * BitmapSync's sync=top copies the clusters the trace has written; the engine copies those
   * its node allocates. They differ for a node with a backing file, preallocation, clusters of
   * another size than the bitmap's, or data written before the node was opened.
   */
  private void checkAllocationMatchesWrites(Engine engine, String jobId) {
    BlockNode node = engine.graph().find(nodeName);
    if (node == null) {
      return;
    }
    for (int c = 0; c < clusterCount; c++) {
      boolean allocated = false;
      long offset = c * granularity;
      long end = Math.min(node.length(), offset + granularity);
      try {
        while (offset < end) {
          BlockStatus status = BlockIo.blockStatus(node, offset, end - offset);
          allocated |= status.allocated();
          offset += Math.max(1, status.lengthBytes());
        }
      } catch (HostIoException e) {
        notApplicable("block status failed: " + e.getMessage());
        return;
      }
      if (allocated != written.contains(c)) {
        notApplicable("job '" + jobId + "' has sync=top and cluster " + c + " is "
            + (allocated ? "" : "not ") + "allocated in '" + nodeName + "' though the trace "
            + (allocated ? "never wrote it" : "wrote it")
            + "; BitmapSync's sync=top copies the clusters written");
        return;
      }
    }
  }

  private TreeSet<Integer> allClusters() {
    TreeSet<Integer> all = new TreeSet<>();
    for (int c = 0; c < clusterCount; c++) {
      all.add(c);
    }
    return all;
  }

  /** Returns whether a job id stands for a backup job the trace models. */
  public boolean isTracked(String jobId) {
    return tracked.containsKey(jobId);
  }

  /**
   * Logs a Copy for each cluster the spec's job still has to copy and the engine's job has
   * copied (clusters in {@code writtenNow} are left to the Write that copies them first).
   */
  private void logCopies(Set<Integer> writtenNow) {
    for (TrackedJob job : tracked.values()) {
      if (job.copy == null) {
        continue;
      }
      BlockCopy copy = job.job.blockCopy();
      if (copy == null) {
        continue;
      }
      HBitmap bits = copy.copyBitmap().hbitmap();
      List<Integer> copied = new ArrayList<>();
      for (int c : job.copy) {
        long offset = c * granularity;
        boolean pending = bits.nextDirty(offset, granularity) >= 0
            || copy.inFlight(offset, granularity);
        if (!pending && !writtenNow.contains(c)) {
          copied.add(c);
        }
      }
      if (!copied.isEmpty()) {
        states.add(new AbstractState("", "Copy", null, null, null, -1, "", "", null, null, null,
            new TreeSet<>(copied)));
        job.copy.removeAll(copied);
      }
    }
  }

  // ---------------------------------------------------------------- recording

  /**
   * Records the state after {@code action} (with its logged parameters; -1 / "" when not
   * logged). An {@code Internal} step that changed nothing observed is not recorded.
   */
  public void record(Engine engine, String action, int cluster, String bitmap, String source) {
    if (notApplicable != null || nodeName == null || ended != null) {
      return;
    }
    AbstractState now = observe(engine);
    if (notApplicable != null || ended != null) {
      return;
    }
    if (action.equals("Internal") && groupSplit(now)) {
      // QEMU ends the members of an aborted grouped transaction one by one (it finalizes each
      // after waiting for it), where BitmapSync concludes them in one step: the states in
      // between are not observed.
      return;
    }
    logCopies(Set.of());
    boolean lastObserved = states.get(states.size() - 1).bitmaps() != null;
    if (action.equals("Internal") && now.sameObservation(last) && lastObserved) {
      return;
    }
    // The jobs that failed since the last observation may take Fail in the Internal steps
    // before it (a trace check that had to guess which step failed would branch at every one).
    TreeSet<String> failed = new TreeSet<>();
    List<QmpEvent> events = engine.events();
    for (int k = eventsSeen; k < events.size(); k++) {
      QmpEvent event = events.get(k);
      Object device = event.data().get("device");
      if (event.event().equals("BLOCK_JOB_COMPLETED") && event.data().get("error") != null
          && tracked.containsKey(String.valueOf(device))) {
        failed.add(String.valueOf(device));
      }
    }
    eventsSeen = events.size();
    TreeSet<String> cancelled = new TreeSet<>(cancelRequested);
    for (int index : pendingInternal) {
      states.set(index, states.get(index).withEnds(failed, cancelled));
    }
    pendingInternal.clear();
    last = now.withAction(action, cluster, bitmap, source);
    if (action.equals("Internal")) {
      last = last.withEnds(failed, cancelled);
    }
    // A job that ended stops copying; one that is gone (dismissed) may come back under its id.
    for (Map.Entry<String, TrackedJob> entry : tracked.entrySet()) {
      String status = now.jobs().get(entry.getKey());
      if (status == null || status.equals("concluded")) {
        entry.getValue().copy = null;
      }
    }
    tracked.keySet().removeIf(id -> !now.jobs().containsKey(id)
        && tracked.get(id).job.status() == JobStatus.NULL);
    cancelRequested.retainAll(now.jobs().keySet());
    states.add(last);
  }

  /** Records that {@code action} happened, observing nothing after it. */
  public void recordUnobserved(String action, int cluster, String bitmap, String source) {
    if (notApplicable != null || nodeName == null || ended != null) {
      return;
    }
    if (action.equals("Internal")) {
      pendingInternal.add(states.size());
    }
    states.add(new AbstractState("", action, null, null, null, cluster, bitmap, source, null,
        null, null));
  }

  /** Records a CreateTxn with its logged parameters, observing nothing after it. */
  public void recordCreateTxn(SortedMap<String, List<String>> txn) {
    if (notApplicable != null || nodeName == null || ended != null) {
      return;
    }
    logCopies(Set.of());
    states.add(new AbstractState("", "CreateTxn", null, null, null, -1, "", "", txn, null, null));
  }

  /**
   * Records an AbortTxn, observing nothing after it. Which jobs the transaction had created
   * before its failing action is not logged; {@code mayHaveCreated} names the ids it may have
   * used, so that the trace's set of jobs holds them (they ride in the state's cancelled field,
   * which AbortTxn does not read otherwise).
   */
  public void recordAbortTxn(SortedSet<String> mayHaveCreated) {
    if (notApplicable != null || nodeName == null || ended != null) {
      return;
    }
    states.add(new AbstractState("", "AbortTxn", null, null, null, -1, "", "", null, null,
        mayHaveCreated));
  }

  /** Notes the jobs of a transaction with completion-mode grouped. */
  public void grouped(Set<String> jobIds) {
    groups.add(new TreeSet<>(jobIds));
  }

  private boolean groupSplit(AbstractState now) {
    Map<String, String> jobs = now.jobs() == null ? Map.of() : now.jobs();
    groups.removeIf(group -> group.stream().noneMatch(jobs::containsKey));
    for (TreeSet<String> group : groups) {
      boolean someEnded = group.stream()
          .anyMatch(id -> !jobs.containsKey(id) || jobs.get(id).equals("concluded"));
      boolean someLive = group.stream()
          .anyMatch(id -> jobs.containsKey(id) && !jobs.get(id).equals("concluded"));
      if (someEnded && someLive) {
        return true;
      }
    }
    return false;
  }

  /**
   * Notes that a cancel was asked of a job: the job may end as cancelled in any later Internal
   * step, until it is gone.
   */
  public void cancelRequested(String jobId) {
    if (tracked.containsKey(jobId)) {
      cancelRequested.add(jobId);
    }
  }

  /** Records whatever the engine did on its own since the last record. */
  public void observeInternal(Engine engine) {
    record(engine, "Internal", -1, "", "");
  }

  /** Reads the abstract state from the engine; marks the run not applicable if it must. */
  public AbstractState observe(Engine engine) {
    AbstractState.Builder builder = AbstractState.after("").bitmapsObserved()
        .successorsObserved().jobsObserved();
    for (Job job : engine.jobs().jobs()) {
      TrackedJob trackedJob = tracked.get(job.id());
      if (trackedJob != null && trackedJob.job == job && job.status() != JobStatus.NULL) {
        builder.job(job.id(), job.status().qapiName());
      }
    }
    BlockNode node = nodeName == null ? null : engine.graph().find(nodeName);
    if (node != null) {
      builder.node(nodeName);
      if (guestWriteGeneration >= 0 && node.writeGeneration() != guestWriteGeneration) {
        // Stream, commit and mirror jobs are left out as long as they leave the traced node
        // alone; one that writes into it (commit into a base, copy-on-read population) is not.
        notApplicable("something other than the guest wrote into '" + nodeName
            + "' (a job; LayeredBitmaps covers stream, commit and mirror)");
      }
      guestWriteGeneration = node.writeGeneration();
      for (DirtyBitmap bitmap : node.bitmaps()) {
        if (bitmap.isAnonymous() || otherGranularity.contains(bitmap.name())) {
          continue;
        }
        if (!added.contains(bitmap.name())) {
          notApplicable("bitmap '" + bitmap.name() + "' was loaded from the image, not added");
        }
        if (bitmap.granularityBytes() != granularity) {
          notApplicable("bitmaps of granularities " + granularity + " and "
              + bitmap.granularityBytes() + "; BitmapSync has one cluster size");
        }
        builder.bitmap(bitmap.name(), clusters(bitmap).toArray(Integer[]::new));
        if (bitmap.hasSuccessor()) {
          builder.successor(bitmap.name(), clusters(bitmap.successor()).toArray(Integer[]::new));
        }
      }
    } else if (nodeName != null && ended == null) {
      // Removing the node ends its bitmaps' story; what came before is still a valid trace.
      endHere("node '" + nodeName + "' was removed");
    }
    return builder.build();
  }

  /** Returns the dirty clusters of a bitmap. */
  public static SortedSet<Integer> clusters(DirtyBitmap bitmap) {
    TreeSet<Integer> clusters = new TreeSet<>();
    HBitmap bits = bitmap.hbitmap();
    long granularity = bitmap.granularityBytes();
    long size = bitmap.sizeBytes();
    long offset = 0;
    while (offset < size) {
      long next = bits.nextDirty(offset, size - offset);
      if (next < 0) {
        break;
      }
      long cluster = next / granularity;
      clusters.add((int) cluster);
      offset = (cluster + 1) * granularity;
    }
    return clusters;
  }
}
