package io.blocksim.sim.cli;

import io.blocksim.sim.files.Cleanup;
import io.blocksim.sim.files.OutputFiles;
import io.blocksim.sim.runner.JunitXml;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.diff.Comparison;
import io.blocksim.sim.diff.Differ;
import io.blocksim.sim.diff.KnownDivergences;
import io.blocksim.sim.qemu.QemuBackend;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioError;
import io.blocksim.sim.scenario.Step;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code blocksim diff}: the simulator against a real qemu-storage-daemon, case by case. */
@Command(name = "diff", mixinStandardHelpOptions = true, description = "Compare scenarios under real QEMU 7.2 and the simulator.")
final class DiffCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "PATH", description = "Scenario files or folders.")
  List<Path> paths;

  @Option(names = "--record", description = "Keep QEMU's observations beside each scenario.")
  boolean record;

  @Option(names = "--recorded",
      description = "Compare with the recorded observations instead of running QEMU.")
  boolean recorded;

  @Option(names = "--jobs", paramLabel = "N",
      description = "Parallel daemons, at least 1 (default: the core count).")
  Integer jobs;

  @Option(names = "--report", paramLabel = "PATH", description = "Write a report: a path "
      + "ending in .md gets the Markdown table, any other a folder with the HTML report "
      + "(repeatable).")
  List<Path> reports = List.of();

  @Option(names = "--baseline", paramLabel = "OLD.json",
      description = "With an HTML --report: mark the cases whose observations changed since.")
  Path baseline;

  @Option(names = "--junit", paramLabel = "FILE", description = "Write JUnit XML.")
  Path junit;

  @Option(names = "--known", paramLabel = "FILE",
      description = "Known divergences (default: the known-divergences.txt of the scenarios'"
          + " folder or a folder above it).")
  Path knownFile;

  @Override
  public Integer call() throws Exception {
    PrintStream out = Main.out;
    if (jobs != null && jobs < 1) {
      Main.err.println("blocksim: error: --jobs must be at least 1, but is " + jobs);
      return Main.EXIT_BAD_INPUT;
    }
    if (knownFile != null && !Files.isRegularFile(knownFile)) {
      Main.err.println("blocksim: error: --known " + knownFile + ": " + (Files.isDirectory(
          knownFile) ? "a folder, not a file" : "no such file"));
      return Main.EXIT_BAD_INPUT;
    }
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
    if (!loaded.errors().isEmpty()) {
      loaded.errors().forEach(Main.err::print);
      return Main.EXIT_BAD_INPUT;
    }
    String nothing = Main.nothingToRun(loaded.scenarios(), paths, null);
    if (nothing != null) {
      Main.err.println("blocksim: error: " + nothing);
      return Main.EXIT_BAD_INPUT;
    }
    String tooLong = advancesBeyondRealTime(loaded.scenarios());
    if (tooLong != null) {
      Main.err.print(tooLong);
      return Main.EXIT_BAD_INPUT;
    }
    if (loaded.scenarios().stream().allMatch(Scenario::simOnly)) {
      Main.err.println("blocksim: error: nothing to compare: every scenario given is sim-only");
      Main.err.println("hint: 'blocksim run' runs sim-only scenarios");
      return Main.EXIT_BAD_INPUT;
    }
    Path known = knownFile != null ? knownFile : defaultKnownFile(paths);
    KnownDivergences divergences;
    try {
      divergences = known == null ? new KnownDivergences() : KnownDivergences.load(known);
    } catch (java.io.IOException e) {
      Main.err.println("blocksim: error: " + e.getMessage());
      return Main.EXIT_BAD_INPUT;
    }
    int parallelism = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
    Path scratch = Files.createTempDirectory("blocksim-diff-");
    int cases = loaded.scenarios().stream().mapToInt(s -> s.cases().size()).sum();
    Differ[] running = new Differ[1];
    try (Progress progress = Progress.start("diff", cases,
        () -> running[0] == null ? 0 : running[0].resultsSoFar().size())) {
      running[0] = new Differ(new Differ.Options(record, recorded, parallelism, scratch),
          divergences, progress.wrap(out));
      return compare(loaded, running[0], scratch, out);
    }
  }

  private int compare(ScenarioFiles.Loaded loaded, Differ differ, Path scratch, PrintStream out)
      throws Exception {
    long start = System.nanoTime(); // determinism-ok: wall time is reported, never decides
    List<Differ.CaseDiff> results;
    // Ctrl-C or SIGTERM: daemons and scratch folders go (their own clean-up runs first, being
    // newer), and what was compared so far is still reported.
    try (Cleanup.Handle folder = Cleanup.deleteOnExit(scratch);
        Cleanup.Handle interrupted = Cleanup.register(() -> {
          List<Differ.CaseDiff> sofar = differ.resultsSoFar();
          out.println("interrupted: " + sofar.size() + " cases compared");
          writeOutputs(sofar, "interrupted", "");
          out.flush();
        })) {
      results = differ.run(loaded.scenarios());
      interrupted.close();
    } finally {
      Cleanup.deleteTree(scratch);
    }
    long wall = System.nanoTime() - start; // determinism-ok: reported only
    if (Cleanup.shuttingDown()) {
      return Main.EXIT_FAILED;  // Interrupted: the clean-up has reported what was compared.
    }
    if (recorded && results.stream().allMatch(r -> r.verdict() == Differ.Verdict.SKIPPED)) {
      Main.err.println("blocksim: error: nothing was compared: no case has a recording"
          + " (NAME[.CASE].qemu.json beside the scenario); 'blocksim diff --record' makes them");
      return Main.EXIT_BAD_INPUT;
    }
    long compared = results.stream().filter(r -> r.verdict() != Differ.Verdict.SKIPPED).count();
    long identical = count(results, Differ.Verdict.IDENTICAL);
    long listed = count(results, Differ.Verdict.KNOWN);
    long bad = count(results, Differ.Verdict.DIFFERS) + count(results,
        Differ.Verdict.QEMU_CRASHED);
    long qemuNanos = results.stream().mapToLong(Differ.CaseDiff::qemuNanos).sum();
    long simNanos = results.stream().mapToLong(Differ.CaseDiff::simNanos).sum();
    String timing = String.format(Locale.ROOT,
        "time: %.2fs wall; QEMU %.2fs, simulator %.3fs summed over cases (QEMU/sim = %.0fx)",
        wall / 1e9, qemuNanos / 1e9, simNanos / 1e9,
        simNanos == 0 ? 0.0 : (double) qemuNanos / simNanos);
    String conformance = "conformance: " + identical + "/" + compared + " cases identical"
        + (listed > 0 ? ", " + listed + " known divergences" : "");
    out.println(timing);
    out.println(conformance);
    writeOutputs(results, conformance, timing);
    for (Path report : reports) {
      if (!report.toString().endsWith(".md")
          && htmlReport(report, loaded, results, timing) != Main.EXIT_OK) {
        return Main.EXIT_BAD_INPUT;
      }
    }
    return bad > 0 ? Main.EXIT_FAILED : Main.EXIT_OK;
  }

  /**
   * Returns the located errors for advances that would sleep too long on QEMU (an advance
   * passes in real time under diff: one step may ask for at most a minute, a case for five),
   * or null. Checked before any daemon starts, so a 100-year advance is refused at once.
   */
  static String advancesBeyondRealTime(List<Scenario> scenarios) {
    StringBuilder errors = new StringBuilder();
    for (Scenario scenario : scenarios) {
      if (scenario.simOnly()) {
        continue;
      }
      for (Scenario.Case c : scenario.cases()) {
        long total = 0;
        for (Step step : c.steps()) {
          if (!(step instanceof Step.Advance advance)) {
            continue;
          }
          total += Math.min(advance.durationNs(), Long.MAX_VALUE / 4);
          String what = advance.durationNs() > QemuBackend.ADVANCE_MAX_NS
              ? "an advance of " + seconds(advance.durationNs()) + " passes in real time under"
                  + " blocksim diff, and one step may ask for at most "
                  + seconds(QemuBackend.ADVANCE_MAX_NS)
              : total > QemuBackend.ADVANCE_TOTAL_MAX_NS
                  ? "the advances up to here ask for " + seconds(total) + " of real time under"
                      + " blocksim diff, and a case may ask for at most "
                      + seconds(QemuBackend.ADVANCE_TOTAL_MAX_NS)
                  : null;
          if (what != null) {
            errors.append(new ScenarioError.Problem(advance.location(), "'advance' in step "
                + advance.index() + (c.name().isEmpty() ? "" : " (case " + c.name() + ")")
                + ": " + what, "advance less, or mark the scenario sim-only (blocksim run"
                + " advances virtual time)", null).render());
            break;
          }
        }
      }
    }
    return errors.length() == 0 ? null : errors.toString();
  }

  private static String seconds(long ns) {
    long s = ns / 1_000_000_000L;
    return s >= 86_400L * 365 ? String.format(Locale.ROOT, "%,d s (%.0f years)", s,
        s / (86_400.0 * 365)) : String.format(Locale.ROOT, "%,d s", s);
  }

  /** Returns the known-divergences.txt in the first path's folder or a folder above it. */
  static Path defaultKnownFile(List<Path> paths) {
    for (Path dir = paths.get(0).toAbsolutePath().normalize(); dir != null;
        dir = dir.getParent()) {
      for (Path candidate : List.of(dir.resolve("known-divergences.txt"),
          dir.resolve("scenarios").resolve("known-divergences.txt"))) {
        if (Files.isRegularFile(candidate)) {
          return candidate;
        }
      }
    }
    return null;
  }

  private void writeOutputs(List<Differ.CaseDiff> results, String conformance, String timing) {
    try {
      for (Path report : reports) {
        if (report.toString().endsWith(".md")) {
          writeReport(report, results, conformance);
        }
      }
      if (junit != null) {
        List<JunitXml.TestCase> tests = new java.util.ArrayList<>();
        for (Differ.CaseDiff d : results) {
          JunitXml.Outcome outcome = switch (d.verdict()) {
            case IDENTICAL, KNOWN -> JunitXml.Outcome.PASSED;
            case DIFFERS, QEMU_CRASHED -> JunitXml.Outcome.FAILED;
            case SKIPPED -> JunitXml.Outcome.SKIPPED;
          };
          String detail = String.join("\n", d.differences().stream()
              .map(Comparison.Difference::render).toList());
          tests.add(new JunitXml.TestCase(d.scenarioPath(), d.caseName(), outcome,
              Differ.summary(d).strip(), detail, d.qemuNanos() + d.simNanos()));
        }
        JunitXml.writeTests(junit, "blocksim diff", tests);
      }
    } catch (java.io.IOException e) {
      throw new Main.OutputError(e);
    }
  }

  private static long count(List<Differ.CaseDiff> results, Differ.Verdict verdict) {
    return results.stream().filter(r -> r.verdict() == verdict).count();
  }

  /**
   * The HTML report: every case run in the simulator against its golden file (sim-only ones
   * too), each with its verdict against QEMU.
   */
  private int htmlReport(Path dir, ScenarioFiles.Loaded loaded, List<Differ.CaseDiff> results,
      String timing) throws java.io.IOException {
    ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false,
        new java.util.TreeSet<>(), null, false), new PrintStream(PrintStream.nullOutputStream()));
    List<io.blocksim.sim.report.ReportModel.CaseEntry> cases =
        io.blocksim.sim.report.ReportInputs.withConformance(
            io.blocksim.sim.report.ReportInputs.fromRun(runner.runAll(loaded.scenarios()),
                List.of()), results);
    return io.blocksim.sim.report.Reports.write("blocksim diff "
        + paths.stream().map(Path::toString).collect(java.util.stream.Collectors.joining(" ")),
        cases, List.of(), baseline, dir, timing, Main.out, Main.err);
  }

  /** The Markdown table; deterministic (no wall-clock times), so a tracked copy stays put. */
  private void writeReport(Path report, List<Differ.CaseDiff> results, String conformance)
      throws java.io.IOException {
    StringBuilder md = new StringBuilder("# blocksim diff: simulator against QEMU 7.2\n\n");
    md.append(conformance).append("\n\n");
    md.append("| case | verdict |\n| --- | --- |\n");
    for (Differ.CaseDiff d : results) {
      md.append("| ").append(d.displayName()).append(" | ")
          .append(d.verdict().name().toLowerCase(Locale.ROOT).replace('_', ' '))
          .append(d.detail() == null ? "" : ": " + d.detail().replace("|", "\\|"))
          .append(" |\n");
    }
    for (Differ.CaseDiff d : results) {
      if (d.differences().isEmpty() && d.daemonLog() == null) {
        continue;
      }
      md.append("\n## ").append(d.displayName()).append("\n\n```\n");
      for (Comparison.Difference difference : d.differences()) {
        md.append(difference.render()).append('\n');
      }
      if (d.daemonLog() != null && !d.daemonLog().isBlank()) {
        md.append("--- qemu-storage-daemon log ---\n").append(d.daemonLog().strip())
            .append('\n');
      }
      md.append("```\n");
    }
    OutputFiles.write(report, md.toString());
  }

}
