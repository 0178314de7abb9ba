package io.blocksim.sim.tlc;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Model-based testing from a spec's state graph (tla-crosscheck.md §6): for every edge, a fresh
 * implementation replays the shortest path to the edge's source, takes the edge's action, and
 * its abstract state must equal the edge's target state. Edges of a shortest path are replayed
 * without comparison (each is compared when it is the edge under test).
 */
final class GraphWalk {
  /** An edge the implementation cannot take the way the spec does, and why. */
  static final class Unrealizable extends Exception {
    Unrealizable(String reason) {
      super(reason);
    }
  }

  /** The implementation under test, seen through the spec's vocabulary. */
  interface Model<T> {
    /** Returns an implementation in the spec's initial state. */
    T fresh() throws Exception;

    /** Sees the whole path before it is replayed (to plan faults); nothing by default. */
    default void plan(T sut, StateGraph graph, List<StateGraph.Edge> path) throws Exception {}

    /** Takes the action of {@code edge} (from {@code from} to {@code to}) on {@code sut}. */
    void apply(T sut, StateGraph.State from, StateGraph.Edge edge, StateGraph.State to)
        throws Exception;

    /** Returns the implementation's abstract state. */
    Object abstractOf(T sut) throws Exception;

    /** Returns the spec state in the same form as {@link #abstractOf}. */
    Object project(StateGraph.State state);
  }

  /** What a walk found. */
  record Result(int edges, int walked, Map<String, Integer> walkedPerAction,
      Map<String, Integer> unrealizablePerAction, Map<String, String> unrealizableReasons,
      Map<String, Map<String, Integer>> unrealizablePerReason, List<StateGraph.Edge> walkedEdges,
      List<String> mismatches) {}

  private GraphWalk() {}

  static <T> Result walk(StateGraph graph, Model<T> model) throws Exception {
    TreeMap<String, Integer> walked = new TreeMap<>();
    TreeMap<String, Integer> unrealizable = new TreeMap<>();
    TreeMap<String, String> reasons = new TreeMap<>();
    TreeMap<String, Map<String, Integer>> perReason = new TreeMap<>();
    graph.actions().forEach(action -> walked.put(action, 0));
    List<String> mismatches = new ArrayList<>();
    List<StateGraph.Edge> walkedEdges = new ArrayList<>();
    int count = 0;
    for (StateGraph.Edge edge : graph.edges()) {
      List<StateGraph.Edge> path = new ArrayList<>(graph.shortestPathTo(edge.source()));
      path.add(edge);
      T sut = model.fresh();
      try {
        model.plan(sut, graph, path);
      } catch (Unrealizable e) {
        unrealizable.merge(edge.action(), 1, Integer::sum);
        reasons.putIfAbsent(edge.action(), e.getMessage());
        perReason.computeIfAbsent(e.getMessage(), k -> new TreeMap<>())
            .merge(edge.action(), 1, Integer::sum);
        continue;
      }
      StringBuilder trail = new StringBuilder();
      try {
        for (StateGraph.Edge step : path) {
          trail.append(trail.length() == 0 ? "" : " ; ").append(step.action());
          model.apply(sut, graph.states().get(step.source()), step,
              graph.states().get(step.target()));
        }
      } catch (Unrealizable e) {
        unrealizable.merge(edge.action(), 1, Integer::sum);
        reasons.putIfAbsent(edge.action(), e.getMessage());
        perReason.computeIfAbsent(e.getMessage(), k -> new TreeMap<>())
            .merge(edge.action(), 1, Integer::sum);
        continue;
      } catch (RuntimeException e) {
        // The engine refused a step the spec takes: a mismatch, with the path that led there.
        mismatches.add(trail + "\n    engine refused: " + e.getMessage());
        continue;
      }
      count++;
      walked.merge(edge.action(), 1, Integer::sum);
      walkedEdges.add(edge);
      Object expected = model.project(graph.states().get(edge.target()));
      Object actual = model.abstractOf(sut);
      if (!Objects.equals(expected, actual) && mismatches.size() < 5) {
        mismatches.add(trail + "\n    spec:   " + expected + "\n    engine: " + actual);
      } else if (!Objects.equals(expected, actual)) {
        mismatches.add(trail.toString());
      }
    }
    return new Result(graph.edges().size(), count, walked, unrealizable, reasons, perReason,
        walkedEdges, mismatches);
  }
}
