package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Model-based test of checkpoints (bitmap add, disable, merge, enable, remove) against {@code
 * specs/Checkpoints.tla}. Goal: for every transition of the spec's state graph, the engine driven
 * by the same QMP commands libvirt uses ends in the same chain of slices (ids, dirty clusters,
 * enabled). Method: {@link GraphWalk} replays the shortest path to each edge's source on a fresh
 * simulator and compares after the edge; an engine that ignores block-dirty-bitmap-disable must
 * fail the walk.
 */
@Tag("tlc")
class CheckpointsModelTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("mbt-checkpoints");
  private static final long CLUSTER = 65536;
  private static final int CLUSTERS = 3;
  private static StateGraph graph;

  @BeforeAll
  static void loadGraph() {
    graph = StateGraph.load(SPECS, "Checkpoints", "Checkpoints.cfg", WORK);
  }

  /** The engine, with a hook run after every action (tests plant mistakes through it). */
  static final class Model implements GraphWalk.Model<SimBackend> {
    private final Consumer<Engine> afterEach;

    Model(Consumer<Engine> afterEach) {
      this.afterEach = afterEach;
    }

    @Override
    public SimBackend fresh() throws Exception {
      SimBackend sim = new SimBackend(1, Set.of());
      sim.createImage(new Backend.ImageSpec("disk.raw", "raw", CLUSTERS * CLUSTER, null, null,
          null, Map.of()));
      ok(sim, "blockdev-add", "node-name", "drive0", "driver", "raw",
          "file", Json.object("driver", "file", "filename", "disk.raw"));
      ok(sim, "block-dirty-bitmap-add", "node", "drive0", "name", "cp1",
          "granularity", CLUSTER);
      return sim;
    }

    @Override
    public void apply(SimBackend sim, StateGraph.State from, StateGraph.Edge edge,
        StateGraph.State to) throws Exception {
      List<Map<Object, Object>> slices = slices(from);
      switch (edge.action()) {
        case "Write" -> {
          long cluster = writtenCluster(from, to);
          sim.io("drive0", "write -P 0x5a " + cluster * CLUSTER + " " + CLUSTER);
        }
        case "CreateCheckpoint" -> {
          long newest = (Long) slices.get(slices.size() - 1).get("id");
          long created = (Long) from.value("created");
          ok(sim, "transaction", "actions", List.of(
              Json.object("type", "block-dirty-bitmap-add", "data", Json.object("node", "drive0",
                  "name", "cp" + (created + 1), "granularity", CLUSTER)),
              Json.object("type", "block-dirty-bitmap-disable", "data",
                  Json.object("node", "drive0", "name", "cp" + newest))));
        }
        case "DeleteCheckpoint" -> delete(sim, slices, slices(to));
        case "Quiescent" -> { }
        default -> throw new IllegalStateException("no engine action for " + edge.action());
      }
      afterEach.accept(sim.engine());
    }

    private static void delete(SimBackend sim, List<Map<Object, Object>> before,
        List<Map<Object, Object>> after) {
      Set<Object> left = new TreeSet<>();
      after.forEach(slice -> left.add(slice.get("id")));
      int k = 0;
      while (left.contains(before.get(k).get("id"))) {
        k++;
      }
      Map<Object, Object> slice = before.get(k);
      String name = "cp" + slice.get("id");
      if (k > 0) {
        // libvirt: the deleted slice's writes go to its older neighbour, which takes over
        // recording if the deleted one was the newest.
        String older = "cp" + before.get(k - 1).get("id");
        ok(sim, "block-dirty-bitmap-merge", "node", "drive0", "target", older,
            "bitmaps", List.of(name));
        if (Boolean.TRUE.equals(slice.get("enabled"))) {
          ok(sim, "block-dirty-bitmap-enable", "node", "drive0", "name", older);
        }
      }
      ok(sim, "block-dirty-bitmap-remove", "node", "drive0", "name", name);
    }

    /** The cluster a Write edge wrote: the one "since" gained, else any already in every set. */
    private static long writtenCluster(StateGraph.State from, StateGraph.State to) {
      Map<Object, Object> sinceBefore = function(from.value("since"));
      Map<Object, Object> sinceAfter = function(to.value("since"));
      TreeSet<Long> gained = new TreeSet<>();
      TreeSet<Long> everywhere = null;
      for (Map.Entry<Object, Object> entry : sinceAfter.entrySet()) {
        TreeSet<Long> now = longs(entry.getValue());
        TreeSet<Long> old = longs(sinceBefore.get(entry.getKey()));
        now.stream().filter(c -> !old.contains(c)).forEach(gained::add);
        if (everywhere == null) {
          everywhere = new TreeSet<>(now);
        } else {
          everywhere.retainAll(now);
        }
      }
      return !gained.isEmpty() ? gained.first() : everywhere.first();
    }

    @Override
    public Object abstractOf(SimBackend sim) {
      TreeMap<Long, Map<String, Object>> byId = new TreeMap<>();
      for (DirtyBitmap bitmap : sim.engine().graph().find("drive0").bitmaps()) {
        if (bitmap.isAnonymous()) {
          continue;
        }
        long id = Long.parseLong(bitmap.name().substring(2));
        Map<String, Object> slice = new LinkedHashMap<>();
        slice.put("id", id);
        LinkedHashSet<Long> bits = new LinkedHashSet<>();
        TraceRecorder.clusters(bitmap).forEach(c -> bits.add((long) c));
        slice.put("bits", bits);
        slice.put("enabled", bitmap.enabled());
        byId.put(id, slice);
      }
      return new ArrayList<>(byId.values());
    }

    @Override
    public Object project(StateGraph.State state) {
      return state.value("slices");
    }
  }

  @SuppressWarnings("unchecked")
  private static List<Map<Object, Object>> slices(StateGraph.State state) {
    return (List<Map<Object, Object>>) state.value("slices");
  }

  /** A TLA+ function; TLC prints one on 1..n as a sequence. */
  @SuppressWarnings("unchecked")
  private static Map<Object, Object> function(Object value) {
    if (value instanceof List<?> list) {
      Map<Object, Object> map = new LinkedHashMap<>();
      for (int k = 0; k < list.size(); k++) {
        map.put((long) k + 1, list.get(k));
      }
      return map;
    }
    return (Map<Object, Object>) value;
  }

  private static TreeSet<Long> longs(Object set) {
    TreeSet<Long> values = new TreeSet<>();
    ((Set<?>) set).forEach(v -> values.add((Long) v));
    return values;
  }

  static void ok(SimBackend sim, String command, Object... args) {
    Map<String, Object> reply = sim.qmp(command, Json.object(args));
    if (reply.containsKey("error")) {
      throw new IllegalStateException(command + " failed: " + reply.get("error"));
    }
  }

  @Test
  void everyTransitionOfCheckpointsIsTheEngines() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine -> { }));

    System.out.printf("MBT Checkpoints: %d states (TLC %d ms), %d of %d edges walked %s%n",
        graph.states().size(), graph.tlc().millis(), result.walked(), result.edges(),
        result.walkedPerAction());
    assertThat(result.mismatches()).isEmpty();
    assertThat(result.unrealizablePerAction()).isEmpty();
    assertThat(result.walkedPerAction().values()).allMatch(n -> n > 0);
  }

  @Test
  void anEngineThatIgnoresDisableFailsTheWalk() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine ->
        engine.graph().find("drive0").bitmaps().forEach(b -> b.setDisabled(false))));

    assertThat(result.mismatches()).isNotEmpty();
    assertThat(result.mismatches().get(0)).startsWith("CreateCheckpoint");
  }
}
