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
 * Trace validation of the bundled scenarios. Goal: every case of {@code scenarios/**} whose run
 * stays in BitmapSync's vocabulary is a behaviour of the spec; every other case is reported as
 * not applicable with its reason, never counted as validated. Method: each case runs in the
 * simulator through {@link TracingBackend} (the same {@link CaseRunner} as {@code blocksim
 * run}), and TLC checks the recorded trace against {@code specs/BitmapSyncTrace.tla}.
 */
@Tag("tlc")
class ScenarioTraceTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("scenarios");

  private static Path scenariosDir() {
    Path dir = SPECS.getParent().resolve("scenarios");
    assertThat(dir).as("scenarios/ next to specs/").isDirectory();
    return dir;
  }

  @Test
  void everyApplicableScenarioCaseIsABehaviourOfBitmapSync() throws Exception {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(scenariosDir()));
    assertThat(loaded.errors()).isEmpty();
    int cases = 0;
    int validated = 0;
    List<String> failures = new ArrayList<>();
    TreeSet<String> notApplicable = new TreeSet<>();
    for (Scenario scenario : loaded.scenarios()) {
      for (Scenario.Case scenarioCase : scenario.cases()) {
        cases++;
        String name = scenario.path() + (scenarioCase.name().isEmpty() ? ""
            : " [" + scenarioCase.name() + "]");
        TracingBackend backend = new TracingBackend(
            new SimBackend(scenario.seed(), new TreeSet<>(scenario.semantics())));
        new CaseRunner(scenario, scenarioCase, backend).run();
        TraceRecorder recorder = backend.recorder();
        if (recorder.notApplicableReason() != null) {
          notApplicable.add(name + ": " + recorder.notApplicableReason());
          continue;
        }
        TraceVerdict verdict = TraceChecker.check(TraceTarget.BITMAP_SYNC, recorder.states(),
            recorder.clusterCount(), SPECS, WORK);
        if (verdict.accepted()) {
          validated++;
        } else {
          failures.add(name + ": " + verdict.kind() + " at state "
              + verdict.firstUnmatchedState() + " of " + recorder.states().size());
        }
      }
    }
    System.out.printf("scenario traces: %d cases, %d validated against BitmapSync, %d not "
        + "applicable:%n", cases, validated, notApplicable.size());
    notApplicable.forEach(line -> System.out.println("  not applicable: " + line));
    assertThat(failures).as("scenario cases the spec rejects").isEmpty();
    assertThat(validated + notApplicable.size()).isEqualTo(cases);
  }
}
