package io.blocksim.sim.cli;

import io.blocksim.sim.runner.JunitXml;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.sweep.CrashSweep;
import io.blocksim.sim.scenario.Scenario;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code blocksim sweep --crash-points SCENARIO...}: cuts the power after every write and flush
 * of the image files in turn and checks each resulting image (see {@link CrashSweep}).
 */
@Command(name = "sweep", mixinStandardHelpOptions = true, description = "Crash-point sweep: power cut after each disk request.")
final class SweepCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Parameters(arity = "1..*", paramLabel = "PATH", description = "Scenario files or folders.")
  List<Path> paths;

  @Option(names = "--crash-points", required = true,
      description = "Cut the power after each write/flush of the image files.")
  boolean crashPoints;

  @Option(names = "--seed", description = "Seed for every case (default: the scenario's).")
  Long seed;

  @Option(names = "--case", description = "Sweep only the case with this name.")
  String onlyCase;

  @Option(names = "--stride", paramLabel = "N",
      description = "Try every N-th crash point, N at least 1 (default 1).")
  int stride = 1;

  @Option(names = "--requests",
      description = "Print the writes and flushes each file saw over the crash points, image "
          + "creations left out.")
  boolean requests;

  @Option(names = "--verbose", description = "Print every crash point.")
  boolean verbose;

  @Option(names = "--junit", paramLabel = "FILE",
      description = "Write JUnit XML: a test per case; violated crash points are an error typed"
          + " invariant-violation.")
  Path junit;

  @Override
  public Integer call() throws Exception {
    if (stride < 1) {
      Main.err.println("blocksim: error: --stride must be at least 1, but is " + stride);
      return Main.EXIT_BAD_INPUT;
    }
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
    if (!loaded.errors().isEmpty()) {
      for (String error : loaded.errors()) {
        Main.err.print(error);
      }
      return Main.EXIT_BAD_INPUT;
    }
    String nothing = Main.nothingToRun(loaded.scenarios(), paths, onlyCase);
    if (nothing != null) {
      Main.err.println("blocksim: error: " + nothing);
      return Main.EXIT_BAD_INPUT;
    }
    int cases = (int) loaded.scenarios().stream().flatMap(s -> s.cases().stream())
        .filter(c -> onlyCase == null || onlyCase.equals(c.name())).count();
    AtomicInteger swept = new AtomicInteger();
    List<JunitXml.TestCase> tests = new ArrayList<>();
    long violations = 0;
    try (Progress progress = Progress.start("sweep", cases, swept::get)) {
      violations = sweepAll(loaded.scenarios(), progress.wrap(Main.out), swept, tests);
    }
    PrintStream out = Main.out;
    out.println(violations == 0 ? "no violations" : violations + " crash points violated the "
        + "invariant");
    out.flush();
    if (junit != null) {
      JunitXml.writeTests(junit, "blocksim sweep", tests);
    }
    return violations == 0 ? Main.EXIT_OK : Main.EXIT_FAILED;
  }

  private long sweepAll(List<Scenario> scenarios, PrintStream out, AtomicInteger swept,
      List<JunitXml.TestCase> tests) {
    long violations = 0;
    for (Scenario scenario : scenarios) {
      for (Scenario.Case c : scenario.cases()) {
        if (onlyCase != null && !onlyCase.equals(c.name())) {
          continue;
        }
        long caseSeed = seed != null ? seed : scenario.seed();
        long started = System.nanoTime(); // determinism-ok: reported only
        CrashSweep.Report report = CrashSweep.sweep(scenario, c, caseSeed,
            new TreeSet<>(scenario.semantics()), stride);
        double seconds = (System.nanoTime() - started) / 1e9; // determinism-ok: reported only
        String name = scenario.path() + (c.name().isEmpty() ? "" : " [" + c.name() + "]");
        out.printf(Locale.ROOT, "%s: %d crash points (ops %d..%d), %.1f runs/s%n", name,
            report.points().size(), report.firstOp(), report.lastOp(),
            (report.points().size() + 1) / Math.max(seconds, 1e-9));
        for (Map.Entry<String, Integer> e : report.outcomes().entrySet()) {
          out.printf(Locale.ROOT, "  %-40s %d%n", e.getKey(), e.getValue());
        }
        if (requests) {
          long writes = 0;
          long flushes = 0;
          for (Map.Entry<String, CrashSweep.Requests> e : report.requests().entrySet()) {
            out.printf(Locale.ROOT, "  requests %-31s %d writes, %d flushes%n", e.getKey(),
                e.getValue().writes(), e.getValue().flushes());
            writes += e.getValue().writes();
            flushes += e.getValue().flushes();
          }
          out.printf(Locale.ROOT, "  requests %-31s %d writes, %d flushes%n", "(all files)",
              writes, flushes);
        }
        for (CrashSweep.Point p : report.points()) {
          if (verbose || !p.violations().isEmpty() || p.qemuWindow() != null) {
            out.println("  op " + p.op() + ": " + p.outcome());
            for (String v : p.violations()) {
              out.println("    " + v);
            }
            if (p.qemuWindow() != null) {
              out.println("    QEMU 7.2's own window, not a violation: " + p.qemuWindow());
              for (String v : p.windowEffects()) {
                out.println("      " + v);
              }
            }
          }
        }
        violations += report.violationCount();
        tests.add(junitTest(scenario, c, report, System.nanoTime() - started)); // determinism-ok
        swept.incrementAndGet();
      }
    }
    return violations;
  }

  /** A case's sweep as a JUnit test: violated crash points are an invariant violation. */
  static JunitXml.TestCase junitTest(Scenario scenario, Scenario.Case c, CrashSweep.Report report,
      long nanos) {
    if (report.violationCount() == 0) {
      return new JunitXml.TestCase(scenario.path(), c.name(), JunitXml.Outcome.PASSED, null, null,
          nanos);
    }
    StringBuilder detail = new StringBuilder();
    for (CrashSweep.Point p : report.points()) {
      if (!p.violations().isEmpty()) {
        detail.append("op ").append(p.op()).append(": ").append(p.outcome()).append('\n');
        p.violations().forEach(v -> detail.append("  ").append(v).append('\n'));
      }
    }
    return new JunitXml.TestCase(scenario.path(), c.name(), JunitXml.Outcome.INVARIANT_VIOLATION,
        report.violationCount() + " of " + report.points().size()
            + " crash points violated the invariant", detail.toString(), nanos);
  }
}
