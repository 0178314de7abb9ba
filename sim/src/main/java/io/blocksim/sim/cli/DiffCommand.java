package io.blocksim.sim.cli;

import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.diff.Comparison;
import io.blocksim.sim.diff.Differ;
import io.blocksim.sim.diff.KnownDivergences;
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
@Command(name = "diff", description = "Compare scenarios under real QEMU 7.2 and the simulator.")
final class DiffCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "PATH", description = "Scenario files or folders.")
  List<Path> paths;

  @Option(names = "--record", description = "Keep QEMU's observations beside each scenario.")
  boolean record;

  @Option(names = "--recorded",
      description = "Compare with the recorded observations instead of running QEMU.")
  boolean recorded;

  @Option(names = "--jobs", description = "Parallel daemons (default: the core count).")
  Integer jobs;

  @Option(names = "--report", paramLabel = "FILE", description = "Write a Markdown report.")
  Path report;

  @Option(names = "--known", paramLabel = "FILE",
      description = "Known divergences (default: scenarios/known-divergences.txt).")
  Path knownFile = Path.of("scenarios", "known-divergences.txt");

  @Override
  public Integer call() throws Exception {
    PrintStream out = Main.out;
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
    if (!loaded.errors().isEmpty()) {
      loaded.errors().forEach(Main.err::print);
      return Main.EXIT_BAD_INPUT;
    }
    int parallelism = jobs != null ? jobs : Runtime.getRuntime().availableProcessors();
    Path scratch = Files.createTempDirectory("blocksim-diff-");
    Differ differ = new Differ(new Differ.Options(record, recorded, parallelism, scratch),
        KnownDivergences.load(knownFile), out);
    long start = System.nanoTime(); // determinism-ok: wall time is reported, never decides
    List<Differ.CaseDiff> results = differ.run(loaded.scenarios());
    long wall = System.nanoTime() - start; // determinism-ok: reported only
    deleteQuietly(scratch);
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
    if (report != null) {
      writeReport(results, conformance, timing);
    }
    return bad > 0 ? Main.EXIT_FAILED : Main.EXIT_OK;
  }

  private static long count(List<Differ.CaseDiff> results, Differ.Verdict verdict) {
    return results.stream().filter(r -> r.verdict() == verdict).count();
  }

  private void writeReport(List<Differ.CaseDiff> results, String conformance, String timing)
      throws java.io.IOException {
    StringBuilder md = new StringBuilder("# blocksim diff: simulator against QEMU 7.2\n\n");
    md.append(conformance).append("\n\n").append(timing).append("\n\n");
    md.append("| case | verdict | QEMU ms | simulator ms |\n| --- | --- | ---: | ---: |\n");
    for (Differ.CaseDiff d : results) {
      md.append("| ").append(d.displayName()).append(" | ")
          .append(d.verdict().name().toLowerCase(Locale.ROOT).replace('_', ' '))
          .append(d.detail() == null ? "" : ": " + d.detail().replace("|", "\\|"))
          .append(String.format(Locale.ROOT, " | %.0f | %.1f |%n", d.qemuNanos() / 1e6,
              d.simNanos() / 1e6));
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
    Files.createDirectories(report.toAbsolutePath().getParent());
    Files.writeString(report, md.toString(), StandardCharsets.UTF_8);
  }

  private static void deleteQuietly(Path dir) {
    try (var walk = Files.walk(dir)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException e) {
      // A leftover temporary directory is harmless.
    }
  }
}
