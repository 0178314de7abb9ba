package io.blocksim.sim.bench;

import io.blocksim.sim.explore.ExploreRuns;
import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.qemu.QemuBackend;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.sweep.CrashSweep;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * Corpus figures, measured in one run on one machine so that they can be set side by side: the
 * per-case time of the bundled scenarios in-process after warm-up, the whole-corpus wall time of
 * {@code ./blocksim run}, crash points per second of every persistence scenario, the memory
 * bandwidth ({@code System.arraycopy}) as the floor any of them could reach, and real
 * qemu-storage-daemon on a sample of the same cases. Time is read here only; nothing measured
 * feeds back into a simulation. Thread CPU time is printed beside wall time because the machine
 * may be shared: CPU time is what the simulator itself spent.
 */
public final class CorpusBench {
  /** What to measure: the scenarios folder, passes, how many cases QEMU runs (0: none). */
  public record Options(Path scenarios, int warmupPasses, int measuredPasses, int qemuSample,
      boolean wholeCorpus) {}

  /** One case's figures: median wall and CPU nanoseconds over the measured passes. */
  record CaseTime(Scenario scenario, Scenario.Case scenarioCase, long wallNs, long cpuNs,
      long allocatedBytes) {
    String name() {
      return scenario.path() + (scenarioCase.name().isEmpty() ? "" : " [" + scenarioCase.name()
          + "]");
    }
  }

  /** Explore runs before the measured ones (JIT warm-up), and measured runs (a few seconds). */
  static final int EXPLORE_WARMUP_RUNS = 300;
  static final int EXPLORE_RUNS = 600;
  /** The campaign seed of the measured explore runs (the warm-up runs use the next one). */
  static final long EXPLORE_SEED = 1;

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private CorpusBench() {}

  public static void run(PrintStream out, Options options) throws IOException {
    arraycopyBandwidth(out);
    List<CaseTime> cases = perCase(out, options);
    crashSweeps(out, options.scenarios().resolve("persistence"), options.warmupPasses());
    if (options.wholeCorpus()) {
      wholeCorpus(out, options.scenarios());
    }
    explore(out, EXPLORE_WARMUP_RUNS, EXPLORE_RUNS);
    if (options.qemuSample() > 0) {
      qemu(out, cases, options.qemuSample());
    }
  }

  /** Memory bandwidth: copies of a 64 MiB array, after warm-up. */
  static double arraycopyBandwidth(PrintStream out) {
    byte[] src = new byte[64 << 20];
    byte[] dst = new byte[64 << 20];
    Arrays.fill(src, (byte) 1);
    long best = Long.MAX_VALUE;
    for (int round = 0; round < 20; round++) {
      long start = System.nanoTime(); // determinism-ok: benchmark timing
      System.arraycopy(src, 0, dst, 0, src.length);
      best = Math.min(best, System.nanoTime() - start); // determinism-ok: benchmark timing
    }
    double gbPerS = src.length / (double) best;
    out.printf(Locale.ROOT, "memory bandwidth (System.arraycopy of 64 MiB, best of 20): %.1f GB/s"
        + " = %.0f µs per 64 MiB%n", gbPerS, best / 1e3);
    return gbPerS;
  }

  private static List<CaseTime> perCase(PrintStream out, Options options) throws IOException {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(options.scenarios()));
    ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false,
        new TreeSet<>(), null, false), new PrintStream(OutputStream.nullOutputStream()));
    List<Scenario> scenarios = loaded.scenarios();
    for (int pass = 0; pass < options.warmupPasses(); pass++) {
      for (Scenario s : scenarios) {
        for (Scenario.Case c : s.cases()) {
          runner.simulate(s, c);
        }
      }
    }
    List<CaseTime> times = new ArrayList<>();
    for (Scenario s : scenarios) {
      for (Scenario.Case c : s.cases()) {
        long[] wall = new long[options.measuredPasses()];
        long[] cpu = new long[options.measuredPasses()];
        long[] allocated = new long[options.measuredPasses()];
        for (int pass = 0; pass < wall.length; pass++) {
          long allocStart = allocatedBytes();
          long cpuStart = THREADS.getCurrentThreadCpuTime();
          long start = System.nanoTime(); // determinism-ok: benchmark timing
          runner.simulate(s, c);
          wall[pass] = System.nanoTime() - start; // determinism-ok: benchmark timing
          cpu[pass] = THREADS.getCurrentThreadCpuTime() - cpuStart;
          allocated[pass] = allocatedBytes() - allocStart;
        }
        times.add(new CaseTime(s, c, median(wall), median(cpu), median(allocated)));
      }
    }
    long[] wall = times.stream().mapToLong(CaseTime::wallNs).sorted().toArray();
    long[] cpu = times.stream().mapToLong(CaseTime::cpuNs).sorted().toArray();
    out.printf(Locale.ROOT, "per case, in-process after %d warm-up passes (%d cases, median of %d"
        + " runs each): median %.0f µs, p90 %.0f µs wall; median %.0f µs, p90 %.0f µs CPU;"
        + " sum %.0f ms CPU%n", options.warmupPasses(), times.size(), options.measuredPasses(),
        percentile(wall, 50) / 1e3, percentile(wall, 90) / 1e3, percentile(cpu, 50) / 1e3,
        percentile(cpu, 90) / 1e3, Arrays.stream(cpu).sum() / 1e6);
    long[] allocated = times.stream().mapToLong(CaseTime::allocatedBytes).sorted().toArray();
    // Allocation does not move with the machine's load as time does: a steadier figure for
    // comparing two builds on a shared machine (and garbage is GC time in the whole-corpus run).
    out.printf(Locale.ROOT, "  heap allocated per case: median %.0f KiB, p90 %.0f KiB, sum %.0f MiB"
        + "%n", percentile(allocated, 50) / 1024.0, percentile(allocated, 90) / 1024.0,
        Arrays.stream(allocated).sum() / 1048576.0);
    out.println("  slowest cases (CPU):");
    times.stream().sorted(Comparator.comparingLong(CaseTime::cpuNs).reversed()).limit(5)
        .forEach(t -> out.printf(Locale.ROOT, "    %8.0f µs  %s%n", t.cpuNs() / 1e3, t.name()));
    // -Dblocksim.bench.cases=FILE: every case's figures, for finding what to profile.
    String dump = System.getProperty("blocksim.bench.cases");
    if (dump != null) {
      StringBuilder b = new StringBuilder();
      times.forEach(t -> b.append(t.cpuNs() / 1000).append(' ').append(t.allocatedBytes() / 1024)
          .append(' ').append(t.name()).append('\n'));
      Files.writeString(Path.of(dump), b);
    }
    return times;
  }

  /**
   * Sweeps of one case are repeated until this much wall time has passed (at least one), and the
   * points of all of them are divided by their time: one sweep is tens of milliseconds, so
   * whether a young collection falls into it or not swung its figure by a third.
   */
  static final long SWEEP_MIN_NS = 300_000_000L;

  private static void crashSweeps(PrintStream out, Path persistence, int warmupSweeps)
      throws IOException {
    if (!Files.isDirectory(persistence)) {
      return;
    }
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(persistence));
    int warmups = Math.max(1, warmupSweeps);
    out.printf(Locale.ROOT, "crash sweep (points/s after %d warm-up sweep%s of the scenario, as"
        + " the per-case figure is after warm-up, over sweeps repeated for %.1f s; CPU time of"
        + " this thread; GC: the collectors' time in those sweeps, which wall time includes"
        + " and this thread's CPU time does not):%n", warmups, warmups == 1 ? "" : "s",
        SWEEP_MIN_NS / 1e9);
    for (Scenario s : loaded.scenarios()) {
      for (Scenario.Case c : s.cases()) {
        for (int w = 0; w < warmups; w++) {
          CrashSweep.sweep(s, c, s.seed(), new TreeSet<>(s.semantics()), 1);
        }
        long gcStart = gcMillis();
        long cpuStart = THREADS.getCurrentThreadCpuTime();
        long start = System.nanoTime(); // determinism-ok: benchmark timing
        long points = 0;
        int sweeps = 0;
        long wall;
        do {
          CrashSweep.Report report = CrashSweep.sweep(s, c, s.seed(),
              new TreeSet<>(s.semantics()), 1);
          points += report.points().size();
          sweeps++;
          wall = System.nanoTime() - start; // determinism-ok: benchmark timing
        } while (wall < SWEEP_MIN_NS);
        long cpu = THREADS.getCurrentThreadCpuTime() - cpuStart;
        long gc = gcMillis() - gcStart;
        out.printf(Locale.ROOT, "  %-60s %4d points  %8.0f/s wall  %8.0f/s CPU  GC %3d ms in %d"
            + " sweeps%n", s.path() + (c.name().isEmpty() ? "" : " [" + c.name() + "]"),
            points / sweeps, points / (wall / 1e9), points / (cpu / 1e9), gc, sweeps);
      }
    }
  }

  /** The collectors' accumulated time (young and old), in milliseconds. */
  private static long gcMillis() {
    long total = 0;
    for (java.lang.management.GarbageCollectorMXBean gc
        : ManagementFactory.getGarbageCollectorMXBeans()) {
      total += Math.max(0, gc.getCollectionTime());
    }
    return total;
  }

  /**
   * Explore runs per second on one core: {@code blocksim explore}'s generated runs with every
   * checker, in process on this thread, after warm-up runs of another campaign seed. Wall time
   * beside this thread's CPU time (a shared machine; the JVM's GC and JIT threads are not in
   * the CPU figure).
   */
  static ExploreRuns.Counts explore(PrintStream out, int warmupRuns, int runs) {
    if (warmupRuns > 0) {
      ExploreRuns.run(EXPLORE_SEED + 1, warmupRuns);
    }
    long cpuStart = THREADS.getCurrentThreadCpuTime();
    long start = System.nanoTime(); // determinism-ok: benchmark timing
    ExploreRuns.Counts counts = ExploreRuns.run(EXPLORE_SEED, runs);
    long wall = System.nanoTime() - start; // determinism-ok: benchmark timing
    long cpu = THREADS.getCurrentThreadCpuTime() - cpuStart;
    out.printf(Locale.ROOT, "explore runs/s per core (blocksim explore --seed %d --runs %d, in"
        + " process on one thread, after %d warm-up runs): %.0f/s wall, %.0f/s CPU; %d passed,"
        + " %d at a simulation limit, %d where QEMU 7.2 aborts, %d violations, %.1f steps per"
        + " run%n", EXPLORE_SEED, counts.runs(), warmupRuns, counts.runs() / (wall / 1e9),
        counts.runs() / (cpu / 1e9), counts.passed(), counts.limits(), counts.qemuAborts(),
        counts.violations(), counts.steps() / (double) Math.max(1, counts.runs()));
    return counts;
  }

  /** The whole corpus from the command line: a fresh {@code ./blocksim run} process. */
  private static void wholeCorpus(PrintStream out, Path scenarios) throws IOException {
    Path script = Path.of("blocksim");
    if (!Files.isExecutable(script)) {
      out.println("whole corpus: ./blocksim not found in the working directory; skipped");
      return;
    }
    ProcessBuilder pb = new ProcessBuilder("./blocksim", "run", scenarios.toString())
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD);
    long best = Long.MAX_VALUE;
    for (int round = 0; round < 3; round++) {
      long start = System.nanoTime(); // determinism-ok: benchmark timing
      try {
        int exit = pb.start().waitFor();
        if (exit != 0) {
          out.println("whole corpus: ./blocksim run exited with " + exit);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      best = Math.min(best, System.nanoTime() - start); // determinism-ok: benchmark timing
    }
    out.printf(Locale.ROOT, "whole corpus: ./blocksim run %s, whole process: %.2f s wall (best"
        + " of 3, %d cores)%n", scenarios, best / 1e9, Runtime.getRuntime().availableProcessors());
  }

  /** Real qemu-storage-daemon on every n-th case, beside the simulator's time for it. */
  private static void qemu(PrintStream out, List<CaseTime> cases, int sample) throws IOException {
    QemuAvailability availability = QemuAvailability.check();
    if (!availability.available()) {
      out.println("qemu-storage-daemon: not measured (" + availability.reason() + ")");
      return;
    }
    int step = Math.max(1, cases.size() / sample);
    List<Double> ratios = new ArrayList<>();
    long qemuTotal = 0;
    long simTotal = 0;
    Path scratchRoot = Files.createTempDirectory("blocksim-bench");
    out.printf(Locale.ROOT, "qemu-storage-daemon vs simulator (every %d-th case, wall):%n", step);
    for (int i = 0; i < cases.size(); i += step) {
      CaseTime t = cases.get(i);
      long start = System.nanoTime(); // determinism-ok: benchmark timing
      try (QemuBackend backend = new QemuBackend(scratchRoot.resolve("case-" + i), false,
          line -> { })) {
        new CaseRunner(t.scenario(), t.scenarioCase(), backend).run();
      } catch (Exception e) {
        out.println("  " + t.name() + ": QEMU could not run it: " + e.getMessage());
        continue;
      }
      long qemuNs = System.nanoTime() - start; // determinism-ok: benchmark timing
      ratios.add(qemuNs / (double) Math.max(1, t.wallNs()));
      qemuTotal += qemuNs;
      simTotal += t.wallNs();
      out.printf(Locale.ROOT, "  %-60s qemu %8.1f ms  sim %8.1f µs  ×%.0f%n", t.name(),
          qemuNs / 1e6, t.wallNs() / 1e3, qemuNs / (double) Math.max(1, t.wallNs()));
    }
    double[] sorted = ratios.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    if (sorted.length > 0) {
      out.printf(Locale.ROOT, "  sample of %d cases: qemu %.1f ms per case on average, simulator"
          + " %.1f µs; simulator faster by ×%.0f (median ratio ×%.0f)%n", sorted.length,
          qemuTotal / 1e6 / sorted.length, simTotal / 1e3 / sorted.length,
          qemuTotal / (double) Math.max(1, simTotal), sorted[sorted.length / 2]);
    }
  }

  /** Bytes this thread has allocated so far (HotSpot's per-thread counter). */
  private static long allocatedBytes() {
    return ((com.sun.management.ThreadMXBean) THREADS).getCurrentThreadAllocatedBytes();
  }

  private static long median(long[] values) {
    long[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  private static long percentile(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * p / 100.0) - 1)];
  }
}
