package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Trace validation of the bundled scenarios against JobLifecycle. Goal: in every case of {@code
 * scenarios/**} that creates a job, the life of every job (each status change, each verb QEMU
 * accepted, each verb it refused) is a behaviour of the spec; a case outside the spec's
 * vocabulary is reported with its reason, never counted as validated. Method: each case runs in
 * the simulator through {@link JobTracingBackend} (the same {@link CaseRunner} as {@code blocksim
 * run}), and TLC checks all the traces in one batch.
 */
@Tag("tlc")
class ScenarioJobTraceTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("scenario-jobs");

  /** A recorded case. */
  record Run(String name, List<JobTraceState> states) {}

  private static Path scenariosDir() {
    Path dir = SPECS.getParent().resolve("scenarios");
    assertThat(dir).as("scenarios/ next to specs/").isDirectory();
    return dir;
  }

  @Test
  void everyBundledCaseWithJobsIsABehaviourOfJobLifecycle() throws Exception {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(scenariosDir()));
    assertThat(loaded.errors()).isEmpty();
    int cases = 0;
    int refusalsChecked = 0;
    int refusalsNotChecked = 0;
    int verbs = 0;
    List<Run> withJobs = new ArrayList<>();
    TreeSet<String> notApplicable = new TreeSet<>();
    for (Scenario scenario : loaded.scenarios()) {
      for (Scenario.Case scenarioCase : scenario.cases()) {
        cases++;
        String name = scenario.path() + (scenarioCase.name().isEmpty() ? ""
            : " [" + scenarioCase.name() + "]");
        if (scenario.semantics().stream().anyMatch(v -> v.startsWith("proposal:"))) {
          // A proposal is not QEMU 7.2; the spec models 7.2's lifecycle.
          notApplicable.add(name + ": runs a proposal: variant");
          continue;
        }
        // A bug scenario's steps under 7.2's semantics (its baseline); with the bug switched on
        // the spec rejects some of them, which is the point of those scenarios.
        TreeSet<String> semantics = new TreeSet<>(scenario.semantics());
        semantics.removeIf(v -> v.startsWith("bug:"));
        JobTracingBackend backend = new JobTracingBackend(
            new SimBackend(scenario.seed(), semantics));
        new CaseRunner(scenario, scenarioCase, backend).run();
        backend.flush();
        JobTraceRecorder recorder = backend.recorder();
        if (recorder.jobCount() == 0) {
          continue;
        }
        if (recorder.notApplicableReason() != null) {
          notApplicable.add(name + ": " + recorder.notApplicableReason());
          continue;
        }
        refusalsChecked += recorder.refusalsChecked();
        refusalsNotChecked += recorder.refusalsNotChecked();
        verbs += recorder.verbsAccepted();
        withJobs.add(new Run(name, recorder.states()));
      }
    }
    List<String> failures = new ArrayList<>();
    long millis = checkAll(withJobs, failures, SPECS, WORK);
    System.out.printf("job traces: %d cases, %d with jobs, %d validated against JobLifecycle "
        + "(%d accepted verbs, %d refused verbs checked, %d refused for other reasons), "
        + "%d rejected, %d not applicable; TLC %d ms%n", cases,
        withJobs.size() + notApplicable.size(), withJobs.size() - failures.size(), verbs,
        refusalsChecked, refusalsNotChecked, failures.size(), notApplicable.size(), millis);
    notApplicable.forEach(line -> System.out.println("  not applicable: " + line));
    failures.forEach(line -> System.out.println("  REJECTED: " + line));
    assertThat(failures).as("cases whose job lifecycles JobLifecycle rejects").isEmpty();
    assertThat(withJobs.size()).as("cases validated").isGreaterThan(cases / 2);
  }

  /**
   * Checks the runs in one TLC run; after a rejection, the runs after the rejected one are
   * checked again, so that every rejected run is named. Returns TLC's time.
   */
  static long checkAll(List<Run> runs, List<String> failures, Path specs, Path work) {
    long millis = 0;
    int from = 0;
    while (from < runs.size()) {
      List<Run> batch = runs.subList(from, runs.size());
      JobTraceValidation.BatchVerdict verdict = JobTraceValidation.checkBatch(
          batch.stream().map(Run::states).toList(), specs, work);
      millis += verdict.verdict().tlc().millis();
      if (verdict.accepted()) {
        return millis;
      }
      if (verdict.firstUnmatched() == null) {
        failures.add(verdict.verdict().kind() + " " + verdict.verdict().violatedInvariant()
            + "\n" + verdict.verdict().tlc().output());
        return millis;
      }
      Run rejected = batch.get(verdict.firstUnmatched().run());
      failures.add(explain(rejected, verdict.firstUnmatched().state()));
      from += verdict.firstUnmatched().run() + 1;
    }
    return millis;
  }

  static String explain(Run run, int state) {
    StringBuilder text = new StringBuilder(run.name()).append(": rejected at state ")
        .append(state + 1).append(" of ").append(run.states().size()).append('\n');
    for (int k = 0; k < run.states().size(); k++) {
      text.append(k == state ? "  >> " : "     ").append(k + 1).append(' ')
          .append(run.states().get(k)).append('\n');
    }
    return text.toString();
  }
}
