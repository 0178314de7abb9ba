package io.blocksim.sim.tlc;

import io.blocksim.sim.port.Backend;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Trace validation of job lifecycles against JobLifecycle: the hooks {@code blocksim run
 * --trace-tla DIR} uses (any backend: the recorder needs only QMP), and checks of one run or of a
 * batch of runs in one TLC run (each run after the first starts with a {@code Reset}; TLC costs
 * about a second per run to start).
 */
public final class JobTraceValidation {
  private static final AtomicLong CHECKED = new AtomicLong();

  private JobTraceValidation() {}

  /** Wraps any backend so that the life of its jobs is recorded. */
  public static JobTracingBackend wrap(Backend backend) {
    return new JobTracingBackend(backend);
  }

  /**
   * Writes the job lifecycles recorded by a backend from {@link #wrap} as {@code
   * DIR/JobTraceN.tla} and {@code .cfg} (TLC checks them with {@code specs/} on its path), and
   * returns one line saying what was written, or why not. Throws {@link UncheckedIOException}
   * when the files cannot be written.
   */
  public static String writeTrace(Backend backend, Path dir, String caseName) {
    if (!(backend instanceof JobTracingBackend tracing)) {
      return caseName + ": no job trace: the backend was not wrapped";
    }
    tracing.flush();
    JobTraceRecorder recorder = tracing.recorder();
    if (recorder.jobCount() == 0) {
      return caseName + ": no job trace: the run created no job";
    }
    if (recorder.notApplicableReason() != null) {
      return caseName + ": no job trace: not applicable: " + recorder.notApplicableReason();
    }
    String module = TraceNames.module("JobTrace", caseName);
    JobTraceModuleWriter.Written written;
    try {
      written = JobTraceModuleWriter.write(module, recorder.states(), dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return caseName + ": " + written.moduleFile() + " (" + recorder.states().size()
        + " states, " + recorder.jobCount() + " jobs; spec JobLifecycle)";
  }

  /** Checks one run against JobLifecycle. */
  public static TraceVerdict check(List<JobTraceState> states, Path specsDir, Path workDir) {
    return checkBatch(List.of(states), specsDir, workDir).verdict();
  }

  /** Where in a batch a rejected trace stopped matching (both 0-based). */
  public record Position(int run, int state) {}

  /** The outcome of a batch check. */
  public record BatchVerdict(TraceVerdict verdict, Position firstUnmatched) {
    public boolean accepted() {
      return verdict.accepted();
    }
  }

  /**
   * Checks several runs against JobLifecycle in one TLC run. A rejection names the run and the
   * state within it.
   */
  public static BatchVerdict checkBatch(List<List<JobTraceState>> runs, Path specsDir,
      Path workDir) {
    List<JobTraceState> all = new ArrayList<>();
    List<Integer> starts = new ArrayList<>();
    for (List<JobTraceState> run : runs) {
      starts.add(all.size());
      List<JobTraceState> renamed = renamed(run);
      for (int k = 0; k < renamed.size(); k++) {
        all.add(k == 0 && !all.isEmpty() ? renamed.get(k).withAction("Reset") : renamed.get(k));
      }
    }
    String module = "JobTraceCheck" + CHECKED.incrementAndGet();
    Path traceDir = workDir.resolve("job-traces");
    JobTraceModuleWriter.Written written;
    try {
      written = JobTraceModuleWriter.write(module, all, traceDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    TlcResult result = TlcRunner.run(List.of(traceDir, specsDir), module, written.configFile(),
        workDir, List.of("-deadlock"));
    TraceVerdict verdict = TraceChecker.verdictOf(result, all.size());
    Position position = null;
    if (verdict.kind() == TraceVerdict.Kind.REJECTED) {
      TraceValidation.Position at =
          TraceValidation.positionOf(starts, verdict.firstUnmatchedState() - 1);
      position = new Position(at.run(), at.state());
    }
    return new BatchVerdict(verdict, position);
  }

  /**
   * Names a run's jobs j1, j2, ... in the order they appear (the note keeps the QMP id). After a
   * Reset the names are free again, so a batch's Jobs is as large as its largest run, not the
   * sum: each TLC step tries every job (hidden drains) and compares every job's status, and with
   * a hundred names the check of the bundled scenarios took 17 s instead of 2.
   */
  static List<JobTraceState> renamed(List<JobTraceState> run) {
    Map<String, String> names = new LinkedHashMap<>();
    List<JobTraceState> out = new ArrayList<>();
    for (JobTraceState state : run) {
      TreeMap<String, String> jobs = new TreeMap<>();
      state.jobs().forEach((job, status) -> jobs.put(nameOf(names, job), status));
      String job = state.job().isEmpty() ? "" : nameOf(names, state.job());
      String note = state.note() + (job.isEmpty() ? "" : " [" + job + " = " + state.job() + "]");
      TreeSet<String> group = new TreeSet<>();
      state.group().forEach(member -> group.add(nameOf(names, member)));
      out.add(new JobTraceState(state.action(), job, state.verb(), state.force(), state.type(),
          state.autoFinalize(), state.autoDismiss(), jobs, note, group));
    }
    return out;
  }

  private static String nameOf(Map<String, String> names, String job) {
    return names.computeIfAbsent(job, unused -> "j" + (names.size() + 1));
  }
}
