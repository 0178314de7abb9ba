package io.blocksim.sim.explore;

import io.blocksim.sim.checker.CheckerFailure;
import io.blocksim.sim.prng.Prng;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A campaign: runs with seeds derived from one campaign seed, one after another, until the run
 * count or the time budget is spent or a run violates an invariant. {@code --shard i/n} takes every
 * n-th run index starting at i, so n machines split one campaign without overlap.
 */
final class Campaign {
  /** What the caller asked for; {@code deadlineNanos} is wall-clock based (determinism-ok: budget only), or 0 for none. */
  /** What to run; {@code tlaEvery} > 0 samples every that many runs for spec acceptance. */
  record Plan(long seed, long runs, long deadlineNanos, Set<String> semantics, int shardIndex,
      int shardCount, Profile profile, boolean keepGoing, List<String> checkers, int tlaEvery) {
    Plan(long seed, long runs, long deadlineNanos, Set<String> semantics, int shardIndex,
        int shardCount, Profile profile, boolean keepGoing, List<String> checkers) {
      this(seed, runs, deadlineNanos, semantics, shardIndex, shardCount, profile, keepGoing,
          checkers, 0);
    }
  }

  /** A run that violated an invariant. */
  record Failure(long runIndex, long runSeed, CheckerFailure failure, RunExecutor.Result result,
      GeneratedRun run) {}

  /** The tally. */
  static final class Tally {
    long runs;
    long passed;
    long limits;
    /** Runs that reached a state where QEMU 7.2 itself aborts (§22 of qemu-behaviour.md). */
    long qemuAborts;
    long steps;
    final List<Failure> failures = new ArrayList<>();
    /** The runs sampled for spec acceptance ({@code --tla}), checked after the campaign. */
    final List<SpecSampling.Sample> sampled = new ArrayList<>();
    final Coverage coverage = new Coverage();
  }

  /** Something that wants to hear about progress (the live line). */
  interface Progress {
    void update(Tally tally);
  }

  private Campaign() {}

  /** The seed of run i of a campaign (SplitMix-scrambled, non-negative, so a YAML seed). */
  static long runSeed(long campaignSeed, long runIndex) {
    return new Prng(campaignSeed * 0x9e3779b97f4a7c15L + runIndex).nextLong() & Long.MAX_VALUE;
  }

  static Tally run(Plan plan, Progress progress) {
    Tally tally = new Tally();
    RunGenerator generator = new RunGenerator(plan.profile());
    for (long index = plan.shardIndex(); ; index += plan.shardCount()) {
      if (plan.runs() > 0 && tally.runs >= plan.runs()) {
        break;
      }
      // determinism-ok: time budget (the runs themselves use virtual time only)
      if (plan.deadlineNanos() != 0 && System.nanoTime() - plan.deadlineNanos() > 0) {  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
        break;
      }
      long seed = runSeed(plan.seed(), index);
      GeneratedRun run = generator.generate(seed);
      for (Feature f : run.features()) {
        tally.coverage.add(tally.coverage.features, f.name().toLowerCase(java.util.Locale.ROOT));
      }
      RunExecutor.Result result = RunExecutor.execute(run, plan.semantics(), tally.coverage,
          plan.checkers());
      tally.runs++;
      tally.steps += run.steps().size();
      switch (result.verdict()) {
        case PASSED -> {
          tally.passed++;
          if (plan.tlaEvery() > 0 && tally.runs % plan.tlaEvery() == 0) {
            tally.sampled.add(SpecSampling.sample(run, result.recorded(), plan.semantics()));
          }
        }
        case LIMIT -> tally.limits++;
        case QEMU_ABORT -> tally.qemuAborts++;
        case VIOLATION -> tally.failures.add(new Failure(index, seed, result.failure(), result,
            run));
        default -> throw new IllegalStateException();
      }
      if ((tally.runs & 63) == 0 && progress != null) {
        progress.update(tally);
      }
      if (!tally.failures.isEmpty() && !plan.keepGoing()) {
        break;
      }
    }
    if (progress != null) {
      progress.update(tally);
    }
    return tally;
  }

  static Map<String, Object> summary(Plan plan, Tally tally, double seconds, double cpuSeconds,
      List<Map<String, Object>> failures) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("seed", plan.seed());
    m.put("shard", plan.shardIndex() + "/" + plan.shardCount());
    m.put("semantics", List.copyOf(plan.semantics()));
    m.put("runs", tally.runs);
    m.put("passed", tally.passed);
    m.put("limits", tally.limits);
    m.put("qemu-aborts", tally.qemuAborts);
    m.put("steps", tally.steps);
    m.put("seconds", Math.round(seconds * 1000) / 1000.0);
    m.put("runs-per-second", seconds > 0 ? Math.round(tally.runs / seconds) : 0);
    m.put("cpu-seconds", Math.round(cpuSeconds * 1000) / 1000.0);
    m.put("runs-per-cpu-second", cpuSeconds > 0 ? Math.round(tally.runs / cpuSeconds) : 0);
    m.put("failures", failures);
    m.put("coverage", tally.coverage.toJson());
    return m;
  }
}
