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
 */
public record AbstractState(
    String node,
    String action,
    SortedMap<String, SortedSet<Integer>> bitmaps,
    SortedMap<String, SortedSet<Integer>> successors,
    SortedMap<String, String> jobs) {

  public AbstractState {
    node = node == null ? "" : node;
    action = action == null ? "" : action;
    bitmaps = bitmaps == null ? null : copyOfSets(bitmaps);
    successors = successors == null ? null : copyOfSets(successors);
    jobs = jobs == null ? null : Collections.unmodifiableSortedMap(new TreeMap<>(jobs));
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
