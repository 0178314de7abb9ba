package io.blocksim.sim.explore;

import io.blocksim.sim.diff.Differ;
import io.blocksim.sim.diff.KnownDivergences;
import io.blocksim.sim.files.OutputFiles;
import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code blocksim fuzz --against qemu}: differential fuzzing. Runs are generated from the
 * timing-insensitive part of the vocabulary (images and chains, external data files, guest I/O,
 * bitmaps and their transactions, resize, external snapshots, reopen, NBD exports and maps,
 * fleecing, qemu-img, process crashes: no jobs, no time passing, no blkdebug), recorded in the
 * simulator as scenario files, and compared with a real qemu-storage-daemon by {@code blocksim
 * diff}'s machinery. A divergence is run three more times on QEMU; one that differs every time is
 * minimised against QEMU (the explore shrinker, each candidate run on QEMU and kept while it
 * still differs in the same category) and written to the output folder; QEMU crashes are
 * written apart. {@code --semantics} applies variants to the simulator's side only: a planted
 * divergence, to show that fuzzing finds and shrinks one.
 */
@Command(name = "fuzz", mixinStandardHelpOptions = true, description = "Differential fuzzing: random runs in the simulator and on"
    + " qemu-storage-daemon, compared.")
public final class FuzzCommand implements Callable<Integer> {
  /** What can be compared with QEMU without timing deciding the outcome. */
  static final Set<Feature> COMPARABLE = EnumSet.of(Feature.CHAINS, Feature.RAW,
      Feature.PREFILLED_TARGETS, Feature.WRITES, Feature.ZEROES, Feature.DISCARDS,
      Feature.READS, Feature.BITMAPS, Feature.BITMAP_OPS, Feature.PERSISTENT,
      Feature.TRANSACTIONS, Feature.CRASH_PROCESS, Feature.RESIZE, Feature.SNAPSHOTS,
      Feature.REOPEN, Feature.NBD, Feature.FLEECING, Feature.IMG, Feature.DATA_FILE);

  @Option(names = "--against", required = true, description = "What to compare with: qemu.")
  String against;

  @Option(names = "--runs", description = "Number of runs (default 50).")
  int runs = 50;

  @Option(names = "--seed", description = "Campaign seed (default 1).")
  long seed = 1;

  @Option(names = "--out", paramLabel = "DIR",
      description = "Where divergences and QEMU crashes are written (default fuzz-failures).")
  Path outDir = Path.of("fuzz-failures");

  @Option(names = "--jobs", description = "Parallel daemons (default 1).")
  int jobs = 1;

  @Option(names = "--semantics", split = ",",
      description = "Variants for the simulator's side only (a planted divergence).")
  List<String> semantics = new ArrayList<>();

  @Option(names = "--shrink-budget",
      description = "QEMU runs the shrinker may spend per divergence (default 150; 0: none).")
  int shrinkBudget = 150;

  Path work;
  private int candidates;

  @Override
  public Integer call() throws Exception {
    if (!against.equals("qemu")) {
      ExploreCommand.err.println("blocksim: error: --against must be 'qemu', but found '"
          + against + "'");
      ExploreCommand.err.println("hint: blocksim fuzz --against qemu --runs 300");
      return ExitCodes.BAD_INPUT;
    }
    String bad = runs < 1 ? "--runs must be at least 1, but is " + runs
        : jobs < 1 ? "--jobs must be at least 1, but is " + jobs
        : shrinkBudget < 0 ? "--shrink-budget must be at least 0, but is " + shrinkBudget : null;
    if (bad != null) {
      ExploreCommand.err.println("blocksim: error: " + bad);
      ExploreCommand.err.println("hint: see 'blocksim fuzz --help'");
      return ExitCodes.BAD_INPUT;
    }
    QemuAvailability qemu = QemuAvailability.check();
    if (!qemu.available()) {
      ExploreCommand.err.println("blocksim: error: QEMU is not available: " + qemu.reason());
      ExploreCommand.err.println("hint: install qemu-utils and qemu-system-common (7.2)");
      return ExitCodes.BAD_INPUT;
    }
    for (String name : semantics) {
      if (!io.blocksim.sim.scenario.Semantics.known().containsKey(name)) {
        ExploreCommand.err.println("blocksim: error: unknown semantics variant '" + name + "'");
        ExploreCommand.err.println("hint: 'blocksim semantics' lists them");
        return ExitCodes.BAD_INPUT;
      }
    }
    work = Files.createTempDirectory("blocksim-fuzz-");
    try (io.blocksim.sim.files.Cleanup.Handle cleanup =
        io.blocksim.sim.files.Cleanup.deleteOnExit(work)) {
      return campaign();
    } finally {
      io.blocksim.sim.files.Cleanup.deleteTree(work);
    }
  }

  private int campaign() throws Exception {
    Set<String> variants = new java.util.TreeSet<>(semantics);
    RunGenerator generator = new RunGenerator(Profile.DEFAULT, COMPARABLE);
    Map<String, Long> seeds = new LinkedHashMap<>();
    Map<String, GeneratedRun> generated = new LinkedHashMap<>();
    int simFailures = 0;
    int simAborts = 0;
    for (int i = 0; i < runs; i++) {
      long runSeed = Campaign.runSeed(seed, i);
      GeneratedRun run = generator.generate(runSeed);
      RunExecutor.Result result = RunExecutor.execute(run, variants, null, List.of());
      if (result.verdict() == RunExecutor.Verdict.QEMU_ABORT) {
        simAborts++; // Where QEMU 7.2 itself aborts (qemu-behaviour §22): nothing to compare.
        continue;
      }
      if (result.verdict() != RunExecutor.Verdict.PASSED) {
        simFailures++; // An engine assertion: blocksim explore reports those.
        continue;
      }
      String name = "fuzz-" + runSeed + ".yaml";
      Files.writeString(work.resolve(name), ScenarioWriter.write("fuzz run " + runSeed,
          "Generated by blocksim fuzz (campaign seed " + seed + ", run " + i + ").", runSeed,
          Set.of(), false, run.images(), result.recorded()), StandardCharsets.UTF_8);
      seeds.put(name, runSeed);
      generated.put(name, run);
    }
    List<Differ.CaseDiff> results = diff(work, List.copyOf(seeds.keySet()));
    long identical = 0;
    List<String> stable = new ArrayList<>();
    List<String> flaky = new ArrayList<>();
    List<String> crashes = new ArrayList<>();
    Files.createDirectories(outDir);
    for (Differ.CaseDiff r : results) {
      String name = Path.of(r.scenarioPath()).getFileName().toString();
      switch (r.verdict()) {
        case IDENTICAL, KNOWN -> identical++;
        case QEMU_CRASHED -> {
          String during = during(r.detail());
          String shrunk = during == null ? "" : shrinkAndWrite(generated.get(name),
              seeds.get(name), null, during, variants, outDir.resolve("qemu-crash-" + name));
          if (during == null) {
            Files.copy(work.resolve(name), outDir.resolve("qemu-crash-" + name),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
          }
          // The first line: the daemon's log tail is in the written file's replay.
          crashes.add(name + ": " + r.detail().lines().findFirst().orElse("") + shrunk);
        }
        case DIFFERS -> {
          boolean always = true;
          for (int again = 0; again < 3 && always; again++) {
            always = diff(work, List.of(name)).get(0).verdict() == Differ.Verdict.DIFFERS;
          }
          if (always) {
            String category = r.differences().get(0).category();
            String shrunk = shrinkAndWrite(generated.get(name), seeds.get(name), category, null,
                variants, outDir.resolve("diverge-" + name));
            stable.add(name + ": " + category + " differ" + shrunk);
          } else {
            flaky.add(name + ": " + r.detail());
          }
        }
        default -> { }
      }
    }
    ExploreCommand.out.println("fuzz: " + runs + " runs, " + results.size() + " compared with"
        + " QEMU, " + identical + " identical, " + stable.size() + " divergences (stable over 3"
        + " re-checks), " + flaky.size() + " that did not re-check, " + crashes.size()
        + " QEMU crashes, " + simFailures + " runs stopped by an engine assertion, " + simAborts
        + " not compared (the simulator stops where QEMU 7.2 aborts)");
    for (String s : stable) {
      ExploreCommand.out.println("divergence: " + s);
    }
    for (String s : flaky) {
      ExploreCommand.out.println("not reproducible: " + s);
    }
    for (String s : crashes) {
      ExploreCommand.out.println("QEMU crash: " + s);
    }
    if (!stable.isEmpty() || !crashes.isEmpty()) {
      ExploreCommand.out.println("written to " + outDir + " (replay: ./blocksim diff FILE)");
    }
    return stable.isEmpty() && crashes.isEmpty() ? ExitCodes.OK : ExitCodes.FAILED;
  }

  /**
   * Minimises a stable divergence against QEMU and writes it; returns what the shrinking did, for
   * the summary line.
   */
  String shrinkAndWrite(GeneratedRun run, long runSeed, String category,
      String crashDuring, Set<String> variants, Path file) throws Exception {
    Shrinker shrinker = new Shrinker(candidate -> stillFails(candidate, category, crashDuring,
        variants), shrinkBudget);
    GeneratedRun minimal = shrinkBudget > 0 ? shrinker.shrink(run) : run;
    RunExecutor.Result result = RunExecutor.execute(minimal, variants, null, List.of());
    String what = category != null ? "the " + category + " differ from what qemu-storage-daemon"
        + " 7.2 does" : "qemu-storage-daemon 7.2 crashes during " + crashDuring;
    OutputFiles.write(file, ScenarioWriter.write("fuzz: " + (category != null ? category
        + " differ from QEMU 7.2" : "QEMU 7.2 crashes during " + crashDuring) + " (seed "
        + runSeed + ")", "Found by blocksim fuzz --against qemu (campaign seed "
        + seed + ", run seed " + runSeed + ")" + (variants.isEmpty() ? ""
        : " with the simulator under " + String.join(", ", variants)) + ", shrunk against QEMU"
        + " from " + run.steps().size() + " steps and " + run.images().size() + " images.\n"
        + "Here " + what + " (replay: blocksim diff " + file.getFileName() + ").", runSeed,
        Set.of(), false, minimal.images(), result.recorded()));
    return " (shrunk " + run.steps().size() + " → " + result.recorded().size() + " steps in "
        + shrinker.executions() + " QEMU runs; " + file + ")";
  }

  /** Returns the command QEMU crashed during ("'transaction'"), or null. */
  static String during(String detail) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("crashed \\(signal \\d+\\)"
        + " during ('[^']*')").matcher(detail == null ? "" : detail);
    return m.find() ? m.group(1) : null;
  }

  /**
   * The shrinker's oracle: the run still differs from QEMU in the category, or (category null)
   * still crashes QEMU during the same command.
   */
  private Integer stillFails(GeneratedRun run, String category, String crashDuring,
      Set<String> variants) {
    try {
      RunExecutor.Result result = RunExecutor.execute(run, variants, null, List.of());
      if (result.verdict() != RunExecutor.Verdict.PASSED) {
        return null;
      }
      String name = "candidate-" + (candidates++) + ".yaml";
      Files.writeString(work.resolve(name), ScenarioWriter.write("fuzz candidate", "", run.seed(),
          Set.of(), false, run.images(), result.recorded()), StandardCharsets.UTF_8);
      Differ.CaseDiff d = diff(work, List.of(name)).get(0);
      Files.deleteIfExists(work.resolve(name));
      boolean still = category != null
          ? d.verdict() == Differ.Verdict.DIFFERS && d.differences().stream()
              .anyMatch(x -> x.category().equals(category))
          : d.verdict() == Differ.Verdict.QEMU_CRASHED && crashDuring.equals(during(d.detail()));
      return still ? run.steps().size() : null;
    } catch (Exception e) {
      return null;  // A candidate QEMU cannot run is not the divergence being shrunk.
    }
  }

  private List<Differ.CaseDiff> diff(Path work, List<String> names) throws Exception {
    List<Path> files = names.stream().map(work::resolve).toList();
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(files);
    List<Scenario> scenarios = loaded.scenarios();
    Path scratch = Files.createTempDirectory(work, "scratch-");
    Differ differ = new Differ(new Differ.Options(false, false, jobs, scratch,
        new java.util.TreeSet<>(semantics)),
        KnownDivergences.load(Path.of("scenarios", "known-divergences.txt")),
        new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
    try {
      return differ.run(scenarios);
    } finally {
      io.blocksim.sim.files.Cleanup.deleteTree(scratch);
    }
  }
}
