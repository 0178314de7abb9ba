package io.blocksim.sim.cli;

import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.sweep.CrashSweep;
import io.blocksim.sim.scenario.Scenario;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
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

  @Option(names = "--verbose", description = "Print every crash point.")
  boolean verbose;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if (stride < 1) {
      spec.commandLine().getErr().println("blocksim: error: --stride must be at least 1, but is "
          + stride);
      return Main.EXIT_BAD_INPUT;
    }
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
    if (!loaded.errors().isEmpty()) {
      for (String error : loaded.errors()) {
        spec.commandLine().getErr().print(error);
      }
      return Main.EXIT_BAD_INPUT;
    }
    long violations = 0;
    for (Scenario scenario : loaded.scenarios()) {
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
        for (CrashSweep.Point p : report.points()) {
          if (verbose || !p.violations().isEmpty()) {
            out.println("  op " + p.op() + ": " + p.outcome());
            for (String v : p.violations()) {
              out.println("    " + v);
            }
          }
        }
        violations += report.violationCount();
      }
    }
    out.println(violations == 0 ? "no violations" : violations + " crash points violated the "
        + "invariant");
    out.flush();
    return violations == 0 ? Main.EXIT_OK : Main.EXIT_FAILED;
  }
}
