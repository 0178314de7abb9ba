package io.blocksim.sim.tlc;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.bitmap.HBitmap;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.job.Job;
import io.blocksim.model.job.JobStatus;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;

/**
 * Records a run of the engine as a trace in BitmapSync's vocabulary (trace validation,
 * tla-crosscheck.md §5): after each step the caller names the spec action it took, and the
 * recorder adds the abstract state it reads from the engine (the named bitmaps of one node as
 * cluster sets, their successors, the job statuses).
 *
 * <p>BitmapSync models one node whose bitmaps all have one granularity, always enabled, and
 * backup jobs that each take one of them. A run that leaves that vocabulary (a disabled bitmap,
 * a job of another type, a second granularity, more clusters than TLC can enumerate, ...) is
 * marked not applicable, with the reason, and is never reported as validated.
 */
public final class TraceRecorder {
  /**
   * The largest disk, in clusters, a trace may have. The trace check explores the orders in which
   * a job copies its clusters between two observations, so the cost grows as 2^clusters.
   */
  public static final int MAX_CLUSTERS = 8;

  private final List<AbstractState> states = new ArrayList<>();
  private String nodeName;
  private long granularity;
  private int clusterCount;
  private String notApplicable;
  private AbstractState last;
  private int eventsSeen;
  private final List<Integer> pendingInternal = new ArrayList<>();
  private final TreeSet<String> cancelRequested = new TreeSet<>();
  private final List<TreeSet<String>> groups = new ArrayList<>();

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

  /** Sets the node whose bitmaps are traced, if none is set yet. */
  public void trackNode(String name) {
    if (nodeName == null) {
      nodeName = name;
    } else if (!nodeName.equals(name)) {
      notApplicable("bitmaps on two nodes ('" + nodeName + "', '" + name
          + "'); BitmapSync models one node");
    }
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

  /** Returns the recorded states, the initial one first. */
  public List<AbstractState> states() {
    return Collections.unmodifiableList(states);
  }

  /** Returns the number of clusters of the traced disk (at least 1). */
  public int clusterCount() {
    return Math.max(1, clusterCount);
  }

  /** Returns the bitmap granularity in bytes, 0 while no bitmap was seen. */
  public long granularity() {
    return granularity;
  }

  /** Returns the clusters {@code [offset, offset + length)} touches, in order. */
  public List<Integer> clustersOf(long offset, long length) {
    List<Integer> clusters = new ArrayList<>();
    if (granularity == 0 || length <= 0) {
      return clusters;
    }
    for (long c = offset / granularity; c * granularity < offset + length; c++) {
      clusters.add((int) c);
    }
    return clusters;
  }

  /**
   * Records the state after {@code action} (with its logged parameters; -1 / "" when not
   * logged). An {@code Internal} step that changed nothing observed is not recorded.
   */
  public void record(Engine engine, String action, int cluster, String bitmap, String source) {
    if (notApplicable != null) {
      return;
    }
    AbstractState now = observe(engine);
    if (notApplicable != null) {
      return;
    }
    if (action.equals("Internal") && groupSplit(now)) {
      // QEMU ends the members of an aborted grouped transaction one by one (it finalizes each
      // after waiting for it), where BitmapSync concludes them in one step: the states in
      // between are not observed.
      return;
    }
    boolean lastObserved = states.get(states.size() - 1).bitmaps() != null;
    if (action.equals("Internal") && now.sameObservation(last) && lastObserved) {
      return;
    }
    // The jobs that failed since the last observation may take Fail in the Internal steps
    // before it (a trace check that had to guess which step failed would branch at every one).
    TreeSet<String> failed = new TreeSet<>();
    List<io.blocksim.model.qmp.QmpEvent> events = engine.events();
    for (int k = eventsSeen; k < events.size(); k++) {
      io.blocksim.model.qmp.QmpEvent event = events.get(k);
      if (event.event().equals("BLOCK_JOB_COMPLETED") && event.data().get("error") != null) {
        failed.add(String.valueOf(event.data().get("device")));
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
    // A job that is gone (dismissed) may come back under its id as a new job.
    cancelRequested.retainAll(now.jobs() == null ? java.util.Set.of() : now.jobs().keySet());
    states.add(last);
  }

  /** Records that {@code action} happened, observing nothing after it. */
  public void recordUnobserved(String action, int cluster, String bitmap, String source) {
    if (notApplicable != null) {
      return;
    }
    if (action.equals("Internal")) {
      pendingInternal.add(states.size());
    }
    states.add(new AbstractState("", action, null, null, null, cluster, bitmap, source, null,
        null, null));
  }

  /** Records a CreateTxn with its logged parameters, observing nothing after it. */
  public void recordCreateTxn(java.util.SortedMap<String, List<String>> txn) {
    if (notApplicable != null) {
      return;
    }
    states.add(new AbstractState("", "CreateTxn", null, null, null, -1, "", "", txn, null, null));
  }

  /** Notes the jobs of a transaction with completion-mode grouped. */
  public void grouped(java.util.Set<String> jobIds) {
    groups.add(new TreeSet<>(jobIds));
  }

  private boolean groupSplit(AbstractState now) {
    java.util.Map<String, String> jobs = now.jobs() == null ? java.util.Map.of() : now.jobs();
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
    cancelRequested.add(jobId);
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
      if (!job.type().equals("backup")) {
        notApplicable("job '" + job.id() + "' is a " + job.type()
            + " job; BitmapSync models backup jobs");
      }
      if (job.status() != JobStatus.NULL) {
        builder.job(job.id(), job.status().qapiName());
      }
    }
    BlockNode node = nodeName == null ? null : engine.graph().find(nodeName);
    if (node != null) {
      builder.node(nodeName);
      for (DirtyBitmap bitmap : node.bitmaps()) {
        if (bitmap.isAnonymous()) {
          continue;
        }
        checkShape(node, bitmap);
        builder.bitmap(bitmap.name(), clusters(bitmap).toArray(Integer[]::new));
        if (bitmap.hasSuccessor()) {
          builder.successor(bitmap.name(), clusters(bitmap.successor()).toArray(Integer[]::new));
        } else if (bitmap.disabled()) {
          notApplicable("bitmap '" + bitmap.name() + "' is disabled; BitmapSync's bitmaps are "
              + "always enabled (Checkpoints covers enable/disable)");
        }
      }
    } else if (nodeName != null) {
      notApplicable("node '" + nodeName + "' was removed");
    }
    return builder.build();
  }

  private void checkShape(BlockNode node, DirtyBitmap bitmap) {
    if (granularity == 0) {
      granularity = bitmap.granularityBytes();
      long clusters = (node.length() + granularity - 1) / granularity;
      clusterCount = (int) Math.min(Integer.MAX_VALUE, clusters);
      if (clusters > MAX_CLUSTERS) {
        notApplicable("the disk has " + clusters + " clusters of " + granularity
            + " bytes; trace checks enumerate copy orders, so at most " + MAX_CLUSTERS);
      }
    } else if (bitmap.granularityBytes() != granularity) {
      notApplicable("bitmaps of granularities " + granularity + " and "
          + bitmap.granularityBytes() + "; BitmapSync has one cluster size");
    }
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
