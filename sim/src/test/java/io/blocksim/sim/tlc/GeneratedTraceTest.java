package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Trace validation of generated workloads. Goal: every run of the engine under random guest
 * writes, bitmap commands, backups (every sync and bitmap-mode, grouped or not, aborted), read
 * faults, cancels, finalize and dismiss is a behaviour of BitmapSync; and an engine with broken
 * bitmap semantics is caught. Method: {@link GeneratedWorkload} drives the simulator for each
 * seed, {@link TracingBackend} records the abstract states, and TLC checks the runs in batches
 * against {@code specs/BitmapSyncTrace.tla}.
 */
@Tag("tlc")
class GeneratedTraceTest {
  static final Path SPECS = TlcTestSupport.specsDir();
  static final Path WORK = TlcTestSupport.workDir("generated");
  static final int SEEDS = 300;
  static final int OPERATIONS = 12;
  static final int BATCH = 100;

  /** Runs seeds [first, first + count) and checks them in one TLC run. */
  static TraceValidation.BatchVerdict check(long first, int count, Consumer<Engine> mutation,
      List<GeneratedWorkload> workloads) throws Exception {
    List<List<AbstractState>> runs = new ArrayList<>();
    for (long seed = first; seed < first + count; seed++) {
      GeneratedWorkload workload = new GeneratedWorkload(seed, mutation);
      TraceRecorder recorder = workload.run(OPERATIONS);
      assertThat(recorder.notApplicableReason()).as("seed %d", seed).isNull();
      runs.add(recorder.states());
      workloads.add(workload);
    }
    return TraceValidation.checkBatch(runs, GeneratedWorkload.CLUSTERS, SPECS, WORK);
  }

  static String explain(TraceValidation.BatchVerdict verdict, List<GeneratedWorkload> workloads,
      List<List<AbstractState>> unused) {
    StringBuilder text = new StringBuilder(verdict.verdict().kind().toString());
    if (verdict.firstUnmatched() != null) {
      GeneratedWorkload workload = workloads.get(verdict.firstUnmatched().run());
      text.append(" at state ").append(verdict.firstUnmatched().state() + 1)
          .append(" of seed ").append(workload.seed()).append('\n');
      workload.log().forEach(line -> text.append("  ").append(line).append('\n'));
      List<AbstractState> states = workload.recorder().states();
      for (int k = 0; k < states.size(); k++) {
        text.append("  ").append(k + 1).append(' ').append(states.get(k)).append('\n');
      }
    } else {
      text.append('\n').append(verdict.verdict().tlc().output());
    }
    return text.toString();
  }

  @Test
  void everyGeneratedRunIsABehaviourOfBitmapSync() throws Exception {
    long states = 0;
    long millis = 0;
    for (long first = 1; first <= SEEDS; first += BATCH) {
      List<GeneratedWorkload> workloads = new ArrayList<>();
      TraceValidation.BatchVerdict verdict = check(first, BATCH, engine -> {}, workloads);
      assertThat(verdict.accepted()).as(explain(verdict, workloads, null)).isTrue();
      states += verdict.verdict().tlc().distinctStates();
      millis += verdict.verdict().tlc().millis();
    }
    System.out.printf("trace validation: %d generated runs of %d operations accepted by "
        + "BitmapSync; %d distinct states, TLC %d ms%n", SEEDS, OPERATIONS, states, millis);
  }

  /** An engine whose successors lose the guest writes (planted after every operation). */
  static void successorLosesWrites(Engine engine) {
    for (BlockNode node : engine.graph().all()) {
      for (DirtyBitmap bitmap : node.bitmaps()) {
        if (bitmap.hasSuccessor()) {
          bitmap.successor().clear();
        }
      }
    }
  }

  @Test
  void anEngineWhoseSuccessorsLoseWritesIsRejected() throws Exception {
    List<GeneratedWorkload> workloads = new ArrayList<>();
    TraceValidation.BatchVerdict verdict =
        check(1, 40, GeneratedTraceTest::successorLosesWrites, workloads);

    assertThat(verdict.verdict().kind()).as(explain(verdict, workloads, null))
        .isEqualTo(TraceVerdict.Kind.REJECTED);
  }

  /** An engine where clearing a bitmap forgets one dirty cluster of every other named bitmap. */
  static void mergeDropsClusters(Engine engine) {
    for (BlockNode node : engine.graph().all()) {
      for (DirtyBitmap bitmap : node.bitmaps()) {
        if (!bitmap.isAnonymous() && !bitmap.hasSuccessor()
            && TraceRecorder.clusters(bitmap).size() > 1) {
          long last = TraceRecorder.clusters(bitmap).last();
          bitmap.resetDirty(last * bitmap.granularityBytes(), bitmap.granularityBytes());
        }
      }
    }
  }

  @Test
  void anEngineWhoseBitmapsForgetDirtyClustersIsRejected() throws Exception {
    List<GeneratedWorkload> workloads = new ArrayList<>();
    TraceValidation.BatchVerdict verdict =
        check(1, 40, GeneratedTraceTest::mergeDropsClusters, workloads);

    assertThat(verdict.verdict().kind()).as(explain(verdict, workloads, null))
        .isEqualTo(TraceVerdict.Kind.REJECTED);
  }
}
