package io.blocksim.sim.tlc;

import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Trace validation of simulator runs against BitmapSync: the hooks {@code blocksim run
 * --trace-tla DIR} uses, and a batch check that validates many short runs in one TLC run (TLC
 * costs about a second per run for class loading, so a few hundred runs are checked as a few
 * concatenated traces, each run starting with a {@code Reset} to BitmapSync's initial state).
 */
public final class TraceValidation {

  private TraceValidation() {}

  /**
   * Wraps a simulator backend so that its run is recorded (for {@code --trace-tla}). Other
   * backends (real QEMU) are returned as they are: their cluster sets cannot be read.
   */
  public static Backend wrap(Backend backend) {
    return backend instanceof SimBackend sim ? new TracingBackend(sim) : backend;
  }

  /**
   * Writes the run recorded by a backend from {@link #wrap} as {@code DIR/TraceN.tla} and {@code
   * .cfg} (checked with {@code TraceChecker} or TLC against {@code specs/BitmapSyncTrace.tla}),
   * and returns one line saying what was written, or why the run is not applicable. Throws
   * {@link java.io.UncheckedIOException} when the files cannot be written.
   */
  public static String writeTrace(Backend backend, Path dir, String caseName) {
    if (!(backend instanceof TracingBackend tracing)) {
      return caseName + ": not applicable: not a simulator run";
    }
    TraceRecorder recorder = tracing.recorder();
    if (recorder.notApplicableReason() != null) {
      return caseName + ": not applicable: " + recorder.notApplicableReason();
    }
    if (recorder.nodeName() == null) {
      return caseName + ": no BitmapSync trace: the run added no named bitmap";
    }
    String module = TraceNames.module("Trace", caseName);
    TraceModuleWriter.Written written;
    try {
      written = TraceModuleWriter.write(module, TraceTarget.BITMAP_SYNC, recorder.states(),
          recorder.clusterCount(), dir);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return caseName + ": " + written.moduleFile() + " (" + recorder.states().size()
        + " states; spec BitmapSync" + (recorder.endedEarly() == null ? ""
            : "; the trace ends where " + recorder.endedEarly()) + ")";
  }

  /** Where in a batch a rejected trace stopped matching. */
  public record Position(int run, int state) {}

  /** The outcome of a batch check. */
  public record BatchVerdict(TraceVerdict verdict, Position firstUnmatched) {
    public boolean accepted() {
      return verdict.accepted();
    }
  }

  /**
   * Checks several runs of the same shape (same cluster count) against BitmapSync in one TLC
   * run. A rejection names the run and the state within it (both 0-based).
   */
  public static BatchVerdict checkBatch(List<List<AbstractState>> runs, int clusterCount,
      Path specsDir, Path workDir) {
    List<AbstractState> all = new ArrayList<>();
    List<Integer> starts = new ArrayList<>();
    for (List<AbstractState> run : runs) {
      starts.add(all.size());
      // Each run's jobs become j1, j2, ... in order of appearance: BitmapSync's Jobs is the
      // union over the batch, and CreateTxn ranges over its subsets.
      java.util.Map<String, String> names = new java.util.LinkedHashMap<>();
      java.util.function.UnaryOperator<String> rename =
          id -> names.computeIfAbsent(id, unused -> "j" + (names.size() + 1));
      for (int k = 0; k < run.size(); k++) {
        AbstractState state = run.get(k).withJobsRenamed(rename);
        all.add(k == 0 && !all.isEmpty()
            ? state.withAction("Reset", -1, "", "") : state);
      }
    }
    TraceVerdict verdict =
        TraceChecker.check(TraceTarget.BITMAP_SYNC, all, clusterCount, specsDir, workDir);
    Position position = verdict.kind() == TraceVerdict.Kind.REJECTED
        ? positionOf(starts, verdict.firstUnmatchedState() - 1) : null;
    return new BatchVerdict(verdict, position);
  }

  /** Returns the run, and the state within it, of state {@code index} of a batch. */
  static Position positionOf(List<Integer> starts, int index) {
    int run = 0;
    while (run + 1 < starts.size() && starts.get(run + 1) <= index) {
      run++;
    }
    return new Position(run, index - starts.get(run));
  }
}
