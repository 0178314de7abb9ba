package io.blocksim.sim.diff;

import io.blocksim.sim.files.Cleanup;
import io.blocksim.sim.files.OutputFiles;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.qemu.QemuBackend;
import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.port.StepException;
import io.blocksim.sim.scenario.Scenario;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code blocksim diff}: runs each case that is not sim-only on a fresh qemu-storage-daemon and in
 * the simulator, and compares their observations. QEMU cases run in parallel daemons, up to the
 * core count (each in its own scratch directory); the simulator part stays single-threaded per
 * case.
 */
public final class Differ {
  /** How one case came out. */
  public enum Verdict { IDENTICAL, KNOWN, DIFFERS, QEMU_CRASHED, SKIPPED }

  /** The outcome of one case. */
  public record CaseDiff(String scenarioPath, String caseName, Verdict verdict, String detail,
      List<Comparison.Difference> differences, String daemonLog, long qemuNanos,
      long simNanos) {
    public String displayName() {
      return caseName.isEmpty() ? scenarioPath : scenarioPath + " [" + caseName + "]";
    }
  }

  /** What {@code blocksim diff} was asked to do. */
  /**
   * What {@code blocksim diff} was asked to do. {@code simSemantics} are variants applied to the
   * simulator's side only (fuzz plants a known divergence with them); normally empty.
   */
  public record Options(boolean record, boolean recorded, int parallelism, Path scratchRoot,
      Set<String> simSemantics) {
    public Options(boolean record, boolean recorded, int parallelism, Path scratchRoot) {
      this(record, recorded, parallelism, scratchRoot, Set.of());
    }
  }

  private final Options options;
  private final KnownDivergences known;
  private final PrintStream out;

  public Differ(Options options, KnownDivergences known, PrintStream out) {
    this.options = options;
    this.known = known;
    this.out = out;
  }

  private final List<CaseDiff> resultsSoFar = new ArrayList<>();

  /** Returns the cases compared so far, in order (an interrupted run reports them). */
  public List<CaseDiff> resultsSoFar() {
    synchronized (resultsSoFar) {
      return List.copyOf(resultsSoFar);
    }
  }

  public List<CaseDiff> run(List<Scenario> scenarios) throws IOException, InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, options.parallelism())); // determinism-ok: one world per case
    List<Future<CaseDiff>> futures = new ArrayList<>();
    int index = 0;
    for (Scenario scenario : scenarios) {
      for (Scenario.Case scenarioCase : scenario.cases()) {
        int caseIndex = index++;
        futures.add(pool.submit(() -> diffCaseRechecked(scenario, scenarioCase, caseIndex)));
      }
    }
    pool.shutdown();
    List<CaseDiff> results = new ArrayList<>();
    try {
      for (Future<CaseDiff> future : futures) {
        CaseDiff diff = future.get();
        results.add(diff);
        synchronized (resultsSoFar) {
          resultsSoFar.add(diff);
        }
        if (Cleanup.shuttingDown()) {
          break;  // Interrupted: the cases still running were killed, not compared.
        }
        out.println(summary(diff));
        for (Comparison.Difference d : diff.differences()) {
          out.println("  " + d.render());
        }
      }
    } catch (ExecutionException e) {
      pool.shutdownNow();
      if (e.getCause() instanceof IOException io) {
        throw io;  // A recording that cannot be written: the command reports it in one line.
      }
      throw new IllegalStateException("diff worker failed", e.getCause());
    }
    return results;
  }

  /** What QemuBackend says when qemu-storage-daemon never answered its first command. */
  private static final String DAEMON_DID_NOT_START = "qemu-storage-daemon did not start";

  /** How many more times a case that differs is run on QEMU before it is called different. */
  static final int QEMU_RECHECKS = 2;

  /**
   * Runs the case; one that differs from QEMU is run on QEMU again (a fresh daemon each time),
   * up to {@link #QEMU_RECHECKS} more times, and counts as identical if QEMU gives the
   * simulator's outcome in one of them: QEMU's own timing varies from run to run (a job's hold
   * released a moment later, a copy task cancelled or not), and the simulator's outcome is one
   * of QEMU's. A case that differs every time is reported with the first run's differences. A
   * racy case whose outcome the simulator's own seed does not give declares {@code schedules:}.
   */
  private CaseDiff diffCaseRechecked(Scenario scenario, Scenario.Case scenarioCase, int index)
      throws IOException {
    CaseDiff first = diffCase(scenario, scenarioCase, index);
    if (options.recorded()) {
      return first;
    }
    if (first.verdict() == Verdict.QEMU_CRASHED && first.detail() != null
        && first.detail().contains(DAEMON_DID_NOT_START) && !Cleanup.shuttingDown()) {
      // The daemon never answered (seen once in 500 cases on a loaded machine): that says
      // nothing about the case, so it gets one fresh daemon before it counts.
      first = diffCase(scenario, scenarioCase, index + QEMU_RECHECKS * 1_000_000 + 1_000_000);
    }
    if (first.verdict() != Verdict.DIFFERS || options.record()) {
      return first;
    }
    for (int again = 1; again <= QEMU_RECHECKS && !Cleanup.shuttingDown(); again++) {
      CaseDiff next = diffCase(scenario, scenarioCase, index + again * 1_000_000);
      if (next.verdict() == Verdict.IDENTICAL) {
        return next;
      }
    }
    return first;
  }

  private CaseDiff diffCase(Scenario scenario, Scenario.Case scenarioCase, int index)
      throws IOException {
    if (scenario.simOnly()) {
      return new CaseDiff(scenario.path(), scenarioCase.name(), Verdict.SKIPPED, "sim-only",
          List.of(), null, 0, 0);
    }
    long simStart = System.nanoTime(); // determinism-ok: wall time is reported, never decides
    ScenarioRunner simRunner = new ScenarioRunner(new ScenarioRunner.Options(null, false,
        options.simSemantics(), null, false), new PrintStream(PrintStream.nullOutputStream()));
    CaseResult sim = simRunner.simulate(scenario, scenarioCase);
    long simNanos = System.nanoTime() - simStart; // determinism-ok: reported only

    Path recording = recordingPath(scenario.path(), scenarioCase.name());
    Map<String, Object> qemu;
    String daemonLog = null;
    String realLog = "";
    long qemuNanos = 0;
    if (options.recorded()) {
      if (!Files.isRegularFile(recording)) {
        return new CaseDiff(scenario.path(), scenarioCase.name(), Verdict.SKIPPED,
            "no recording " + recording, List.of(), null, 0, simNanos);
      }
      qemu = JsonFiles.readObject(recording);
    } else {
      long qemuStart = System.nanoTime(); // determinism-ok: reported only
      Path scratch = options.scratchRoot().resolve("case-" + index);
      List<String> logLines = new ArrayList<>();
      try (QemuBackend backend = new QemuBackend(scratch, false, logLines::add)) {
        CaseResult real = new CaseRunner(scenario, scenarioCase, backend).run();
        qemu = real.observations();
        realLog = real.log();
        if (!real.passed() || real.failure() != null) {
          daemonLog = readQuietly(backend.daemonLog());
        }
        if (real.failure() != null && real.failure().contains("QEMU crashed")) {
          return new CaseDiff(scenario.path(), scenarioCase.name(), crashedOrKnown(scenario,
              scenarioCase), real.failure(), List.of(), daemonLog,
              System.nanoTime() - qemuStart, simNanos); // determinism-ok: reported only
        }
      } catch (StepException e) {
        return new CaseDiff(scenario.path(), scenarioCase.name(), Verdict.QEMU_CRASHED,
            "QEMU could not run the case: " + e.getMessage(), List.of(), null, 0, simNanos);
      }
      qemuNanos = System.nanoTime() - qemuStart; // determinism-ok: reported only
      if (options.record()) {
        OutputFiles.write(recording, Json.pretty(qemu) + "\n");
        // QEMU's log beside it (NAME[.CASE].qemu.out), to compare with a golden log by hand.
        String name = recording.getFileName().toString();
        OutputFiles.write(recording.resolveSibling(name.substring(0, name.length()
            - ".json".length()) + ".out"), realLog);
      }
    }
    Map<Integer, Integer> stepLines = new java.util.LinkedHashMap<>();
    scenarioCase.steps().forEach(st -> stepLines.put(st.index(), st.location().line()));
    List<Comparison.Difference> differences = Comparison.compare(qemu, sim.observations(),
        stepLines);
    Verdict verdict = Verdict.IDENTICAL;
    String detail = null;
    if (scenario.schedules() > 1) {
      // A racy case that opted in: QEMU's outcome need only be one of the simulator's. The
      // detail does not say which one, so a report does not change with QEMU's timing.
      java.util.Set<String> semantics = new java.util.TreeSet<>(scenario.semantics());
      semantics.addAll(options.simSemantics());
      OutcomeSet outcomes = OutcomeSet.of(simRunner, scenario, scenarioCase, semantics,
          scenario.seed(), scenario.schedules());
      if (outcomes.matching(qemu) != null) {
        differences = List.of();
        detail = "one of the simulator's " + outcomes.outcomes().size() + " outcomes in "
            + outcomes.schedules() + " schedules";
      }
    }
    if (!differences.isEmpty()) {
      String reason = known.reason(scenario.path(), scenarioCase.name());
      verdict = reason != null ? Verdict.KNOWN : Verdict.DIFFERS;
      detail = reason;
    }
    return new CaseDiff(scenario.path(), scenarioCase.name(), verdict, detail,
        verdict == Verdict.DIFFERS ? differences : List.of(), daemonLog, qemuNanos, simNanos);
  }

  private Verdict crashedOrKnown(Scenario scenario, Scenario.Case scenarioCase) {
    return known.reason(scenario.path(), scenarioCase.name()) != null ? Verdict.KNOWN
        : Verdict.QEMU_CRASHED;
  }

  /** Returns where {@code --record} keeps QEMU's observations: NAME[.CASE].qemu.json. */
  public static Path recordingPath(String scenarioPath, String caseName) {
    String base = scenarioPath.substring(0, scenarioPath.length() - ".yaml".length());
    return io.blocksim.sim.runner.ScenarioFiles.file(caseName.isEmpty() ? base + ".qemu.json"
        : base + "." + caseName + ".qemu.json");
  }

  private static String readQuietly(Path file) {
    try {
      return Files.isRegularFile(file) ? Files.readString(file, StandardCharsets.UTF_8) : null;
    } catch (IOException e) {
      return null;
    }
  }

  public static String summary(CaseDiff d) {
    String verdict = switch (d.verdict()) {
      case IDENTICAL -> d.detail() == null ? "identical" : "identical: " + d.detail();
      case KNOWN -> "known divergence: " + d.detail();
      case DIFFERS -> "DIFFERS in " + String.join(", ",
          d.differences().stream().map(Comparison.Difference::category).toList());
      case QEMU_CRASHED -> "QEMU crashed: " + d.detail();
      case SKIPPED -> "skipped (" + d.detail() + ")";
    };
    return String.format(java.util.Locale.ROOT, "%-72s %s", d.displayName(), verdict);
  }
}
