package io.blocksim.sim.explore;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.checker.CheckerFailure;
import io.blocksim.sim.files.OutputFiles;
import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Durations;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioParser;
import io.blocksim.sim.scenario.Semantics;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code blocksim explore}: seeded random runs with every checker after every step, until the run
 * count or the time budget is spent or an invariant is violated; the failing run is shrunk and
 * written as a scenario file that {@code blocksim run} replays with the same violation.
 */
@Command(name = "explore", mixinStandardHelpOptions = true, description = "Random runs with invariant checkers (swarm testing);"
    + " a violation is shrunk to a scenario file.")
public final class ExploreCommand implements Callable<Integer> {
  /** Where the CLI prints (tests set these). */
  public static PrintStream out = System.out;
  public static PrintStream err = System.err;

  @Option(names = "--runs", description = "Number of runs (default: 1000 unless --time).")
  Long runs;

  @Option(names = "--time", description = "Wall-clock budget, e.g. 60s or 5m.")
  String time;

  @Option(names = "--seed", description = "Campaign seed (default 1).")
  long seed = 1;

  @Option(names = "--semantics", split = ",", description = "Engine variants for every run.")
  List<String> semantics = new ArrayList<>();

  @Option(names = "--shard", description = "Run shard i of n (i/n, 0-based): every n-th run.")
  String shard = "0/1";

  @Option(names = "--json", paramLabel = "FILE", description = "Write the summary as JSON.")
  Path json;

  @Option(names = "--report", paramLabel = "DIR", description = "Also write the HTML report:"
      + " the campaign's summary and coverage, and a page per violation (its shrunk scenario).")
  Path report;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Where failures are written (default explore-failures).")
  Path outDir = Path.of("explore-failures");

  @Option(names = "--checkers", split = ",",
      description = "Checkers to run (default all): bitmap-coverage, data, ...; none for none.")
  List<String> checkers = new ArrayList<>(List.of("all"));

  @Option(names = "--keep-going",
      description = "Go on after a violation (each is reported; the exit code is still 3).")
  boolean keepGoing;

  @Option(names = "--no-shrink", description = "Write the failing run as it was generated.")
  boolean noShrink;

  @Option(names = "--shrink-budget", description = "Runs the shrinker may spend (default 3000).")
  int shrinkBudget = 3000;

  @Option(names = "--tla", paramLabel = "N", description = "Spec acceptance, sampled: every N-th"
      + " run that passed is checked with TLC against BitmapSync and JobLifecycle (0: off).")
  int tlaEvery;

  @Option(names = "--image-max", description = "Largest image in bytes (default 262144).")
  long imageMax = Profile.DEFAULT.imageBytesMax();

  @Override
  public Integer call() throws Exception {
    for (String name : semantics) {
      if (!Semantics.known().containsKey(name)) {
        err.println("blocksim: error: unknown semantics variant '" + name + "'");
        err.println("hint: 'blocksim semantics' lists them");
        return ExitCodes.BAD_INPUT;
      }
    }
    String bad = badNumber();
    if (bad != null) {
      err.println("blocksim: error: " + bad);
      err.println("hint: see 'blocksim explore --help'");
      return ExitCodes.BAD_INPUT;
    }
    int[] shardParts = parseShard(shard);
    if (shardParts == null) {
      err.println("blocksim: error: --shard must be i/n with 0 <= i < n, but found '" + shard
          + "'");
      err.println("hint: e.g. --shard 0/4 for the first of four shards");
      return ExitCodes.BAD_INPUT;
    }
    long budgetNs = 0;
    if (time != null) {
      try {
        budgetNs = Durations.parseNs(time);
      } catch (IllegalArgumentException e) {
        err.println("blocksim: error: --time: " + e.getMessage());
        err.println("hint: e.g. --time 60s");
        return ExitCodes.BAD_INPUT;
      }
    }
    long runCount = runs != null ? runs : time != null ? 0 : 1000;
    // determinism-ok: time budget (wall clock bounds the campaign, never a run)
    long started = System.nanoTime();  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
    long deadline = budgetNs == 0 ? 0 : started + budgetNs;
    Set<String> variants = new TreeSet<>(semantics);
    Campaign.Plan plan = new Campaign.Plan(seed, runCount, deadline, variants, shardParts[0],
        shardParts[1], new Profile(imageMax, Profile.DEFAULT.stepsMin(),
            Profile.DEFAULT.stepsMax()), keepGoing, checkers, Math.max(0, tlaEvery));
    LiveLine live = LiveLine.create(err, started, budgetNs, runCount);
    java.lang.management.ThreadMXBean threads =
        java.lang.management.ManagementFactory.getThreadMXBean();
    long cpuStarted = threads.getCurrentThreadCpuTime(); // determinism-ok: time budget
    Campaign.Tally tally = Campaign.run(plan, live);
    double cpuSeconds = (threads.getCurrentThreadCpuTime() - cpuStarted) / 1e9;
    live.finish();
    // determinism-ok: time budget (throughput report)
    double seconds = (System.nanoTime() - started) / 1e9;  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
    List<Map<String, Object>> failures = new ArrayList<>();
    List<CaseResult> replays = new ArrayList<>();
    for (Campaign.Failure f : tally.failures) {
      failures.add(report(f, variants, replays));
    }
    int specFailures = tally.sampled.isEmpty() ? 0 : specAcceptance(tally.sampled, variants,
        failures);
    out.println(String.format(java.util.Locale.ROOT,
        "explore: %d runs in %.1f s (%.0f runs/s; %.0f runs per CPU second), %d passed,"
            + " %d at a simulation limit, %d where QEMU 7.2 aborts, %d violations (seed %d,"
            + " shard %s, semantics %s)",
        tally.runs, seconds, seconds > 0 ? tally.runs / seconds : 0.0,
        cpuSeconds > 0 ? tally.runs / cpuSeconds : 0.0, tally.passed, tally.limits,
        tally.qemuAborts, tally.failures.size(), seed, shard, variants.isEmpty() ? "QEMU 7.2" : variants));
    tally.coverage.print(out);
    if (json != null) {
      OutputFiles.write(json, Json.pretty(Campaign.summary(plan, tally, seconds, cpuSeconds,
          failures)) + "\n");
    }
    if (report != null) {
      ExploreReport.write(report, plan, tally, failures, replays, seconds, out);
    }
    return tally.failures.isEmpty() && specFailures == 0 ? ExitCodes.OK : ExitCodes.INVARIANT;
  }

  /**
   * Checks the sampled runs' traces with TLC; prints and writes each rejected run (not shrunk:
   * each candidate would cost a TLC run). Returns the number of rejections.
   */
  /** Returns what is wrong with the numbers and names given, or null. */
  private String badNumber() {
    if (runs != null && runs < 1) {
      return "--runs must be at least 1, but is " + runs;
    }
    if (shrinkBudget < 0) {
      return "--shrink-budget must be at least 0, but is " + shrinkBudget;
    }
    if (tlaEvery < 0) {
      return "--tla must be at least 0 (0: off), but is " + tlaEvery;
    }
    if (imageMax < 512) {
      return "--image-max must be at least 512, but is " + imageMax;
    }
    List<String> known = new ArrayList<>(io.blocksim.sim.checker.Checkers.all().stream()
        .map(io.blocksim.sim.checker.Checker::name).toList());
    for (String name : checkers) {
      if (!name.equals("all") && !name.equals("none") && !known.contains(name)) {
        return "--checkers: unknown checker '" + name + "' (known: all, none, "
            + String.join(", ", known) + ")";
      }
    }
    return null;
  }

  private int specAcceptance(List<SpecSampling.Sample> sampled, Set<String> variants,
      List<Map<String, Object>> failures) throws Exception {
    Path root = io.blocksim.sim.files.RepositoryRoot.find();
    Path specs = root != null ? root.resolve("specs") : Path.of("specs");
    Path work = Files.createTempDirectory("blocksim-tla-");
    SpecSampling.Outcome outcome;
    try (io.blocksim.sim.files.Cleanup.Handle cleanup =
        io.blocksim.sim.files.Cleanup.deleteOnExit(work)) {
      outcome = SpecSampling.check(sampled, variants, specs, work);
    } finally {
      io.blocksim.sim.files.Cleanup.deleteTree(work);
    }
    out.println("spec acceptance: " + sampled.size() + " runs sampled (one in " + tlaEvery
        + " runs, those that passed): " + outcome.bitmapTraces() + " BitmapSync and "
        + outcome.jobTraces() + " JobLifecycle traces checked with TLC, "
        + outcome.rejections().size() + " rejected");
    for (SpecSampling.Rejection r : outcome.rejections()) {
      Files.createDirectories(outDir);
      Path file = outDir.resolve("spec-acceptance-" + r.sample().seed() + ".yaml");
      OutputFiles.write(file, r.sample().scenario("Found by blocksim explore --tla (campaign"
          + " seed " + seed + "): spec " + r.spec() + " rejects the run's trace:\n"
          + r.detail()));
      out.println("bug: checker spec-acceptance violated: spec " + r.spec() + " rejects the trace"
          + " of run seed=" + r.sample().seed() + ": " + r.detail());
      out.println("replay: ./blocksim run --trace-tla DIR " + file + "  (then TLC on DIR, as the"
          + " README's run --trace-tla says)");
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("checker", "spec-acceptance");
      m.put("message", "spec " + r.spec() + ": " + r.detail());
      m.put("seed", r.sample().seed());
      m.put("file", file.toString());
      failures.add(m);
    }
    return outcome.rejections().size();
  }

  private Map<String, Object> report(Campaign.Failure f, Set<String> variants,
      List<CaseResult> replays) throws Exception {
    CheckerFailure failure = f.failure();
    out.println("bug: checker " + failure.checker() + " violated: " + failure.message());
    out.println("seed=" + f.runSeed() + " (run " + f.runIndex() + " of campaign seed " + seed
        + ")");
    out.println("trace tail:");
    for (String line : f.result().traceTail()) {
      out.println("  " + line);
    }
    GeneratedRun minimal = f.run();
    int shrinkRuns = 0;
    if (!noShrink) {
      Shrinker shrinker = new Shrinker(variants, failure.checker(), shrinkBudget);
      minimal = shrinker.shrink(f.run());
      shrinkRuns = shrinker.executions();
    }
    RunExecutor.Result replayed = RunExecutor.execute(minimal, variants, null);
    CheckerFailure last = replayed.failure() != null ? replayed.failure() : failure;
    Files.createDirectories(outDir);
    Path file = outDir.resolve(failure.checker() + "-" + f.runSeed() + ".yaml");
    String description = "Found by blocksim explore (campaign seed " + seed + ", run "
        + f.runIndex() + ", run seed " + f.runSeed() + "), shrunk from "
        + f.run().steps().size() + " steps and " + f.run().images().size() + " images.\n"
        + "Features: " + f.run().features().toString().toLowerCase(java.util.Locale.ROOT) + "\n"
        + "Violation (checker " + last.checker() + "): " + last.message();
    OutputFiles.write(file, ScenarioWriter.write("explore: " + last.checker() + " violated (seed "
        + f.runSeed() + ")", description, f.runSeed(), variants, true, minimal.images(),
        replayed.recorded()));
    String confirmed = confirmReplay(file, failure.checker(), replays);
    out.println("shrunk: " + f.run().steps().size() + " → " + replayed.recorded().size()
        + " steps, " + f.run().images().size() + " → " + minimal.images().size() + " images ("
        + shrinkRuns + " runs); written to " + file);
    out.println("replay: ./blocksim run " + file + "  (" + confirmed + ")");
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("checker", failure.checker());
    m.put("message", failure.message());
    m.put("seed", f.runSeed());
    m.put("run", f.runIndex());
    m.put("file", file.toString());
    m.put("replay", confirmed);
    return m;
  }

  /** Runs the written file as {@code blocksim run} would; says whether it fails the same way. */
  static String confirmReplay(Path file, String checker) {
    return confirmReplay(file, checker, new ArrayList<>());
  }

  /** As above, and adds the replay's result to {@code replays} (for the report). */
  static String confirmReplay(Path file, String checker, List<CaseResult> replays) {
    try {
      Scenario scenario = ScenarioParser.parse(file, file.toString());
      ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false,
          Set.of(), null, false), new PrintStream(PrintStream.nullOutputStream()));
      CaseResult result = runner.simulate(scenario, scenario.cases().get(0));
      replays.add(result);
      if (result.kind() != CaseResult.Kind.INVARIANT) {
        return "NOT confirmed: the replay " + (result.failure() == null ? "passed"
            : "failed otherwise: " + result.failure());
      }
      String got = CheckerFailure.ofMessage(result.failure()).checker();
      return got.equals(checker) ? "confirmed: the replay violates " + checker
          : "NOT confirmed: the replay violates " + got;
    } catch (Exception e) {
      return "NOT confirmed: " + e.getMessage();
    }
  }

  static int[] parseShard(String text) {
    String[] parts = text.split("/");
    try {
      int i = Integer.parseInt(parts[0]);
      int n = Integer.parseInt(parts[1]);
      return parts.length == 2 && n > 0 && i >= 0 && i < n ? new int[] {i, n} : null;
    } catch (RuntimeException e) {
      return null;
    }
  }
}
