package io.blocksim.sim.cli;

import io.blocksim.sim.files.Cleanup;
import io.blocksim.sim.files.OutputFiles;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.JunitXml;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.Semantics;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code blocksim run}: scenario files in the simulator, each log against its golden file. */
@Command(name = "run", mixinStandardHelpOptions = true, description = "Run scenario files in the simulator.")
final class RunCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "PATH", description = "Scenario files or folders.")
  List<Path> paths;

  @Option(names = "--seed", description = "Seed for every case (default: the scenario's).")
  Long seed;

  @Option(names = "--case", description = "Run only the case with this name.")
  String onlyCase;

  @Option(names = "--update", description = "Rewrite the golden .out files.")
  boolean update;

  @Option(names = "--json", paramLabel = "FILE", description = "Write the observations.")
  Path json;

  @Option(names = "--junit", paramLabel = "FILE", description = "Write JUnit XML.")
  Path junit;

  @Option(names = "--semantics", split = ",", description = "Apply variants to every case.")
  List<String> semantics = new ArrayList<>();

  @Option(names = "--check-determinism",
      description = "Run each case twice and fail if the two runs differ.")
  boolean checkDeterminism;

  @Option(names = "--keep-images", paramLabel = "DIR",
      description = "Write each case's image files (after the final quit) to DIR/<case>/.")
  Path keepImages;

  @Option(names = "--trace-tla", paramLabel = "DIR",
      description = "Write each case's run as a TLA+ trace of specs/BitmapSync to DIR.")
  Path traceTla;

  @Option(names = "--schedules", paramLabel = "N", description = "Also run each case under N "
      + "schedules (seeds from the case's on) and print its distinct outcomes with counts.")
  int schedules = 1;

  @Option(names = "--report", paramLabel = "DIR",
      description = "Write the HTML report (index.html, a page per case, summary.md) to DIR.")
  Path reportDir;

  @Option(names = "--baseline", paramLabel = "OLD.json",
      description = "With --report: mark the cases whose observations changed since OLD.json.")
  Path baseline;

  @Override
  public Integer call() throws Exception {
    PrintStream out = Main.out;
    PrintStream err = Main.err;
    if (schedules < 1 || schedules > 1000) {
      err.println("blocksim: error: --schedules must be between 1 and 1000 (as a scenario's"
          + " schedules:), but found " + schedules);
      err.println("hint: --schedules 8 runs each case under eight schedules");
      return Main.EXIT_BAD_INPUT;
    }
    if (baseline != null && reportDir == null) {
      err.println("blocksim: error: --baseline needs --report DIR");
      err.println("hint: blocksim run --report DIR --baseline OLD.json PATH...");
      return Main.EXIT_BAD_INPUT;
    }
    for (String name : semantics) {
      if (!Semantics.known().containsKey(name)) {
        err.println("blocksim: error: unknown semantics variant '" + name + "'");
        err.println("hint: 'blocksim semantics' lists them");
        return Main.EXIT_BAD_INPUT;
      }
    }
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
    if (!loaded.errors().isEmpty()) {
      for (String error : loaded.errors()) {
        err.print(error);
      }
      return Main.EXIT_BAD_INPUT;
    }
    String nothing = Main.nothingToRun(loaded.scenarios(), paths, onlyCase);
    if (nothing != null) {
      err.println("blocksim: error: " + nothing);
      return Main.EXIT_BAD_INPUT;
    }
    int cases = (int) loaded.scenarios().stream().flatMap(s -> s.cases().stream())
        .filter(c -> onlyCase == null || onlyCase.equals(c.name())).count();
    ScenarioRunner[] running = new ScenarioRunner[1];
    try (Progress progress = Progress.start("run", cases,
        () -> running[0] == null ? 0 : running[0].resultsSoFar().size())) {
      running[0] = new ScenarioRunner(new ScenarioRunner.Options(seed, update,
          new TreeSet<>(semantics), onlyCase, checkDeterminism, keepImages, traceTla),
          progress.wrap(out));
      return runAll(loaded.scenarios(), running[0], out);
    }
  }

  private int runAll(List<Scenario> scenarios, ScenarioRunner runner, PrintStream out)
      throws Exception {
    // Ctrl-C or SIGTERM: what has run so far is still written, and the run says it stopped.
    try (Cleanup.Handle interrupted = Cleanup.register(() -> {
      out.println("interrupted: " + runner.resultsSoFar().size() + " cases run");
      writeOutputs(runner.resultsSoFar(), runner);
      out.flush();
    })) {
      long start = System.nanoTime(); // determinism-ok: wall time goes to timing.txt only
      List<CaseResult> results = runner.runAll(scenarios);
      interrupted.close();
      if (Cleanup.shuttingDown()) {
        return Main.EXIT_FAILED;  // Interrupted: the clean-up has written what had run.
      }
      writeOutputs(results, runner);
      if (reportDir != null && io.blocksim.sim.report.Reports.write("blocksim run "
          + paths.stream().map(Path::toString).collect(java.util.stream.Collectors.joining(" ")),
          io.blocksim.sim.report.ReportInputs.fromRun(results, semantics), List.of(), baseline,
          reportDir, String.format(java.util.Locale.ROOT, "wall time: %.2f s", // determinism-ok
              (System.nanoTime() - start) / 1e9), out, Main.err) != Main.EXIT_OK) {  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
        return Main.EXIT_BAD_INPUT;
      }
      int code = report(scenarios, results, runner);
      return schedules > 1 ? outcomeSets(scenarios, runner, out, code) : code;
    }
  }

  /**
   * Prints each case's distinct outcomes over the schedules; a schedule that violates an
   * invariant or hits a limit is a bug whatever the golden says, with its replay command.
   */
  private int outcomeSets(List<Scenario> scenarios, ScenarioRunner runner, PrintStream out,
      int code) {
    int worst = code;
    for (Scenario scenario : scenarios) {
      java.util.Set<String> variants = new TreeSet<>(scenario.semantics());
      variants.addAll(semantics);
      for (Scenario.Case c : scenario.cases()) {
        if (onlyCase != null && !onlyCase.equals(c.name())) {
          continue;
        }
        io.blocksim.sim.diff.OutcomeSet set = io.blocksim.sim.diff.OutcomeSet.of(runner,
            scenario, c, variants, runner.seedOf(scenario), schedules);
        String name = c.name().isEmpty() ? scenario.path() : scenario.path() + " [" + c.name()
            + "]";
        int n = set.outcomes().size();
        out.println("schedules: " + name + ": " + n + " outcome" + (n == 1 ? "" : "s") + " in "
            + schedules + " schedules");
        for (String line : set.describe()) {
          out.println("  " + line);
        }
        io.blocksim.sim.diff.OutcomeSet.Outcome bug = set.bug();
        // A scenario that demonstrates a bug: variant is meant to be flagged (as run checks).
        if (bug != null && !ScenarioRunner.demonstratesBug(scenario)
            && semantics.stream().noneMatch(Semantics::isBug)) {
          boolean invariant = bug.first().kind() == CaseResult.Kind.INVARIANT;
          worst = invariant ? Main.EXIT_INVARIANT
              : worst == Main.EXIT_INVARIANT ? worst : Main.EXIT_LIMIT;
          // Schedule i > 0 is a perturbed world: replayed by the same --schedules run.
          out.println("  reproduce: ./blocksim run --seed " + runner.seedOf(scenario)
              + " --schedules " + schedules
              + (c.name().isEmpty() ? "" : " --case '" + c.name() + "'")
              + (semantics.isEmpty() ? "" : " --semantics " + String.join(",", semantics))
              + " " + scenario.path());
        }
      }
    }
    return worst;
  }

  /** Writes --json and --junit, and lists what --update did. */
  private void writeOutputs(List<CaseResult> results, ScenarioRunner runner) {
    for (String update : runner.updates()) {
      Main.out.println(update);
    }
    try {
      if (json != null) {
        List<Object> all = new ArrayList<>();
        for (CaseResult r : results) {
          all.add(r.observations());
        }
        OutputFiles.write(json, Json.pretty(all) + "\n");
      }
      if (junit != null) {
        List<JunitXml.TestCase> tests = new ArrayList<>();
        for (CaseResult r : results) {
          tests.add(JunitXml.of(r, runner.nanosOf(r)));
        }
        JunitXml.writeTests(junit, "blocksim run", tests);
      }
    } catch (java.io.IOException e) {
      throw new Main.OutputError(e);
    }
  }

  private int report(List<Scenario> scenarios, List<CaseResult> results,
      ScenarioRunner runner) {
    PrintStream out = Main.out;
    int passed = 0;
    int failed = 0;
    int worst = Main.EXIT_OK;
    for (CaseResult r : results) {
      if (r.passed()) {
        passed++;
        continue;
      }
      failed++;
      Scenario scenario = scenarios.stream().filter(s -> s.path().equals(r.scenarioPath()))
          .findFirst().orElseThrow();
      long caseSeed = runner.seedOf(scenario);
      if (r.kind() == CaseResult.Kind.INVARIANT) {
        worst = Main.EXIT_INVARIANT;
        out.println("bug in " + r.displayName() + ": " + r.failure());
        out.println("seed=" + caseSeed);
        out.println("trace tail:");
        String[] lines = r.log().split("\n");
        for (int i = Math.max(0, lines.length - 12); i < lines.length; i++) {
          out.println("  " + lines[i]);
        }
      } else if (r.kind() == CaseResult.Kind.LIMIT && worst != Main.EXIT_INVARIANT) {
        worst = Main.EXIT_LIMIT;
      } else if (worst == Main.EXIT_OK) {
        worst = Main.EXIT_FAILED;
      }
      StringBuilder replay = new StringBuilder("reproduce: ./blocksim run --seed " + caseSeed);
      if (!r.caseName().isEmpty()) {
        replay.append(" --case '").append(r.caseName()).append('\'');
      }
      if (!semantics.isEmpty()) {
        replay.append(" --semantics ").append(String.join(",", semantics));
      }
      replay.append(' ').append(r.scenarioPath());
      out.println(replay);
    }
    out.println(passed + " passed, " + failed + " failed");
    return worst;
  }
}
