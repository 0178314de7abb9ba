package io.blocksim.sim.runner;

import io.blocksim.sim.port.Backend;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.Semantics;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import io.blocksim.sim.files.OutputFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Runs scenarios in the simulator: each case in a fresh world, its log compared with the golden
 * file beside the scenario (rewritten only with {@code --update}), one summary line per case, the
 * replay command of every failure, and {@code N passed, N failed}.
 */
public final class ScenarioRunner {
  /** What {@code blocksim run} was asked to do. */
  public record Options(Long seed, boolean update, Set<String> semantics, String onlyCase,
      boolean checkDeterminism, Path keepImages, Path traceTla) {
    public Options(Long seed, boolean update, Set<String> semantics, String onlyCase,
        boolean checkDeterminism) {
      this(seed, update, semantics, onlyCase, checkDeterminism, null, null);
    }
  }

  private final Options options;
  private final PrintStream out;
  private final List<String> updates = new ArrayList<>();
  private final List<CaseResult> resultsSoFar = new ArrayList<>();
  private final java.util.Map<CaseResult, String> notes = new java.util.IdentityHashMap<>();
  private final java.util.Map<CaseResult, Long> nanos =
      java.util.Collections.synchronizedMap(new java.util.IdentityHashMap<>());

  public ScenarioRunner(Options options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  /**
   * Runs every case of every scenario; returns the results in order. Each case is a world of its
   * own (its engine, disk and PRNG, single-threaded), so independent cases run on all cores;
   * everything a case reports (summary line, note, golden update) is taken in case order as each
   * one's turn comes, so the output is the same whatever the core count. Under --trace-tla and
   * --keep-images a case prints while it runs: one at a time.
   */
  public List<CaseResult> runAll(List<Scenario> scenarios) throws IOException {
    List<Callable<Done>> work = new ArrayList<>();
    for (Scenario scenario : scenarios) {
      for (Scenario.Case scenarioCase : scenario.cases()) {
        if (options.onlyCase() != null && !options.onlyCase().equals(scenarioCase.name())) {
          continue;
        }
        work.add(() -> {
          Done done = new Done();
          long start = System.nanoTime(); // determinism-ok: wall time is reported, never decides
          done.result = runCase(scenario, scenarioCase, done);
          done.nanos = System.nanoTime() - start; // determinism-ok: reported only
          return done;
        });
      }
    }
    int threads = options.traceTla() != null || options.keepImages() != null ? 1
        : Math.min(work.size(), Runtime.getRuntime().availableProcessors());
    List<CaseResult> results = new ArrayList<>();
    if (threads <= 1) {
      for (Callable<Done> one : work) {
        results.add(report(call(one)));
      }
      return results;
    }
    // determinism-ok: independent cases in parallel, output ordered
    ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {  // determinism-ok: independent cases in parallel, output ordered
      Thread t = new Thread(null, r, "blocksim-case", CASE_STACK_BYTES);  // determinism-ok: independent cases in parallel, output ordered
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<Done>> futures = new ArrayList<>();
      for (Callable<Done> one : work) {
        futures.add(pool.submit(one));
      }
      for (Future<Done> future : futures) {
        results.add(report(join(future)));
      }
    } finally {
      pool.shutdownNow();
    }
    return results;
  }

  /** What one case produced besides its result, handed to the reporting thread. */
  private static final class Done {
    CaseResult result;
    long nanos;
    String note;
    String update;
  }

  /** Stack of a case thread: as deep as the main thread's (the script passes -Xss8m). */
  private static final long CASE_STACK_BYTES = 8L << 20;

  /** Records and prints one finished case; called in case order, on one thread. */
  private CaseResult report(Done done) {
    CaseResult result = done.result;
    nanos.put(result, done.nanos);
    if (done.update != null) {
      updates.add(done.update);
    }
    if (done.note != null) {
      notes.put(result, done.note);
    }
    synchronized (resultsSoFar) {
      resultsSoFar.add(result);
    }
    String note = notes.get(result);
    out.println(summaryLine(result) + (note == null ? "" : "  (" + note + ")"));
    return result;
  }

  private static Done call(Callable<Done> one) throws IOException {
    try {
      return one.call();
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static Done join(Future<Done> future) throws IOException {
    try {
      return future.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while running cases", e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IOException io) {
        throw io;
      }
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException(cause);
    }
  }

  /** Returns the seed a case runs with. */
  public long seedOf(Scenario scenario) {
    return options.seed() != null ? options.seed() : scenario.seed();
  }

  private Set<String> semanticsOf(Scenario scenario) {
    Set<String> all = new TreeSet<>(scenario.semantics());
    all.addAll(options.semantics());
    return all;
  }

  /** Runs one case in a fresh simulated world. */
  public CaseResult simulate(Scenario scenario, Scenario.Case scenarioCase) {
    return simulate(scenario, scenarioCase, semanticsOf(scenario));
  }

  /** Runs one case in a fresh simulated world with exactly these semantics variants. */
  public CaseResult simulate(Scenario scenario, Scenario.Case scenarioCase,
      Set<String> semantics) {
    return simulate(scenario, scenarioCase, semantics, seedOf(scenario));
  }

  /**
   * Runs one case with this seed (the seed draws every I/O latency, and so the order in which
   * requests complete and jobs reach their yield points).
   */
  public CaseResult simulate(Scenario scenario, Scenario.Case scenarioCase,
      Set<String> semantics, long seed) {
    return simulate(scenario, scenarioCase, semantics, seed, false);
  }

  /** As above; {@code perturbed} runs it on a disk of another speed (SimBackend). */
  public CaseResult simulate(Scenario scenario, Scenario.Case scenarioCase,
      Set<String> semantics, long seed, boolean perturbed) {
    try (SimBackend backend = new SimBackend(seed, semantics, perturbed)) {
      // Two projections of one run: bitmaps and backups (BitmapSync, read from the engine) and
      // job lifecycles (JobLifecycle, read from QMP alone); the job tracer is outermost so that
      // it sees each command's reply and events as the runner does.
      // A scenario that names invariant checkers (as explore's failure files do) runs them
      // after every step, innermost, so that they see the simulator's every action.
      Backend checked = scenario.checkers().isEmpty() ? backend
          : new io.blocksim.sim.checker.CheckedBackend(backend,
              io.blocksim.sim.checker.CheckedBackend.named(scenario.checkers()));
      Backend bitmaps = options.traceTla() == null ? checked
          : io.blocksim.sim.tlc.TraceValidation.wrap(checked);
      Backend run = options.traceTla() == null ? bitmaps
          : io.blocksim.sim.tlc.JobTraceValidation.wrap(bitmaps);
      CaseResult result = new CaseRunner(scenario, scenarioCase, run).run();
      result.observations().put("seed", seed); // the replay command's seed
      if (options.traceTla() != null) {
        out.println("  trace-tla: " + io.blocksim.sim.tlc.TraceValidation.writeTrace(bitmaps,
            options.traceTla(), result.displayName()));
        out.println("  trace-tla: " + io.blocksim.sim.tlc.JobTraceValidation.writeTrace(run,
            options.traceTla(), result.displayName()));
      }
      // The run ends as qemu-storage-daemon's 'quit' ends it: nodes closed, bitmaps stored.
      try {
        backend.quit();
      } catch (RuntimeException e) {
        return withFailure(result, CaseResult.Kind.INVARIANT, "quit at the end of the run: "
            + "internal error: " + e);
      }
      if (options.keepImages() != null) {
        keepImages(backend, scenario, scenarioCase);
      }
      return result;
    }
  }

  /** Writes the case's image files to DIR/<scenario>[.<case>]/, byte for byte. */
  private void keepImages(SimBackend backend, Scenario scenario, Scenario.Case scenarioCase) {
    String base = Path.of(scenario.path()).getFileName().toString().replaceFirst("\\.yaml$", "");
    String dirName = scenarioCase.name().isEmpty() ? base : base + "." + scenarioCase.name();
    Path dir = options.keepImages().resolve(dirName.replace('/', '_'));
    try {
      Files.createDirectories(dir);
      backend.disk().exportTo(dir);
    } catch (IOException e) {
      // An output that cannot be written: one line and exit 2 (the command line's handler).
      throw new java.io.UncheckedIOException(new io.blocksim.sim.files.OutputFiles.Unwritable(
          dir, e));
    }
  }

  private CaseResult runCase(Scenario scenario, Scenario.Case scenarioCase, Done done)
      throws IOException {
    CaseResult result = simulate(scenario, scenarioCase);
    if (options.checkDeterminism()) {
      CaseResult again = simulate(scenario, scenarioCase);
      if (!again.log().equals(result.log())
          || !again.observations().equals(result.observations())) {
        return withFailure(result, CaseResult.Kind.FAILED,
            "nondeterminism: a second run with the same seed gave a different log or observations");
      }
    }
    if (demonstratesBug(scenario)) {
      return expectFlagged(scenario, result, simulate(scenario, scenarioCase, withoutBugs(
          semanticsOf(scenario))));
    }
    if (result.kind() == CaseResult.Kind.INVARIANT || result.kind() == CaseResult.Kind.LIMIT) {
      return result;
    }
    Path golden = ScenarioFiles.golden(scenario.path(), scenarioCase.name());
    Path bad = Path.of(golden + ".bad");
    boolean exists = Files.isRegularFile(golden);
    String expected = exists ? Files.readString(golden, StandardCharsets.UTF_8) : null;
    if (options.update()) {
      if (result.failure() != null) {
        // A failing case is never recorded as the expected output; say so instead.
        done.update = "not updated " + ScenarioFiles.display(golden) + ": the case failed";
        return result;
      }
      if (!result.log().equals(expected)) {
        OutputFiles.write(golden, result.log());
        done.update = (exists ? "updated " : "created ") + ScenarioFiles.display(golden);
      }
      Files.deleteIfExists(bad);
      return result;
    }
    if (!exists) {
      done.note = "no golden file " + ScenarioFiles.display(golden)
          + " (the log is not checked; 'blocksim run --update' creates it)";
      return result;
    }
    if (!expected.equals(result.log())) {
      OutputFiles.write(bad, result.log());
      String diff = firstDifference(expected, result.log());
      String failure = "output mismatch with " + ScenarioFiles.display(golden) + " (" + diff
          + "; full output in " + ScenarioFiles.display(bad) + ")";
      if (result.failure() != null) {
        failure = result.failure() + "; " + failure;
      }
      CaseResult failed = withFailure(result, CaseResult.Kind.FAILED, failure);
      failed.observations().put("golden_difference", // for the HTML report: both sides
          GoldenDifference.of(ScenarioFiles.display(golden), expected, result.log()));
      return failed;
    }
    Files.deleteIfExists(bad);
    return result;
  }

  /** Returns what {@code --update} did to each golden file it touched, in run order. */
  public List<String> updates() {
    return List.copyOf(updates);
  }

  /** Returns the wall time a case took (for JUnit's time attribute), 0 if unknown. */
  public long nanosOf(CaseResult result) {
    return nanos.getOrDefault(result, 0L);
  }

  /** Returns the results of the cases run so far (an interrupted run reports them). */
  public List<CaseResult> resultsSoFar() {
    synchronized (resultsSoFar) {
      return List.copyOf(resultsSoFar);
    }
  }

  /**
   * Returns whether the scenario itself switches on a known bug ({@code semantics: [bug:...]}):
   * such a scenario exists to show the bug, so a flagged run is its expected outcome. Variants
   * given on the command line ({@code --semantics}, mutation testing) do not count: there a
   * violation is reported as what it is.
   */
  public static boolean demonstratesBug(Scenario scenario) {
    return scenario.semantics().stream().anyMatch(Semantics::isBug);
  }

  private static Set<String> withoutBugs(Set<String> semantics) {
    Set<String> kept = new TreeSet<>(semantics);
    kept.removeIf(v -> v.startsWith("bug:"));
    return kept;
  }

  /**
   * A bug scenario passes when the same steps pass under QEMU 7.2's semantics (the baseline: its
   * {@code bug:} variants switched off) and the run with the variants is flagged: an invariant
   * checker fires, a step that states 7.2's behaviour ({@code expect}, {@code error:}, an
   * {@code await} with its timeout) fails, or the run hits a simulation limit (a job that never
   * ends). Without the baseline a scenario that fails for any reason would "show" every bug.
   */
  private static CaseResult expectFlagged(Scenario scenario, CaseResult result,
      CaseResult baseline) {
    String variants = String.join(", ", scenario.semantics());
    if (baseline.kind() != CaseResult.Kind.PASSED) {
      return withFailure(result, CaseResult.Kind.FAILED, "without " + variants
          + " the scenario does not pass, so it cannot show the bug: " + baseline.failure());
    }
    if (result.kind() == CaseResult.Kind.INVARIANT || result.kind() == CaseResult.Kind.LIMIT
        || result.kind() == CaseResult.Kind.FAILED) {
      java.util.Map<String, Object> observations =
          new java.util.LinkedHashMap<>(result.observations());
      observations.put("passed", true);
      observations.put("flagged", result.failure());
      return new CaseResult(result.scenarioPath(), result.caseName(), CaseResult.Kind.PASSED,
          null, result.log(), observations, null);
    }
    return withFailure(result, CaseResult.Kind.FAILED, "the scenario switches on " + variants
        + ", but neither a checker nor the scenario's own expectations flagged it");
  }

  private static CaseResult withFailure(CaseResult r, CaseResult.Kind kind, String failure) {
    java.util.Map<String, Object> observations = new java.util.LinkedHashMap<>(r.observations());
    observations.put("passed", false);
    observations.put("failure", failure);
    return new CaseResult(r.scenarioPath(), r.caseName(), kind, failure, r.log(), observations,
        null);
  }

  static String firstDifference(String expected, String actual) {
    String[] e = expected.split("\n", -1);
    String[] a = actual.split("\n", -1);
    for (int i = 0; i < Math.max(e.length, a.length); i++) {
      String el = i < e.length ? e[i] : "<end of file>";
      String al = i < a.length ? a[i] : "<end of output>";
      if (!el.equals(al)) {
        return "line " + (i + 1) + ": expected '" + el + "', got '" + al + "'";
      }
    }
    return "no line differs";
  }

  private static String summaryLine(CaseResult result) {
    String verdict = switch (result.kind()) {
      case PASSED -> "pass";
      case FAILED -> "fail";
      case INVARIANT -> "BUG";
      case LIMIT -> "limit";
      case NOT_RUN -> "not run";
    };
    String line = String.format(java.util.Locale.ROOT, "%-72s %s", result.displayName(), verdict);
    return result.failure() == null ? line : line + "  " + result.failure();
  }
}
