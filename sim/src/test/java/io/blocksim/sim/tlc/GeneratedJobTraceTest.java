package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.port.Backend;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Trace validation of generated job workloads against JobLifecycle. Goal: under random jobs of
 * every kind and random verbs at any moment, every status change of the engine and every verb it
 * accepts or refuses is a behaviour of the spec. Method: {@link GeneratedJobWorkload} per seed,
 * TLC on all the seeds in one batch.
 */
@Tag("tlc")
class GeneratedJobTraceTest {
  static final Path SPECS = TlcTestSupport.specsDir();
  static final Path WORK = TlcTestSupport.workDir("generated-jobs");
  static final int SEEDS = 300;
  static final int OPERATIONS = 20;

  record Outcome(List<ScenarioJobTraceTest.Run> runs, int refusalsChecked, int verbs,
      int jobs, List<String> notApplicable) {}

  static Outcome record(long first, int count, UnaryOperator<Backend> decorator)
      throws Exception {
    List<ScenarioJobTraceTest.Run> runs = new ArrayList<>();
    int refusals = 0;
    int verbs = 0;
    int jobs = 0;
    List<String> notApplicable = new ArrayList<>();
    for (long seed = first; seed < first + count; seed++) {
      GeneratedJobWorkload workload = new GeneratedJobWorkload(seed, decorator);
      JobTraceRecorder recorder = workload.run(OPERATIONS);
      if (recorder.notApplicableReason() != null) {
        notApplicable.add("seed " + seed + ": " + recorder.notApplicableReason());
        continue;
      }
      refusals += recorder.refusalsChecked();
      verbs += recorder.verbsAccepted();
      jobs += recorder.jobCount();
      runs.add(new ScenarioJobTraceTest.Run("seed " + seed + "\n  "
          + String.join("\n  ", workload.log()) + "\n", recorder.states()));
    }
    return new Outcome(runs, refusals, verbs, jobs, notApplicable);
  }

  @Test
  void everyGeneratedRunIsABehaviourOfJobLifecycle() throws Exception {
    Outcome outcome = record(1, SEEDS, backend -> backend);
    List<String> failures = new ArrayList<>();
    long millis = ScenarioJobTraceTest.checkAll(outcome.runs(), failures, SPECS, WORK);
    System.out.printf("job traces: %d generated runs, %d validated (%d jobs, %d accepted verbs, "
        + "%d refused verbs checked), %d rejected, %d not applicable; TLC %d ms%n", SEEDS,
        outcome.runs().size() - failures.size(), outcome.jobs(), outcome.verbs(),
        outcome.refusalsChecked(), failures.size(), outcome.notApplicable().size(), millis);
    outcome.notApplicable().forEach(line -> System.out.println("  not applicable: " + line));
    failures.stream().limit(3).forEach(line -> System.out.println("  REJECTED: " + line));
    assertThat(failures).as("generated runs JobLifecycle rejects").isEmpty();
    assertThat(outcome.refusalsChecked()).as("refused verbs checked").isGreaterThan(SEEDS);
    assertThat(outcome.runs()).as("runs in JobLifecycle's vocabulary").hasSizeGreaterThan(
        SEEDS * 9 / 10);
  }
}
