package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.job.Job;
import io.blocksim.model.qmp.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.runner.Backend;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Model-based test of bitmaps under backup jobs against {@code specs/BitmapSync.tla} with the
 * small bounds of {@code BitmapSyncSmall.cfg} (one bitmap, one job, two clusters, every sync
 * mode and bitmap-mode). Goal: for every transition the engine can take the way the spec does,
 * the engine ends with the same bitmap, successor and job status. Method: {@link GraphWalk}
 * drives a fresh simulator through QMP along the shortest path to each edge.
 *
 * <p>How spec actions map to the engine: a job is created paused (job-pause right after the
 * transaction) so that it copies only when the path says; CreateTxn is the first half of one
 * QMP transaction (QEMU creates and starts the jobs in one command), so it is checked through
 * the StartTxn and AbortTxn edges that follow it; CopyDone resumes the job until it is pending;
 * Cancel and Finalize end it. The engine's job copies on its own schedule (job-pause does not stop
 * a copy already under way), so edges that depend on which clusters it has copied are reported
 * as unrealizable, with the reason, and left to trace validation: Copy (one chosen cluster),
 * Fail, Cancel under bitmap-mode=always, and edges the job overtakes (it finishes while the
 * spec's job still runs).
 */
@Tag("tlc")
class BitmapSyncModelTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("mbt-bitmapsync");
  private static final long CLUSTER = 65536;
  private static final int CLUSTERS = 2;
  private static final String JOB = "j1";
  private static final String BITMAP = "bitmap0";
  private static StateGraph graph;
  /**
   * What both sides show between CreateTxn and StartTxn/AbortTxn: QMP has no state between
   * the two halves of a transaction, so a CreateTxn edge is checked by the edges that follow it.
   */
  private static final String PENDING_TRANSACTION = "transaction being prepared";

  @BeforeAll
  static void loadGraph() {
    graph = StateGraph.load(SPECS, "BitmapSync", "BitmapSyncSmall.cfg", WORK);
  }

  /** One simulator and the fault planned for its target. */
  static final class Sut {
    final SimBackend sim;
    int targets;
    /** A CreateTxn was taken; the engine creates and starts the jobs with the next edge. */
    boolean transactionPending;

    Sut(SimBackend sim) {
      this.sim = sim;
    }
  }

  static class Model implements GraphWalk.Model<Sut> {
    private final Consumer<Engine> afterEach;

    Model(Consumer<Engine> afterEach) {
      this.afterEach = afterEach;
    }

    @Override
    public Sut fresh() throws Exception {
      SimBackend sim = new SimBackend(1, Set.of());
      // qcow2, so that sync=top copies the clusters written (allocation is tracked per cluster)
      sim.createImage(new Backend.ImageSpec("disk.qcow2", "qcow2", CLUSTERS * CLUSTER, null,
          null, CLUSTER, Map.of()));
      ok(sim, "blockdev-add", "node-name", "drive0", "driver", "qcow2",
          "file", Json.object("driver", "file", "filename", "disk.qcow2"));
      ok(sim, "block-dirty-bitmap-add", "node", "drive0", "name", BITMAP, "granularity", CLUSTER);
      return new Sut(sim);
    }

    @Override
    public void plan(Sut sut, StateGraph walked, List<StateGraph.Edge> path)
        throws GraphWalk.Unrealizable {
      for (StateGraph.Edge edge : path) {
        if (edge.action().equals("Copy")) {
          throw new GraphWalk.Unrealizable(
              "the engine's job copies on its own schedule, in ascending cluster order");
        }
        if (edge.action().equals("Fail")) {
          throw new GraphWalk.Unrealizable("QMP cannot make the job fail with exactly the "
              + "spec's clusters left to copy (the job copies on its own schedule); read faults "
              + "are covered by trace validation");
        }
        StateGraph.State source = walked.states().get(edge.source());
        if (edge.action().equals("Cancel") && "always".equals(job(source).get("mode"))) {
          throw new GraphWalk.Unrealizable("with bitmap-mode=always a cancel leaves W and the "
              + "clusters not yet copied, which depend on the job's own schedule");
        }
      }
    }

    @Override
    public void apply(Sut sut, StateGraph.State from, StateGraph.Edge edge, StateGraph.State to)
        throws Exception {
      SimBackend sim = sut.sim;
      switch (edge.action()) {
        case "Write" -> {
          long cluster = changedCluster(from, to);
          sim.io("drive0", "write -P 0x5a " + cluster * CLUSTER + " " + CLUSTER);
        }
        case "CreateTxn" -> sut.transactionPending = true;
        case "Quiescent" -> { }
        case "StartTxn" -> {
          sut.transactionPending = false;
          backup(sut, job(from), false);
        }
        case "AbortTxn" -> {
          sut.transactionPending = false;
          backup(sut, job(from), true);
        }
        case "CopyDone" -> runUntil(sim, "pending", "waiting");
        case "Cancel" -> {
          ok(sim, "job-cancel", "id", JOB);
          runUntil(sim, "concluded");
        }
        case "Finalize" -> {
          ok(sim, "job-finalize", "id", JOB);
          runUntil(sim, "concluded");
        }
        case "Dismiss" -> {
          if (!"aborted".equals(job(from).get("outcome"))) {
            ok(sim, "job-dismiss", "id", JOB);
          }
        }
        default -> throw new IllegalStateException("no engine action for " + edge.action());
      }
      afterEach.accept(sim.engine());
      Job after = sim.engine().jobs().find(JOB);
      if ("running".equals(job(to).get("status")) && after != null
          && after.status().completed()) {
        throw new GraphWalk.Unrealizable("the engine's job finished its copy during the step "
            + "(job-pause does not stop a copy already under way); the spec lets it wait");
      }
    }

    /** Starts the job described by the spec's job record, paused; with abort, a later action
     * of the transaction fails. */
    private static void backup(Sut sut, Map<?, ?> job, boolean abort) throws Exception {
      SimBackend sim = sut.sim;
      String target = "t" + (++sut.targets);
      sim.createImage(new Backend.ImageSpec(target + ".raw", "raw", CLUSTERS * CLUSTER, null,
          null, null, Map.of()));
      ok(sim, "blockdev-add", "node-name", target, "driver", "raw",
          "file", Json.object("driver", "file", "filename", target + ".raw"));
      List<Object> actions = new java.util.ArrayList<>();
      actions.add(Json.object("type", "blockdev-backup", "data", Json.object("device", "drive0",
          "target", target, "sync", job.get("sync"), "bitmap", job.get("bitmap"),
          "bitmap-mode", job.get("mode"), "job-id", JOB, "auto-finalize", false,
          "auto-dismiss", false, "x-perf", Json.object("max-workers", 1))));
      if (abort) {
        actions.add(Json.object("type", "block-dirty-bitmap-add",
            "data", Json.object("node", "drive0", "name", BITMAP)));
      }
      Map<String, Object> reply = sim.qmp("transaction", Json.object("actions", actions));
      if (abort != reply.containsKey("error")) {
        throw new IllegalStateException("transaction: " + reply);
      }
      if (!abort) {
        ok(sim, "job-pause", "id", JOB);
      }
    }

    private static void runUntil(SimBackend sim, String... statuses) throws Exception {
      Set<String> wanted = Set.of(statuses);
      // Refused when the pause has already been undone (a cancel resumes the job).
      sim.qmp("job-resume", Json.object("id", JOB));
      sim.runUntil(() -> {
        Job now = sim.engine().jobs().find(JOB);
        return now == null || wanted.contains(now.status().qapiName());
      }, 10_000_000_000L);
    }

    @Override
    public Object abstractOf(Sut sut) {
      if (sut.transactionPending) {
        return PENDING_TRANSACTION;
      }
      DirtyBitmap bitmap = sut.sim.engine().graph().find("drive0").bitmap(BITMAP);
      Map<String, Object> state = new LinkedHashMap<>();
      state.put("bitmaps", Map.of(BITMAP, longs(TraceRecorder.clusters(bitmap))));
      state.put("successors", Map.of(BITMAP, bitmap.hasSuccessor()
          ? longs(TraceRecorder.clusters(bitmap.successor())) : Set.of()));
      state.put("frozen", bitmap.hasSuccessor() ? Set.of(BITMAP) : Set.of());
      Job job = sut.sim.engine().jobs().find(JOB);
      String status = job == null ? "null" : job.status().qapiName();
      state.put("status", status.equals("paused") ? "running" : status);
      return state;
    }

    @Override
    public Object project(StateGraph.State spec) {
      if ("created".equals(job(spec).get("status"))) {
        return PENDING_TRANSACTION;
      }
      Map<String, Object> state = new LinkedHashMap<>();
      state.put("bitmaps", spec.value("bitmaps"));
      state.put("successors", spec.value("successors"));
      state.put("frozen", spec.value("frozen"));
      Map<?, ?> job = job(spec);
      // QEMU dismisses a job that never started as soon as it concludes (job_conclude_locked),
      // whatever auto-dismiss says; BitmapSync leaves it concluded until a Dismiss step.
      boolean aborted = "aborted".equals(job.get("outcome"));
      state.put("status", aborted && "concluded".equals(job.get("status")) ? "null"
          : job.get("status"));
      return state;
    }
  }

  private static Map<?, ?> job(StateGraph.State state) {
    return (Map<?, ?>) ((Map<?, ?>) state.value("jobs")).get(JOB);
  }

  private static Set<Long> longs(Set<Integer> clusters) {
    LinkedHashSet<Long> values = new LinkedHashSet<>();
    clusters.forEach(c -> values.add((long) c));
    return values;
  }

  /** The cluster whose write number changed between two states. */
  private static long changedCluster(StateGraph.State from, StateGraph.State to) {
    List<?> before = (List<?>) sequence(from.value("disk"));
    List<?> after = (List<?>) sequence(to.value("disk"));
    for (int c = 0; c < after.size(); c++) {
      if (!after.get(c).equals(before.get(c))) {
        return c;
      }
    }
    throw new IllegalStateException("a Write edge that changes no cluster");
  }

  /** disk is a function on 0..n-1, which TLC prints as (0 :> a @@ 1 :> b). */
  private static List<Object> sequence(Object value) {
    if (value instanceof List<?> list) {
      return List.copyOf(list);
    }
    Map<?, ?> map = (Map<?, ?>) value;
    TreeSet<Long> keys = new TreeSet<>();
    map.keySet().forEach(k -> keys.add((Long) k));
    return keys.stream().map(k -> (Object) map.get(k)).toList();
  }

  static void ok(SimBackend sim, String command, Object... args) {
    Map<String, Object> reply = sim.qmp(command, Json.object(args));
    if (reply.containsKey("error")) {
      throw new IllegalStateException(command + " failed: " + reply.get("error"));
    }
  }

  @Test
  void everyRealizableTransitionOfBitmapSyncIsTheEngines() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine -> { }));

    System.out.printf("MBT BitmapSync (Small): %d states (TLC %d ms), %d of %d edges walked %s;"
        + " unrealizable %s %s%n", graph.states().size(), graph.tlc().millis(),
        result.walked(), result.edges(), result.walkedPerAction(),
        result.unrealizablePerAction(), result.unrealizableReasons());
    assertThat(result.mismatches()).isEmpty();
    assertThat(result.walkedPerAction()).allSatisfy((action, walked) -> {
      if (!action.equals("Copy") && !action.equals("Fail")) {
        assertThat(walked).as(action).isPositive();
      }
    });
  }

  @Test
  void anEngineWhoseSuccessorsLoseWritesFailsTheWalk() throws Exception {
    GraphWalk.Result result =
        GraphWalk.walk(graph, new Model(GeneratedTraceTest::successorLosesWrites));

    assertThat(result.mismatches()).isNotEmpty();
  }

  @Test
  void anEngineThatReclaimsOnAnAbortedAlwaysBackupFailsTheWalk() throws Exception {
    // An aborted transaction with bitmap-mode=always leaves the bitmap fully dirty (the copy
    // bitmap was never narrowed, E9); this engine reclaims instead, leaving S.
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine -> { }) {
      @Override
      public void apply(Sut sut, StateGraph.State from, StateGraph.Edge edge,
          StateGraph.State to) throws Exception {
        super.apply(sut, from, edge, to);
        if (edge.action().equals("AbortTxn") && "always".equals(job(from).get("mode"))) {
          DirtyBitmap bitmap = sut.sim.engine().graph().find("drive0").bitmap(BITMAP);
          bitmap.clear();
          ((Set<?>) job(from).get("S")).forEach(c ->
              bitmap.setDirty((Long) c * CLUSTER, CLUSTER));
        }
      }
    });

    assertThat(result.mismatches()).anySatisfy(m -> assertThat(m).contains("AbortTxn"));
  }
}
