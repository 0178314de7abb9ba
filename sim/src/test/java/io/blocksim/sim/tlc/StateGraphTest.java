package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The state-graph loader that model-based tests will walk. Goal: the graph read from TLC's dot
 * dump is the complete graph TLC explored. Method: load JobLifecycle, compare node and edge
 * counts with TLC's own statistics (a different output channel), check that every action of the
 * spec's next-state relation labels some edge and that every QEMU status occurs, and that
 * shortest paths chain from an initial state.
 */
@Tag("tlc")
class StateGraphTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("graph");

  /** The action operators JobLifecycle's Next is made of (read from the spec, by hand). */
  private static final Set<String> JOB_LIFECYCLE_ACTIONS = Set.of(
      "Create", "Start", "DrainBegin", "DrainEnd", "PausePoint", "ResumePoint", "BecomeReady",
      "RunSucceeds", "RunFails", "NoticeCancel", "AllDone", "AutoFinalize", "Abort",
      "AutoDismiss", "Pause", "Resume", "SetSpeed", "Complete", "Finalize", "Dismiss", "Cancel",
      "Quiescent");

  private static StateGraph graph;

  @BeforeAll
  static void loadJobLifecycle() {
    graph = StateGraph.load(SPECS, "JobLifecycle", "JobLifecycle.cfg", WORK);
    System.out.printf("JobLifecycle graph: %d states, %d edges, TLC %d ms%n",
        graph.states().size(), graph.edges().size(), graph.tlc().millis());
  }

  @Test
  void hasEveryStateTlcFound() {
    assertThat((long) graph.states().size()).isEqualTo(graph.tlc().distinctStates());
    assertThat(graph.initialStates()).hasSize(1);
  }

  @Test
  void hasOneEdgePerGeneratedSuccessor() {
    // TLC counts the initial state as generated; every other generated state is one edge.
    long expected = graph.tlc().generatedStates() - graph.initialStates().size();

    assertThat((long) graph.edges().size()).isEqualTo(expected);
  }

  @Test
  void labelsEdgesWithEveryActionOfTheSpec() {
    assertThat(graph.actions()).containsExactlyInAnyOrderElementsOf(JOB_LIFECYCLE_ACTIONS);
  }

  @Test
  void containsEveryJobStatus() {
    TreeSet<String> statuses = new TreeSet<>();
    graph.states().values().forEach(state -> {
      Map<?, ?> job = (Map<?, ?>) ((Map<?, ?>) state.value("jobs")).get("j1");
      statuses.add((String) job.get("status"));
    });

    assertThat(statuses).containsExactlyInAnyOrder("undefined", "created", "running", "paused",
        "ready", "standby", "waiting", "pending", "aborting", "concluded", "null");
  }

  @Test
  void parsesVariablesOfTheInitialState() {
    StateGraph.State initial = graph.initialStates().get(0);

    assertThat(initial.variables()).containsKeys("jobs", "lastTransition", "lastVerb");
    assertThat(initial.variables().get("lastVerb")).isEqualTo("<<>>");
    assertThat(initial.variables().get("jobs")).contains("status |-> \"undefined\"");
  }

  @Test
  void shortestPathsChainFromTheInitialState() {
    StateGraph.State standby = graph.states().values().stream()
        .filter(state -> state.variables().get("jobs").contains("\"standby\""))
        .findFirst().orElseThrow();

    List<StateGraph.Edge> path = graph.shortestPathTo(standby.id());

    assertThat(path.get(0).source()).isEqualTo(graph.initialStates().get(0).id());
    for (int i = 1; i < path.size(); i++) {
      assertThat(path.get(i).source()).isEqualTo(path.get(i - 1).target());
    }
    assertThat(path.get(path.size() - 1).target()).isEqualTo(standby.id());
    // A mirror must be created, started, become ready, be asked to pause and reach a pause point.
    assertThat(path).extracting(StateGraph.Edge::action)
        .contains("Create", "Start", "BecomeReady", "PausePoint");
  }

  @Test
  void outgoingListsEachEdgeUnderItsSourceInFileOrder() {
    int total = 0;
    for (long id : graph.states().keySet()) {
      List<StateGraph.Edge> out = graph.outgoing(id);
      assertThat(out).allSatisfy(edge -> assertThat(edge.source()).isEqualTo(id));
      assertThat(out).isEqualTo(graph.edges().stream().filter(e -> e.source() == id).toList());
      total += out.size();
    }
    assertThat(total).isEqualTo(graph.edges().size());
  }

  @Test
  void everyShortestPathIsAsShortAsABreadthFirstDistance() {
    // Distances by an independent level-by-level search over the edge list.
    Map<Long, Integer> distance = new java.util.HashMap<>();
    Set<Long> frontier = new TreeSet<>();
    graph.initialStates().forEach(s -> frontier.add(s.id()));
    for (int level = 0; !frontier.isEmpty(); level++) {
      for (long id : frontier) {
        distance.put(id, level);
      }
      Set<Long> next = new TreeSet<>();
      for (StateGraph.Edge e : graph.edges()) {
        if (frontier.contains(e.source()) && !distance.containsKey(e.target())) {
          next.add(e.target());
        }
      }
      frontier.clear();
      frontier.addAll(next);
    }

    assertThat(distance).hasSameSizeAs(graph.states());
    distance.forEach((id, d) -> {
      List<StateGraph.Edge> path = graph.shortestPathTo(id);
      assertThat(path).as("path to %d", id).hasSize(d);
      for (int i = 1; i < path.size(); i++) {
        assertThat(path.get(i).source()).isEqualTo(path.get(i - 1).target());
      }
    });
  }

  @Test
  void loadsBitmapSyncAtModelBasedTestingBounds() {
    StateGraph small = StateGraph.load(SPECS, "BitmapSync", "BitmapSyncSmall.cfg", WORK);

    assertThat((long) small.states().size()).isEqualTo(small.tlc().distinctStates());
    assertThat(small.actions()).containsExactlyInAnyOrder("Write", "CreateTxn", "StartTxn",
        "AbortTxn", "Copy", "CopyDone", "Fail", "Cancel", "Finalize", "Dismiss", "Quiescent");
    StateGraph.State initial = small.initialStates().get(0);
    assertThat(initial.variables()).containsKeys("disk", "successors", "frozen", "jobs", "chain");
    assertThat(initial.value("bitmaps")).isEqualTo(Map.of("bitmap0", Set.of()));
    assertThat(initial.value("disk")).isEqualTo(Map.of(0L, 0L, 1L, 0L));
  }

  @Test
  void parsesAWrappedLabelAndSkipsRankLines() {
    List<String> dot = List.of(
        "strict digraph DiskGraph {",
        "subgraph cluster_graph {",
        "1 [label=\"/\\\\ x = {1,",
        "  2}\\n/\\\\ y = \\\"a\\\"\",style = filled]",
        "1 -> -2 [label=\"Step\",color=\"black\",fontcolor=\"black\"];",
        "-2 [label=\"/\\\\ x = {}\\n/\\\\ y = \\\"b\\\"\"];",
        "-2 -> -2 [label=\"Step\",color=\"black\",fontcolor=\"black\"];",
        "{rank = same; 1;}",
        "}",
        "}");

    StateGraph parsed = StateGraph.parse(dot, null);

    assertThat(parsed.states()).containsOnlyKeys(1L, -2L);
    assertThat(parsed.states().get(1L).initial()).isTrue();
    assertThat(parsed.states().get(1L).variables()).containsEntry("x", "{1, 2}")
        .containsEntry("y", "\"a\"");
    assertThat(parsed.edges()).containsExactly(
        new StateGraph.Edge(1, -2, "Step"), new StateGraph.Edge(-2, -2, "Step"));
  }

  @Test
  void rejectsAnEdgeToAStateWithoutANode() {
    List<String> dot = List.of("1 [label=\"/\\\\ x = 1\",style = filled]",
        "1 -> 7 [label=\"Step\"];");

    assertThatThrownBy(() -> StateGraph.parse(dot, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no node line");
  }
}
