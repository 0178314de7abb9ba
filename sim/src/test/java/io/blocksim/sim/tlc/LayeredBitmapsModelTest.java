package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Model-based test of bitmaps on a backing chain against {@code specs/LayeredBitmaps.tla}: the
 * guest writes and the copy-on-read parts. Goal: for every Write and CopyOnRead transition (and
 * Quiescent) of the spec's graph, the engine's four bitmaps (an enabled and a disabled one on
 * the top and on the base) hold the same clusters: a write dirties the top's enabled bitmap
 * only, a copy-on-read population dirties nothing. Method: {@link GraphWalk} on a fresh chain
 * top → mid → base (qcow2) with a copy-on-read filter above the top, driven through QMP and
 * qemu-io. The stream, commit and mirror edges copy clusters on the jobs' own schedule, one
 * chosen cluster per edge in the spec; they are reported as pending (unrealizable, with the
 * reason) and are not counted as walked.
 */
@Tag("tlc")
class LayeredBitmapsModelTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("mbt-layered");
  private static final long CLUSTER = 65536;
  private static final int CLUSTERS = 2;
  private static final Set<String> JOB_ACTIONS = Set.of("StartStream", "StreamStep",
      "StreamDone", "StartCommit", "CommitStep", "CommitDone", "StartMirror", "MirrorStep",
      "MirrorReady", "MirrorPivot");
  private static StateGraph graph;

  @BeforeAll
  static void loadGraph() {
    graph = StateGraph.load(SPECS, "LayeredBitmaps", "LayeredBitmaps.cfg", WORK);
  }

  static class Model implements GraphWalk.Model<SimBackend> {
    private final Consumer<Engine> afterEach;

    Model(Consumer<Engine> afterEach) {
      this.afterEach = afterEach;
    }

    @Override
    public SimBackend fresh() throws Exception {
      SimBackend sim = new SimBackend(1, Set.of());
      sim.createImage(image("base.qcow2", null));
      sim.createImage(image("mid.qcow2", "base.qcow2"));
      sim.createImage(image("top.qcow2", "mid.qcow2"));
      // The spec's initial data: the base holds every cluster, the mid cluster 1.
      fill(sim, "base.qcow2", List.of(0L, 1L));
      fill(sim, "mid.qcow2", List.of(1L));
      ok(sim, "blockdev-add", "node-name", "base", "driver", "qcow2",
          "file", Json.object("driver", "file", "filename", "base.qcow2"));
      ok(sim, "blockdev-add", "node-name", "mid", "driver", "qcow2", "backing", "base",
          "file", Json.object("driver", "file", "filename", "mid.qcow2"));
      ok(sim, "blockdev-add", "node-name", "top", "driver", "qcow2", "backing", "mid",
          "file", Json.object("driver", "file", "filename", "top.qcow2"));
      ok(sim, "blockdev-add", "node-name", "cor", "driver", "copy-on-read", "file", "top");
      for (String bitmap : List.of("top0", "top1", "base0", "base1")) {
        ok(sim, "block-dirty-bitmap-add", "node", bitmap.startsWith("top") ? "top" : "base",
            "name", bitmap, "granularity", CLUSTER, "disabled", bitmap.endsWith("1"));
      }
      return sim;
    }

    private static Backend.ImageSpec image(String path, String backing) {
      return new Backend.ImageSpec(path, "qcow2", CLUSTERS * CLUSTER, backing,
          backing == null ? null : "qcow2", CLUSTER, Map.of());
    }

    /** Writes clusters into an image opened alone, before the chain exists. */
    private static void fill(SimBackend sim, String file, List<Long> clusters) throws Exception {
      ok(sim, "blockdev-add", "node-name", "fill", "driver", "qcow2", "backing", null,
          "file", Json.object("driver", "file", "filename", file));
      for (long c : clusters) {
        sim.io("fill", "write -P 0x" + Long.toHexString(0x10 + c) + " " + c * CLUSTER + " "
            + CLUSTER);
      }
      ok(sim, "blockdev-del", "node-name", "fill");
    }

    @Override
    public void plan(SimBackend sim, StateGraph walked, List<StateGraph.Edge> path)
        throws GraphWalk.Unrealizable {
      for (StateGraph.Edge edge : path) {
        if (JOB_ACTIONS.contains(edge.action())) {
          throw new GraphWalk.Unrealizable("pending: stream, commit and mirror copy clusters "
              + "on their own schedule, and the spec steps one chosen cluster at a time");
        }
      }
    }

    @Override
    public void apply(SimBackend sim, StateGraph.State from, StateGraph.Edge edge,
        StateGraph.State to) throws Exception {
      switch (edge.action()) {
        case "Write" -> {
          long c = changedCluster(from, to);
          sim.io("cor", "write -P 0x7e " + c * CLUSTER + " " + CLUSTER);
        }
        case "CopyOnRead" -> {
          long c = populatedCluster(from, to);
          sim.io("cor", "read " + c * CLUSTER + " " + CLUSTER);
        }
        case "Quiescent" -> { }
        default -> throw new IllegalStateException("no engine action for " + edge.action());
      }
      afterEach.accept(sim.engine());
    }

    @Override
    public Object abstractOf(SimBackend sim) {
      TreeMap<String, Set<Long>> bitmaps = new TreeMap<>();
      for (String node : List.of("top", "base")) {
        for (DirtyBitmap bitmap : sim.engine().graph().find(node).bitmaps()) {
          if (!bitmap.isAnonymous()) {
            LinkedHashSet<Long> clusters = new LinkedHashSet<>();
            TraceRecorder.clusters(bitmap).forEach(c -> clusters.add((long) c));
            bitmaps.put(bitmap.name(), clusters);
          }
        }
      }
      return bitmaps;
    }

    @Override
    public Object project(StateGraph.State state) {
      return new TreeMap<>((Map<?, ?>) state.value("bitmaps"));
    }
  }

  /** The top's data as a map cluster → value (TLC prints a function on 0..1 as a map). */
  private static Map<?, ?> topData(StateGraph.State state) {
    Object data = ((Map<?, ?>) state.value("data")).get("top");
    if (data instanceof List<?> list) {
      TreeMap<Long, Object> map = new TreeMap<>();
      for (int k = 0; k < list.size(); k++) {
        map.put((long) k + 1, list.get(k));
      }
      return map;
    }
    return (Map<?, ?>) data;
  }

  private static long changedCluster(StateGraph.State from, StateGraph.State to) {
    Map<?, ?> before = topData(from);
    Map<?, ?> after = topData(to);
    for (Map.Entry<?, ?> entry : after.entrySet()) {
      if (!entry.getValue().equals(before.get(entry.getKey()))) {
        return (Long) entry.getKey();
      }
    }
    throw new IllegalStateException("a Write edge that changes no cluster of the top");
  }

  private static long populatedCluster(StateGraph.State from, StateGraph.State to) {
    Map<?, ?> before = topData(from);
    for (Object key : topData(to).keySet()) {
      if (!before.containsKey(key)) {
        return (Long) key;
      }
    }
    throw new IllegalStateException("a CopyOnRead edge that populates nothing");
  }

  static void ok(SimBackend sim, String command, Object... args) {
    Map<String, Object> reply = sim.qmp(command, Json.object(args));
    if (reply.containsKey("error")) {
      throw new IllegalStateException(command + " failed: " + reply.get("error"));
    }
  }

  @Test
  void everyWriteAndCopyOnReadTransitionIsTheEngines() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine -> { }));

    System.out.printf("MBT LayeredBitmaps: %d states (TLC %d ms), %d of %d edges walked %s;"
        + " pending %s%n", graph.states().size(), graph.tlc().millis(), result.walked(),
        result.edges(), result.walkedPerAction(), result.unrealizablePerAction());
    assertThat(result.mismatches()).isEmpty();
    assertThat(result.walkedPerAction()).containsKeys("Write", "CopyOnRead");
    assertThat(result.walkedPerAction().get("Write")).isPositive();
    assertThat(result.walkedPerAction().get("CopyOnRead")).isPositive();
  }

  @Test
  void anEngineWhoseCopyOnReadDirtiesTheTopFailsTheWalk() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine -> { }) {
      @Override
      public void apply(SimBackend sim, StateGraph.State from, StateGraph.Edge edge,
          StateGraph.State to) throws Exception {
        super.apply(sim, from, edge, to);
        if (edge.action().equals("CopyOnRead")) {
          long c = populatedCluster(from, to);
          sim.engine().graph().find("top").bitmap("top0").setDirty(c * CLUSTER, CLUSTER);
        }
      }
    });

    assertThat(result.mismatches()).anySatisfy(m -> assertThat(m).contains("CopyOnRead"));
  }
}
