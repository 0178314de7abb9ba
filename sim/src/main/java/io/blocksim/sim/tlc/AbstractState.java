package io.blocksim.sim.tlc;

import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One state of an implementation run, in the vocabulary the TLA+ specs use (refinement mapping
 * for trace validation). The names are the engine's and the scenario files': bitmap names, job
 * ids, QEMU job statuses, cluster indexes. A field left null was not observed and is not
 * compared.
 *
 * @param node the node-name the bitmaps belong to ("" when not stated); BitmapSync models one node
 * @param action the spec action that led here (e.g. "Write", "CreateTxn", "Pause"); "" for the
 *     first state or when unknown (then any spec step, or none, may match)
 * @param bitmaps named bitmap → dirty cluster indexes; a frozen bitmap shows its frozen content
 * @param successors for each frozen bitmap, the clusters its successor recorded; a bitmap that
 *     is not frozen is absent
 * @param jobs job id → QEMU status ("created", "running", "paused", ...); a job that does not
 *     exist (not yet created, or dismissed) is absent
 * @param cluster for a Write, the cluster written; -1 when not logged
 * @param bitmap for a Clear or Merge, the bitmap changed; "" when not logged
 * @param source for a Merge, the bitmap merged in; "" when not logged
 * @param txn for a CreateTxn, job id → {bitmap, sync, bitmap-mode} of each job the transaction
 *     creates, and the key {@link #GROUPED} when its completion-mode is grouped; null when not
 *     logged
 * @param failed for an Internal step, the jobs that failed in it (only they may take the spec's
 *     Fail); empty otherwise
 * @param cancelled for an Internal step, the jobs a cancel was asked of (only they may take the
 *     spec's Cancel: QEMU ends a cancelled job when it next yields, not at the command); for an
 *     AbortTxn, the jobs the transaction may have created; empty otherwise
 * @param clusters for a Copy, the clusters one job copied since the last observation (one
 *     Copy step each: copies of distinct clusters commute); empty otherwise
 */
public record AbstractState(
    String node,
    String action,
    SortedMap<String, SortedSet<Integer>> bitmaps,
    SortedMap<String, SortedSet<Integer>> successors,
    SortedMap<String, String> jobs,
    int cluster,
    String bitmap,
    String source,
    SortedMap<String, java.util.List<String>> txn,
    SortedSet<String> failed,
    SortedSet<String> cancelled,
    SortedSet<Integer> clusters) {

  /** The key of {@code txn} that marks completion-mode grouped. */
  public static final String GROUPED = "";

  public AbstractState {
    txn = txn == null ? null : Collections.unmodifiableSortedMap(new TreeMap<>(txn));
    failed = failed == null ? Collections.emptySortedSet()
        : Collections.unmodifiableSortedSet(new TreeSet<>(failed));
    cancelled = cancelled == null ? Collections.emptySortedSet()
        : Collections.unmodifiableSortedSet(new TreeSet<>(cancelled));
    clusters = clusters == null ? Collections.emptySortedSet()
        : Collections.unmodifiableSortedSet(new TreeSet<>(clusters));
    node = node == null ? "" : node;
    bitmap = bitmap == null ? "" : bitmap;
    source = source == null ? "" : source;
    action = action == null ? "" : action;
    bitmaps = bitmaps == null ? null : copyOfSets(bitmaps);
    successors = successors == null ? null : copyOfSets(successors);
    jobs = jobs == null ? null : Collections.unmodifiableSortedMap(new TreeMap<>(jobs));
  }

  /** A state whose action logged no set of clusters. */
  public AbstractState(String node, String action, SortedMap<String, SortedSet<Integer>> bitmaps,
      SortedMap<String, SortedSet<Integer>> successors, SortedMap<String, String> jobs,
      int cluster, String bitmap, String source, SortedMap<String, java.util.List<String>> txn,
      SortedSet<String> failed, SortedSet<String> cancelled) {
    this(node, action, bitmaps, successors, jobs, cluster, bitmap, source, txn, failed,
        cancelled, null);
  }

  /** A state with no action parameters logged. */
  public AbstractState(String node, String action, SortedMap<String, SortedSet<Integer>> bitmaps,
      SortedMap<String, SortedSet<Integer>> successors, SortedMap<String, String> jobs) {
    this(node, action, bitmaps, successors, jobs, -1, "", "", null, null, null);
  }

  /** Returns this state with the given action and its logged parameters. */
  public AbstractState withAction(String newAction, int newCluster, String newBitmap,
      String newSource) {
    return new AbstractState(node, newAction, bitmaps, successors, jobs, newCluster, newBitmap,
        newSource, null, null, null);
  }

  /** Returns this state with the jobs that failed, and those asked to cancel, in it. */
  public AbstractState withEnds(SortedSet<String> jobsFailed, SortedSet<String> jobsCancelled) {
    return new AbstractState(node, action, bitmaps, successors, jobs, cluster, bitmap, source,
        txn, jobsFailed, jobsCancelled, clusters);
  }

  /** Returns this state with every job id renamed by {@code rename} (ids it lacks stay). */
  public AbstractState withJobsRenamed(java.util.function.UnaryOperator<String> rename) {
    TreeMap<String, String> renamedJobs = null;
    if (jobs != null) {
      renamedJobs = new TreeMap<>();
      for (Map.Entry<String, String> job : jobs.entrySet()) {
        renamedJobs.put(rename.apply(job.getKey()), job.getValue());
      }
    }
    TreeMap<String, java.util.List<String>> renamedTxn = null;
    if (txn != null) {
      renamedTxn = new TreeMap<>();
      for (Map.Entry<String, java.util.List<String>> job : txn.entrySet()) {
        renamedTxn.put(job.getKey().equals(GROUPED) ? GROUPED : rename.apply(job.getKey()),
            job.getValue());
      }
    }
    TreeSet<String> renamedFailed = new TreeSet<>();
    failed.forEach(id -> renamedFailed.add(rename.apply(id)));
    TreeSet<String> renamedCancelled = new TreeSet<>();
    cancelled.forEach(id -> renamedCancelled.add(rename.apply(id)));
    return new AbstractState(node, action, bitmaps, successors, renamedJobs, cluster, bitmap,
        source, renamedTxn, renamedFailed, renamedCancelled, clusters);
  }

  /** Returns whether the observed facts (not the action) equal those of {@code other}. */
  public boolean sameObservation(AbstractState other) {
    return java.util.Objects.equals(bitmaps, other.bitmaps)
        && java.util.Objects.equals(successors, other.successors)
        && java.util.Objects.equals(jobs, other.jobs);
  }

  /** Starts a state reached by {@code action}, with nothing observed yet. */
  public static Builder after(String action) {
    return new Builder(action);
  }

  private static SortedMap<String, SortedSet<Integer>> copyOfSets(
      Map<String, ? extends SortedSet<Integer>> sets) {
    TreeMap<String, SortedSet<Integer>> copy = new TreeMap<>();
    sets.forEach((name, clusters) ->
        copy.put(name, Collections.unmodifiableSortedSet(new TreeSet<>(clusters))));
    return Collections.unmodifiableSortedMap(copy);
  }

  /** Builds an {@link AbstractState}; each kind of fact becomes observed when first added. */
  public static final class Builder {
    private final String action;
    private String node = "";
    private TreeMap<String, SortedSet<Integer>> bitmaps;
    private TreeMap<String, SortedSet<Integer>> successors;
    private TreeMap<String, String> jobs;

    private Builder(String action) {
      this.action = action;
    }

    /** Names the node the bitmaps belong to. */
    public Builder node(String nodeName) {
      node = nodeName;
      return this;
    }

    /** Adds a named bitmap with its dirty clusters. */
    public Builder bitmap(String name, Integer... clusters) {
      bitmaps = bitmaps == null ? new TreeMap<>() : bitmaps;
      bitmaps.put(name, new TreeSet<>(java.util.List.of(clusters)));
      return this;
    }

    /** Marks the bitmaps as observed even if none is added (only with no bitmaps in the run). */
    public Builder bitmapsObserved() {
      bitmaps = bitmaps == null ? new TreeMap<>() : bitmaps;
      return this;
    }

    /** Adds the successor of a frozen bitmap with the clusters it recorded. */
    public Builder successor(String bitmapName, Integer... clusters) {
      successorsObserved();
      successors.put(bitmapName, new TreeSet<>(java.util.List.of(clusters)));
      return this;
    }

    /** Marks successors as observed: a bitmap without one is then known not to be frozen. */
    public Builder successorsObserved() {
      successors = successors == null ? new TreeMap<>() : successors;
      return this;
    }

    /** Adds a job with its QEMU status. */
    public Builder job(String id, String status) {
      jobsObserved();
      jobs.put(id, status);
      return this;
    }

    /** Marks jobs as observed: a job not added is then known not to exist. */
    public Builder jobsObserved() {
      jobs = jobs == null ? new TreeMap<>() : jobs;
      return this;
    }

    public AbstractState build() {
      return new AbstractState(node, action, bitmaps, successors, jobs);
    }
  }
}
