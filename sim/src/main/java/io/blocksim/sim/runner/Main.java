package io.blocksim.sim.runner;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.Semantics;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The {@code blocksim} command line. Exit codes: 0 all passed, 1 a case failed, 2 bad input, 3 an
 * invariant was violated (a bug), 4 a simulation limit was reached.
 */
@Command(name = "blocksim", mixinStandardHelpOptions = true, version = "blocksim 0.1",
    description = "Deterministic simulation of QEMU 7.2's block layer.",
    subcommands = {Main.Run.class, DiffCommand.class, Main.Check.class, Main.Bench.class,
        Main.SemanticsList.class, io.blocksim.sim.sweep.SweepCommand.class})
public final class Main implements Callable<Integer> {
  public static final int EXIT_OK = 0;
  public static final int EXIT_FAILED = 1;
  public static final int EXIT_BAD_INPUT = 2;
  public static final int EXIT_INVARIANT = 3;
  public static final int EXIT_LIMIT = 4;

  @Override
  public Integer call() {
    CommandLine.usage(this, System.out);
    return EXIT_BAD_INPUT;
  }

  public static void main(String[] args) {
    int code = execute(args, System.out, System.err);
    System.exit(code);
  }

  /** Runs the command line; returns the exit code (for tests). */
  public static int execute(String[] args, PrintStream out, PrintStream err) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(new java.io.PrintWriter(out, true));
    cli.setErr(new java.io.PrintWriter(err, true));
    cli.setParameterExceptionHandler((ex, a) -> {
      err.println("blocksim: error: " + ex.getMessage());
      err.println("hint: see 'blocksim " + (ex.getCommandLine().getCommandName()) + " --help'");
      return EXIT_BAD_INPUT;
    });
    cli.setExecutionStrategy(new CommandLine.RunLast());
    Run.out = out;
    Run.err = err;
    return cli.execute(args);
  }

  @Command(name = "run", description = "Run scenario files in the simulator.")
  static final class Run implements Callable<Integer> {
    static PrintStream out = System.out;
    static PrintStream err = System.err;

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

    @Override
    public Integer call() throws Exception {
      for (String name : semantics) {
        if (!Semantics.known().containsKey(name)) {
          err.println("blocksim: error: unknown semantics variant '" + name + "'");
          err.println("hint: 'blocksim semantics' lists them");
          return EXIT_BAD_INPUT;
        }
      }
      ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
      if (!loaded.errors().isEmpty()) {
        for (String error : loaded.errors()) {
          err.print(error);
        }
        return EXIT_BAD_INPUT;
      }
      ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(seed, update,
          new TreeSet<>(semantics), onlyCase, checkDeterminism, keepImages, traceTla), out);
      List<CaseResult> results = runner.runAll(loaded.scenarios());
      if (json != null) {
        List<Object> all = new ArrayList<>();
        for (CaseResult r : results) {
          all.add(r.observations());
        }
        Files.writeString(json, Json.pretty(all) + "\n", StandardCharsets.UTF_8);
      }
      if (junit != null) {
        JunitXml.write(junit, "blocksim run", results);
      }
      return report(loaded.scenarios(), results, runner);
    }

    private int report(List<Scenario> scenarios, List<CaseResult> results,
        ScenarioRunner runner) {
      int passed = 0;
      int failed = 0;
      int worst = EXIT_OK;
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
          worst = EXIT_INVARIANT;
          out.println("bug in " + r.displayName() + ": " + r.failure());
          out.println("seed=" + caseSeed);
          out.println("trace tail:");
          String[] lines = r.log().split("\n");
          for (int i = Math.max(0, lines.length - 12); i < lines.length; i++) {
            out.println("  " + lines[i]);
          }
        } else if (r.kind() == CaseResult.Kind.LIMIT && worst != EXIT_INVARIANT) {
          worst = EXIT_LIMIT;
        } else if (worst == EXIT_OK) {
          worst = EXIT_FAILED;
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

  @Command(name = "check",
      description = "Model-check every TLA+ spec in specs/ with TLC and compare with the manifest.")
  static final class Check implements Callable<Integer> {
    @Option(names = "--specs", description = "The specs folder (default: specs).")
    Path specs = Path.of("specs");

    @Option(names = "--work", description = "TLC's working folder (default: target/tlc).")
    Path work = Path.of("target", "tlc");

    @Override
    public Integer call() throws Exception {
      return io.blocksim.sim.tlc.TlcRunner.checkAll(specs, work, Run.out);
    }
  }

  @Command(name = "bench", description = "Benchmarks: HBitmap kernels, engine memory and speed.")
  static final class Bench implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
      io.blocksim.sim.bench.BitmapBench.run(Run.out);
      io.blocksim.sim.bench.EngineBench.run(Run.out);
      return EXIT_OK;
    }
  }

  @Command(name = "semantics", description = "List the named engine variants.")
  static final class SemanticsList implements Callable<Integer> {
    @Override
    public Integer call() {
      for (Map.Entry<String, String> e : Semantics.known().entrySet()) {
        Run.out.println(e.getKey() + "  " + e.getValue());
      }
      return EXIT_OK;
    }
  }
}
