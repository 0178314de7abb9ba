package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Model-based test of bitmaps on a backing chain against {@code specs/LayeredBitmaps.tla},
 * with the stream, commit and mirror edges {@link LayeredBitmapsModelTest} leaves pending.
 * Goal: for every edge of the spec's graph, the engine's four bitmaps, its job and the mirror's
 * readiness are those of a spec state the engine may be in. Method: {@link GraphWalk} on the
 * chain of {@link LayeredBitmapsModelTest.Model}; the user's steps are driven through QMP
 * (block-stream, block-commit, blockdev-mirror, job-complete) and qemu-io, while the jobs copy
 * clusters on their own schedule (rate-limited), so the walk tracks the set of spec states the
 * engine may be in (the same user steps, the jobs' own steps at any time), kept only where
 * the observation is the engine's. A job's own edge runs the simulation until the engine shows
 * what the edge's target leads to.
 */
@Tag("tlc")
class LayeredBitmapsJobsModelTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("mbt-layered-jobs");
  private static final long CLUSTER = 65536;
  private static final long TIMEOUT_NS = 10_000_000_000L;
  /** The spec's steps the jobs take on their own. */
  static final Set<String> INTERNAL = Set.of("StreamStep", "StreamDone", "CommitStep",
      "CommitDone", "MirrorStep", "MirrorReady", "Quiescent");
  private static StateGraph graph;
  private static final Map<Long, List<StateGraph.Edge>> OUT = new TreeMap<>();

  @BeforeAll
  static void loadGraph() {
    graph = StateGraph.load(SPECS, "LayeredBitmaps", "LayeredBitmaps.cfg", WORK);
    graph.edges().forEach(e -> OUT.computeIfAbsent(e.source(), k -> new ArrayList<>()).add(e));
  }

  /** The engine and the spec states it may be in. */
  static final class Sut {
    SimBackend sim;
    Set<Long> possible = new TreeSet<>();
    /** The node the guest's I/O goes to: the filter, or the mirror's target after a pivot. */
    String active = "cor";
    final List<String> problems = new ArrayList<>();
  }

  static class Model implements GraphWalk.Model<Sut> {
    private final LayeredBitmapsModelTest.Model chain =
        new LayeredBitmapsModelTest.Model(engine -> { });

    @Override
    public Sut fresh() {
      return new Sut();
    }

    @Override
    public void apply(Sut sut, StateGraph.State from, StateGraph.Edge edge,
        StateGraph.State to) throws Exception {
      if (sut.sim == null) {
        sut.sim = chain.fresh();
        sut.sim.createImage(new Backend.ImageSpec("target.qcow2", "qcow2", 2 * CLUSTER, null,
            null, CLUSTER, Map.of()));
        ok(sut.sim, "blockdev-add", "node-name", "target", "driver", "qcow2",
            "file", Json.object("driver", "file", "filename", "target.qcow2"));
        graph.initialStates().forEach(st -> sut.possible.add(st.id()));
      }
      String action = edge.action();
      if (INTERNAL.contains(action)) {
        Set<Object> after = observations(closureIds(Set.of(to.id())));
        sut.sim.runUntil(() -> after.contains(observe(sut.sim)), TIMEOUT_NS);
      } else {
        userStep(sut, action, from, to);
        sut.possible = closureIds(post(sut.possible, edge, from, to));
      }
      sut.possible = closureIds(sut.possible);
      Object shown = observe(sut.sim);
      Set<Long> consistent = new TreeSet<>();
      sut.possible.stream().filter(id -> observation(graph.states().get(id)).equals(shown))
          .forEach(consistent::add);
      if (!consistent.isEmpty()) {
        sut.possible = consistent;
      }
    }

    /** Takes a step of the user's: a guest write or read, or a job command. */
    void userStep(Sut sut, String action, StateGraph.State from, StateGraph.State to)
        throws Exception {
      SimBackend sim = sut.sim;
      switch (action) {
        case "Write" -> sim.io(sut.active, "write -P 0x7e " + written(from, to) * CLUSTER + " "
            + CLUSTER);
        case "CopyOnRead" -> sim.io(sut.active, "read " + populated(from, to) * CLUSTER + " "
            + CLUSTER);
        case "StartStream" -> ok(sim, "block-stream", "job-id", "stream", "device", "top",
            "speed", CLUSTER);
        case "StartCommit" -> ok(sim, "block-commit", "job-id", "commit", "device", "cor",
            "top-node", "mid", "base-node", "base", "speed", CLUSTER);
        case "StartMirror" -> ok(sim, "blockdev-mirror", "job-id", "mirror", "device", "cor",
            "target", "target", "sync", "full", "speed", CLUSTER);
        case "MirrorPivot" -> {
          ok(sim, "job-complete", "id", "mirror");
          sim.runUntil(() -> jobKind(sim).equals("none"), TIMEOUT_NS);
          sut.active = "target";
        }
        default -> throw new IllegalStateException("no engine action for " + action);
      }
    }

    @Override
    public Object abstractOf(Sut sut) {
      Object shown = observe(sut.sim);
      Set<Object> allowed = observations(sut.possible);
      return allowed.contains(shown) ? "allowed" : "engine " + shown + ", spec " + allowed;
    }

    @Override
    public Object project(StateGraph.State state) {
      return "allowed";
    }

    /** The engine's bitmaps, its job and whether the mirror is ready. */
    Object observe(SimBackend sim) {
      return List.of(chain.abstractOf(sim), jobKind(sim), mirrorReady(sim));
    }
  }

  static Object observation(StateGraph.State state) {
    return List.of(new TreeMap<>((Map<?, ?>) state.value("bitmaps")), state.value("job"),
        state.value("ready"));
  }

  static Set<Object> observations(Set<Long> states) {
    Set<Object> out = new java.util.LinkedHashSet<>();
    states.forEach(id -> out.add(observation(graph.states().get(id))));
    return out;
  }

  /** The spec states the user step of {@code edge} leads to from any of {@code states}. */
  static Set<Long> post(Set<Long> states, StateGraph.Edge edge, StateGraph.State from,
      StateGraph.State to) {
    Object effect = effect(edge.action(), from, to);
    Set<Long> next = new TreeSet<>();
    for (long id : states) {
      for (StateGraph.Edge e : OUT.getOrDefault(id, List.of())) {
        if (e.action().equals(edge.action()) && Objects.equals(effect,
            effect(e.action(), graph.states().get(e.source()), graph.states().get(e.target())))) {
          next.add(e.target());
        }
      }
    }
    return next;
  }

  /** Which cluster a Write or CopyOnRead edge touches (null for the other actions). */
  static Object effect(String action, StateGraph.State from, StateGraph.State to) {
    return switch (action) {
      case "Write" -> written(from, to);
      case "CopyOnRead" -> populated(from, to);
      default -> null;
    };
  }

  /** The cluster a Write edge writes: the one whose guest view changes. */
  static long written(StateGraph.State from, StateGraph.State to) {
    Map<?, ?> before = function(from.value("view"));
    Map<?, ?> after = function(to.value("view"));
    for (Map.Entry<?, ?> entry : after.entrySet()) {
      if (!entry.getValue().equals(before.get(entry.getKey()))) {
        return (Long) entry.getKey();
      }
    }
    throw new IllegalStateException("a Write edge that changes no cluster");
  }

  /** The cluster a CopyOnRead edge populates in the top. */
  static long populated(StateGraph.State from, StateGraph.State to) {
    Map<?, ?> before = function(((Map<?, ?>) from.value("data")).get("top"));
    for (Object key : function(((Map<?, ?>) to.value("data")).get("top")).keySet()) {
      if (!before.containsKey(key)) {
        return (Long) key;
      }
    }
    throw new IllegalStateException("a CopyOnRead edge that populates nothing");
  }

  /** A function on clusters; TLC prints one on 0..1 as a map, one on 1..n as a sequence. */
  static Map<?, ?> function(Object value) {
    if (value instanceof List<?> list) {
      TreeMap<Long, Object> map = new TreeMap<>();
      for (int k = 0; k < list.size(); k++) {
        map.put((long) k + 1, list.get(k));
      }
      return map;
    }
    return (Map<?, ?>) value;
  }

  static Set<Long> closureIds(Set<Long> states) {
    Set<Long> seen = new TreeSet<>();
    ArrayDeque<Long> todo = new ArrayDeque<>(states);
    while (!todo.isEmpty()) {
      long id = todo.poll();
      if (seen.add(id)) {
        for (StateGraph.Edge e : OUT.getOrDefault(id, List.of())) {
          if (INTERNAL.contains(e.action())) {
            todo.add(e.target());
          }
        }
      }
    }
    return seen;
  }

  /** The type of the job query-jobs lists ("none" when there is none). */
  static String jobKind(SimBackend sim) {
    for (Object info : (List<?>) sim.qmp("query-jobs", Json.object()).get("return")) {
      return (String) ((Map<?, ?>) info).get("type");
    }
    return "none";
  }

  static boolean mirrorReady(SimBackend sim) {
    for (Object info : (List<?>) sim.qmp("query-jobs", Json.object()).get("return")) {
      Map<?, ?> job = (Map<?, ?>) info;
      return job.get("type").equals("mirror") && job.get("status").toString()
          .matches("ready|standby|waiting|pending|concluded");
    }
    return false;
  }

  static void ok(SimBackend sim, String command, Object... args) {
    LayeredBitmapsModelTest.ok(sim, command, args);
  }

  @Test
  void everyEdgeWithStreamCommitAndMirrorIsTheEngines() throws Exception {
    long start = System.nanoTime();
    GraphWalk.Result result = GraphWalk.walk(graph, new Model());
    long millis = (System.nanoTime() - start) / 1_000_000;

    System.out.printf("MBT LayeredBitmaps with jobs: %d states (TLC %d ms), %d of %d edges"
        + " walked in %d ms %s; not reached %s%n", graph.states().size(), graph.tlc().millis(),
        result.walked(), result.edges(), millis, result.walkedPerAction(),
        result.unrealizablePerAction());
    result.unrealizableReasons().forEach((action, reason) ->
        System.out.printf("MBT LayeredBitmaps: %s not reached: %s%n", action, reason));
    assertThat(result.mismatches()).isEmpty();
    for (String action : graph.actions()) {
      assertThat(result.walkedPerAction().get(action)).as(action).isPositive();
    }
  }

  @Test
  void anEngineWhoseCommitBypassesDirtyTrackingFailsTheWalk() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model() {
      @Override
      public void plan(Sut sut, StateGraph walked, List<StateGraph.Edge> path)
          throws GraphWalk.Unrealizable {
        if (path.size() > 3) {
          throw new GraphWalk.Unrealizable("the mutant is run on short paths only");
        }
      }

      @Override
      public void apply(Sut sut, StateGraph.State from, StateGraph.Edge edge,
          StateGraph.State to) throws Exception {
        if (sut.sim == null || !edge.action().startsWith("Commit")) {
          super.apply(sut, from, edge, to);
          return;
        }
        // The broken engine: whatever the commit makes dirty in the base's bitmap is lost.
        DirtyBitmap base0 = sut.sim.engine().graph().find("base").bitmap("base0");
        Set<Integer> before = TraceRecorder.clusters(base0);
        super.apply(sut, from, edge, to);
        base0.clear();
        before.forEach(c -> base0.setDirty(c * CLUSTER, CLUSTER));
      }
    });

    assertThat(result.mismatches()).anySatisfy(m -> assertThat(m).contains("CommitDone"));
  }
}
