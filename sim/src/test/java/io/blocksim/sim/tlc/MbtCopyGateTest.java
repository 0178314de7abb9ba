package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.blockcopy.CopyGate;
import io.blocksim.model.job.Job;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The engine's copy gate, the seam the BitmapSync walk drives backup copies with. Goal: with a
 * gate, a backup copies exactly the clusters granted, one per grant, in the order granted, and
 * neither copies nor finishes on its own; cancel and opening the gate end the hold; without a
 * gate the job copies on its own. Method: a sync=full backup of a four-cluster disk, watched
 * through its copy bitmap (the clusters still to copy) after each step.
 */
class MbtCopyGateTest {
  private static final long CLUSTER = 65536;
  private static final int CLUSTERS = 4;
  private static final long TIMEOUT_NS = 10_000_000_000L;

  private static SimBackend backupOf(CopyGate gate) throws Exception {
    SimBackend sim = new SimBackend(1, Set.of());
    if (gate != null) {
      sim.engine().jobs().gateBackgroundCopies(gate);
    }
    for (String file : List.of("src.qcow2", "dst.qcow2")) {
      sim.createImage(new Backend.ImageSpec(file, "qcow2", CLUSTERS * CLUSTER, null, null,
          CLUSTER, Map.of()));
    }
    for (String node : List.of("src", "dst")) {
      ok(sim, "blockdev-add", Json.object("node-name", node, "driver", "qcow2",
          "file", Json.object("driver", "file", "filename", node + ".qcow2")));
    }
    sim.io("src", "write -P 0x5a 0 " + CLUSTERS * CLUSTER);
    ok(sim, "blockdev-backup", Json.object("job-id", "j1", "device", "src", "target", "dst",
        "sync", "full", "auto-finalize", false, "auto-dismiss", false));
    return sim;
  }

  private static void ok(SimBackend sim, String command, Map<String, Object> args) {
    Map<String, Object> reply = sim.qmp(command, args);
    assertThat(reply).as(command).doesNotContainKey("error");
  }

  private static String status(SimBackend sim) {
    Job job = sim.engine().jobs().find("j1");
    return job == null ? "null" : job.status().qapiName();
  }

  /** The clusters the job has still to copy (its copy bitmap on the source). */
  private static Set<Integer> toCopy(SimBackend sim) {
    Set<Integer> out = new TreeSet<>();
    for (DirtyBitmap b : sim.engine().graph().find("src").bitmaps()) {
      if (b.isAnonymous() && b.disabled()) {
        out.addAll(TraceRecorder.clusters(b));
      }
    }
    return out;
  }

  private static void settle(SimBackend sim, CopyGate gate) {
    sim.runUntil(() -> gate.holding() || !status(sim).equals("running"), TIMEOUT_NS);
  }

  @Test
  void copiesExactlyTheGrantedClustersInTheGrantedOrder() throws Exception {
    CopyGate gate = new CopyGate();
    SimBackend sim = backupOf(gate);
    settle(sim, gate);
    List<Set<Integer>> seen = new ArrayList<>();
    seen.add(toCopy(sim));

    for (int cluster : List.of(2, 0, 3, 1)) {
      gate.copy(cluster * CLUSTER);
      settle(sim, gate);
      seen.add(toCopy(sim));
    }

    assertThat(seen).containsExactly(Set.of(0, 1, 2, 3), Set.of(0, 1, 3), Set.of(1, 3),
        Set.of(1), Set.of());
    // All copied, yet the job waits at the gate: finishing is a step of its own.
    sim.runUntil(() -> false, TIMEOUT_NS);
    assertThat(status(sim)).isEqualTo("running");
    gate.open();
    sim.runUntil(() -> !status(sim).equals("running"), TIMEOUT_NS);
    assertThat(status(sim)).isEqualTo("pending");
  }

  @Test
  void aCancelEndsAHeldCopy() throws Exception {
    CopyGate gate = new CopyGate();
    SimBackend sim = backupOf(gate);
    settle(sim, gate);
    gate.copy(CLUSTER);
    settle(sim, gate);

    ok(sim, "job-cancel", Json.object("id", "j1"));
    sim.runUntil(() -> status(sim).equals("concluded"), TIMEOUT_NS);

    assertThat(status(sim)).isEqualTo("concluded");
    assertThat(gate.holding()).isFalse();
  }

  @Test
  void aGrantOfAClusterAlreadyCopiedIsAnError() throws Exception {
    CopyGate gate = new CopyGate();
    SimBackend sim = backupOf(gate);
    settle(sim, gate);
    gate.copy(0);
    settle(sim, gate);

    assertThatThrownBy(() -> gate.copy(0)).hasMessageContaining("not dirty");
  }

  @Test
  void withoutAGateTheJobCopiesOnItsOwn() throws Exception {
    SimBackend sim = backupOf(null);

    sim.runUntil(() -> !status(sim).equals("running"), TIMEOUT_NS);

    assertThat(status(sim)).isEqualTo("pending");
    assertThat(toCopy(sim)).isEmpty();
  }
}
