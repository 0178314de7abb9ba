package io.blocksim.sim.explore;

import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioParser;
import io.blocksim.sim.tlc.AbstractState;
import io.blocksim.sim.tlc.JobTraceState;
import io.blocksim.sim.tlc.JobTraceValidation;
import io.blocksim.sim.tlc.JobTracingBackend;
import io.blocksim.sim.tlc.TraceRecorder;
import io.blocksim.sim.tlc.TraceValidation;
import io.blocksim.sim.tlc.TracingBackend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * Spec acceptance, sampled ({@code explore --tla N}): every N-th run that passed its checkers is
 * replayed from its recorded steps with the TLA+ trace recorders on, and its traces are checked
 * with TLC against BitmapSync (bitmaps and backups) and JobLifecycle (job statuses and verbs). A
 * trace that no behaviour of the spec produces is a violated invariant like any checker's. TLC
 * costs about a second to start, so the sampled runs are checked in batches (one TLC run per spec,
 * disk shape and traced node; after a rejection the rest of the batch is checked again).
 */
final class SpecSampling {
  /** A sampled run, as generated and as recorded (the steps that replay it). */
  record Sample(GeneratedRun run, List<io.blocksim.sim.scenario.Step> recorded,
      Set<String> semantics) {
    long seed() {
      return run.seed();
    }

    /** The scenario file that replays the run. */
    String scenario(String description) {
      return ScenarioWriter.write("explore run " + run.seed(), description, run.seed(),
          semantics, false, run.images(), recorded);
    }
  }

  /** A run a spec rejected. */
  record Rejection(Sample sample, String spec, String detail) {}

  /** What the check found. */
  record Outcome(int bitmapTraces, int jobTraces, List<Rejection> rejections) {}

  private record Traced(Sample sample, TraceRecorder bitmaps, List<JobTraceState> jobs) {}

  private SpecSampling() {}

  static Sample sample(GeneratedRun run, List<io.blocksim.sim.scenario.Step> recorded,
      Set<String> semantics) {
    return new Sample(run, List.copyOf(recorded), Set.copyOf(semantics));
  }

  static Outcome check(List<Sample> samples, Set<String> semantics, Path specs, Path work)
      throws Exception {
    List<Traced> traced = new ArrayList<>();
    for (Sample s : samples) {
      Scenario scenario = ScenarioParser.parseText(s.scenario(""), "explore-" + s.seed() + ".yaml",
          io.blocksim.sim.scenario.Semantics.known().keySet());
      TracingBackend bitmaps = new TracingBackend(new SimBackend(s.seed(), semantics));
      JobTracingBackend jobs = JobTraceValidation.wrap(bitmaps);
      new CaseRunner(scenario, scenario.cases().get(0), jobs).run();
      traced.add(new Traced(s, bitmaps.recorder(), jobs.recorder().notApplicableReason() == null
          ? jobs.recorder().states() : null));
    }
    List<Rejection> rejections = new ArrayList<>();
    int bitmapTraces = checkBitmaps(traced, specs, work, rejections);
    int jobTraces = checkJobs(traced, specs, work, rejections);
    return new Outcome(bitmapTraces, jobTraces, rejections);
  }

  private static int checkBitmaps(List<Traced> traced, Path specs, Path work,
      List<Rejection> rejections) {
    // One batch per disk shape and traced node: a trace module names one node.
    TreeMap<String, List<Traced>> byShape = new TreeMap<>();
    for (Traced t : traced) {
      if (t.bitmaps().notApplicableReason() == null && t.bitmaps().nodeName() != null) {
        byShape.computeIfAbsent(t.bitmaps().clusterCount() + " " + t.bitmaps().nodeName(),
            k -> new ArrayList<>()).add(t);
      }
    }
    int checked = 0;
    for (List<Traced> batch : byShape.values()) {
      List<Traced> remaining = batch;
      while (!remaining.isEmpty()) {
        List<List<AbstractState>> runs = remaining.stream().map(t -> t.bitmaps().states())
            .toList();
        TraceValidation.BatchVerdict v = TraceValidation.checkBatch(runs,
            remaining.get(0).bitmaps().clusterCount(), specs, work);
        checked += v.accepted() ? remaining.size() : 0;
        if (v.accepted()) {
          break;
        }
        int run = v.firstUnmatched() == null ? 0 : v.firstUnmatched().run();
        Traced rejected = remaining.get(run);
        rejections.add(new Rejection(rejected.sample(), "BitmapSync", v.firstUnmatched() == null
            ? v.verdict().kind() + " " + v.verdict().violatedInvariant()
            : "no behaviour of the spec reaches state " + (v.firstUnmatched().state() + 1)
                + " of " + rejected.bitmaps().states().size() + ": "
                + rejected.bitmaps().states().get(v.firstUnmatched().state())));
        checked += run + 1;
        remaining = remaining.subList(run + 1, remaining.size());
      }
    }
    return checked;
  }

  private static int checkJobs(List<Traced> traced, Path specs, Path work,
      List<Rejection> rejections) {
    List<Traced> remaining = traced.stream().filter(t -> t.jobs() != null
        && t.jobs().size() > 1).toList();
    int checked = 0;
    while (!remaining.isEmpty()) {
      JobTraceValidation.BatchVerdict v = JobTraceValidation.checkBatch(
          remaining.stream().map(Traced::jobs).toList(), specs, work);
      if (v.accepted()) {
        checked += remaining.size();
        break;
      }
      int run = v.firstUnmatched() == null ? 0 : v.firstUnmatched().run();
      Traced rejected = remaining.get(run);
      rejections.add(new Rejection(rejected.sample(), "JobLifecycle", v.firstUnmatched() == null
          ? v.verdict().kind() + " " + v.verdict().violatedInvariant()
          : "no behaviour of the spec reaches state " + (v.firstUnmatched().state() + 1) + " of "
              + rejected.jobs().size() + ": " + rejected.jobs().get(v.firstUnmatched().state())));
      checked += run + 1;
      remaining = remaining.subList(run + 1, remaining.size());
    }
    return checked;
  }
}
