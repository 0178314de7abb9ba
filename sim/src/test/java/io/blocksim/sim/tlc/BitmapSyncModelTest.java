package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.driver.blockcopy.CopyGate;
import io.blocksim.model.job.Job;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.nio.file.Path;
import java.util.Collections;
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
 * mode and bitmap-mode). Goal: for every transition of the spec, the engine ends with the same
 * bitmap, successor, copy bitmap (the clusters the job has still to copy) and job status.
 * Method: {@link GraphWalk} drives a fresh simulator through QMP along the shortest path to
 * each edge.
 *
 * <p>How spec actions map to the engine: the job's background copy is held at a
 * {@link CopyGate} (the engine's test seam), so that it copies exactly when and what the path
 * says: {@code Copy(j, c)} grants cluster c, {@code CopyDone} opens the gate and runs the job
 * until it is pending, {@code Fail} arms a write error on the target (blkdebug under it,
 * on-target-error=report) and grants one cluster, whose copy fails. CreateTxn is the first half
 * of one QMP transaction (QEMU creates and starts the jobs in one command), so it is checked
 * through the StartTxn and AbortTxn edges that follow it; Cancel and Finalize end the job.
 */
@Tag("tlc")
class BitmapSyncModelTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("mbt-bitmapsync");
  private static final long CLUSTER = 65536;
  private static final int CLUSTERS = 2;
  private static final long TIMEOUT_NS = 10_000_000_000L;
  private static final String JOB = "j1";
  private static final String BITMAP = "bitmap0";
  /** A blkdebug event the engine never raises: the walk raises it to arm the target fault. */
  private static final String ARM_EVENT = "vmstate_load";
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

  /** One simulator, the gate that holds its backup's copy, and its targets. */
  static final class Sut {
    final SimBackend sim;
    CopyGate gate;
    int targets;
    /** A CreateTxn was taken; the engine creates and starts the jobs with the next edge. */
    boolean transactionPending;

    Sut(SimBackend sim) {
      this.sim = sim;
      holdCopies();
    }

    /** A fresh gate for the jobs still to come (an opened gate stays open). */
    void holdCopies() {
      gate = new CopyGate();
      sim.engine().jobs().gateBackgroundCopies(gate);
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
        case "Copy" -> sut.gate.copy(copiedCluster(from, to) * CLUSTER);
        case "CopyDone" -> {
          sut.gate.open();
          sut.holdCopies();
          sim.runUntil(() -> !status(sim).equals("running"), TIMEOUT_NS);
        }
        case "Fail" -> {
          BlockNode fault = sim.engine().graph().find("t" + sut.targets + "-fault");
          fault.driver().debugEvent(fault, ARM_EVENT);
          // Which cluster fails does not matter: its copy bit is set again (R keeps it).
          long first = Collections.min(longs(setOf(job(from).get("copy"))));
          sut.gate.copy(first * CLUSTER);
          sim.runUntil(() -> !status(sim).equals("running"), TIMEOUT_NS);
        }
        case "Cancel" -> {
          ok(sim, "job-cancel", "id", JOB);
          sim.runUntil(() -> status(sim).equals("concluded"), TIMEOUT_NS);
        }
        case "Finalize" -> {
          ok(sim, "job-finalize", "id", JOB);
          sim.runUntil(() -> status(sim).equals("concluded"), TIMEOUT_NS);
        }
        case "Dismiss" -> {
          if (!"aborted".equals(job(from).get("outcome"))) {
            ok(sim, "job-dismiss", "id", JOB);
          }
        }
        default -> throw new IllegalStateException("no engine action for " + edge.action());
      }
      settle(sut);
      afterEach.accept(sim.engine());
    }

    /** Runs until the job waits at the gate or is no longer copying (nothing in flight). */
    private static void settle(Sut sut) {
      sut.sim.runUntil(() -> sut.gate.holding() || !status(sut.sim).equals("running"),
          TIMEOUT_NS);
    }

    /** Starts the job described by the spec's job record; with abort, a later action of the
     * transaction fails. */
    private static void backup(Sut sut, Map<?, ?> job, boolean abort) throws Exception {
      SimBackend sim = sut.sim;
      String target = "t" + (++sut.targets);
      sim.createImage(new Backend.ImageSpec(target + ".raw", "raw", CLUSTERS * CLUSTER, null,
          null, null, Map.of()));
      // blkdebug under the target: one write error, armed by the walk for a Fail step.
      ok(sim, "blockdev-add", "node-name", target, "driver", "raw",
          "file", Json.object("driver", "blkdebug", "node-name", target + "-fault",
              "inject-error", List.of(Json.object("event", ARM_EVENT, "errno", 5, "once", true)),
              "image", Json.object("driver", "file", "filename", target + ".raw")));
      List<Object> actions = new java.util.ArrayList<>();
      actions.add(Json.object("type", "blockdev-backup", "data", Json.object("device", "drive0",
          "target", target, "sync", job.get("sync"), "bitmap", job.get("bitmap"),
          "bitmap-mode", job.get("mode"), "job-id", JOB, "auto-finalize", false,
          "auto-dismiss", false, "on-target-error", "report",
          "x-perf", Json.object("max-workers", 1))));
      if (abort) {
        actions.add(Json.object("type", "block-dirty-bitmap-add",
            "data", Json.object("node", "drive0", "name", BITMAP)));
      }
      Map<String, Object> reply = sim.qmp("transaction", Json.object("actions", actions));
      if (abort != reply.containsKey("error")) {
        throw new IllegalStateException("transaction: " + reply);
      }
    }

    @Override
    public Object abstractOf(Sut sut) {
      if (sut.transactionPending) {
        return PENDING_TRANSACTION;
      }
      BlockNode drive = sut.sim.engine().graph().find("drive0");
      DirtyBitmap bitmap = drive.bitmap(BITMAP);
      Map<String, Object> state = new LinkedHashMap<>();
      state.put("bitmaps", Map.of(BITMAP, longs(TraceRecorder.clusters(bitmap))));
      state.put("successors", Map.of(BITMAP, bitmap.hasSuccessor()
          ? longs(TraceRecorder.clusters(bitmap.successor())) : Set.of()));
      state.put("frozen", bitmap.hasSuccessor() ? Set.of(BITMAP) : Set.of());
      String status = status(sut.sim);
      state.put("status", status.equals("paused") ? "running" : status);
      // The job's copy bitmap (block-copy's, anonymous and disabled on the source) while the
      // job holds it: the clusters still to copy.
      Set<Long> copy = new TreeSet<>();
      if (!status.equals("concluded")) {
        for (DirtyBitmap b : drive.bitmaps()) {
          if (b.isAnonymous() && b.disabled()) {
            copy.addAll(longs(TraceRecorder.clusters(b)));
          }
        }
      }
      state.put("copy", copy);
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
      state.put("copy", new TreeSet<>(longs(setOf(job.get("copy")))));
      return state;
    }
  }

  /** The job's status as the engine shows it; "null" when it has no such job. */
  static String status(SimBackend sim) {
    Job job = sim.engine().jobs().find(JOB);
    return job == null ? "null" : job.status().qapiName();
  }

  /** The cluster the Copy edge took off the job's copy set. */
  private static long copiedCluster(StateGraph.State from, StateGraph.State to) {
    Set<Long> before = new TreeSet<>(longs(setOf(job(from).get("copy"))));
    before.removeAll(longs(setOf(job(to).get("copy"))));
    if (before.size() != 1) {
      throw new IllegalStateException("a Copy edge that copies " + before);
    }
    return before.iterator().next();
  }

  private static Set<Integer> setOf(Object value) {
    Set<Integer> out = new TreeSet<>();
    ((java.util.Collection<?>) value).forEach(v -> out.add(((Number) v).intValue()));
    return out;
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
  void everyTransitionOfBitmapSyncIsTheEngines() throws Exception {
    long start = System.nanoTime();
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine -> { }));
    long millis = (System.nanoTime() - start) / 1_000_000;

    System.out.printf("MBT BitmapSync (Small): %d states (TLC %d ms), %d of %d edges walked in"
        + " %d ms %s; unrealizable %s %s%n", graph.states().size(), graph.tlc().millis(),
        result.walked(), result.edges(), millis, result.walkedPerAction(),
        result.unrealizablePerAction(), result.unrealizableReasons());
    assertThat(result.mismatches()).isEmpty();
    assertThat(result.unrealizablePerAction()).isEmpty();
    assertThat(result.walked()).isEqualTo(result.edges());
    assertThat(result.walkedPerAction()).allSatisfy((action, walked) ->
        assertThat(walked).as(action).isPositive());
  }

  @Test
  void anEngineWhoseSuccessorsLoseWritesFailsTheWalk() throws Exception {
    GraphWalk.Result result =
        GraphWalk.walk(graph, new Model(GeneratedTraceTest::successorLosesWrites));

    assertThat(result.mismatches()).isNotEmpty();
  }

  @Test
  void anEngineThatForgetsTheRemainderOfAFailedAlwaysBackupFailsTheWalk() throws Exception {
    // The spec's planted bug no-merge-remainder, in the engine: with bitmap-mode=always a
    // failed job leaves only W in the bitmap, not W and the clusters it had still to copy.
    GraphWalk.Result result = GraphWalk.walk(graph, new Model(engine -> { }) {
      @Override
      public void apply(Sut sut, StateGraph.State from, StateGraph.Edge edge,
          StateGraph.State to) throws Exception {
        super.apply(sut, from, edge, to);
        if (edge.action().equals("Fail") && "always".equals(job(from).get("mode"))) {
          DirtyBitmap bitmap = sut.sim.engine().graph().find("drive0").bitmap(BITMAP);
          bitmap.clear();
          setOf(((Map<?, ?>) from.value("successors")).get(BITMAP)).forEach(c ->
              bitmap.setDirty(c * CLUSTER, CLUSTER));
        }
      }
    });

    assertThat(result.mismatches()).anySatisfy(m -> assertThat(m).contains("Fail"));
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
