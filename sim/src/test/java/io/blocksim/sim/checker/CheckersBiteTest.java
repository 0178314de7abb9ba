package io.blocksim.sim.checker;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioParser;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each checker bites: a scenario of {@code scenarios/checkers/} switches on a deliberately broken
 * engine variant, and exactly that checker stops the run; the same scenario without the variant
 * passes (so the checker does not fire on QEMU 7.2's behaviour either).
 */
class CheckersBiteTest {
  static List<Map.Entry<String, String>> cases() {
    return List.of(
        Map.entry("data-stream-populates-zeroes.yaml", "data"),
        Map.entry("backup-point-in-time-skips-copy-before-write.yaml", "backup-point-in-time"),
        Map.entry("job-state-machine-set-speed-any-status.yaml", "job-state-machine"),
        Map.entry("bitmap-coverage-always-drops-uncopied.yaml", "bitmap-coverage"),
        Map.entry("write-unchanged-stream-dirties.yaml", "write-unchanged"));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void theVariantIsFlaggedByItsCheckerAndQemu72Passes(Map.Entry<String, String> c)
      throws Exception {
    Path file = Path.of("..", "scenarios", "checkers", c.getKey());
    Scenario scenario = ScenarioParser.parse(file, file.toString());
    CaseResult broken = simulate(scenario);
    assertThat(broken.kind()).as(broken.failure()).isEqualTo(CaseResult.Kind.INVARIANT);
    assertThat(CheckerFailure.ofMessage(broken.failure()).checker()).isEqualTo(c.getValue());

    Scenario faithful = new Scenario(scenario.path(), scenario.name(), scenario.description(),
        scenario.seed(), true, List.of(), scenario.matrix(), scenario.cases(),
        scenario.checkers());
    CaseResult passed = simulate(faithful);
    assertThat(passed.failure()).isNull();
  }

  private static CaseResult simulate(Scenario scenario) {
    ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false, Set.of(),
        null, false), new PrintStream(PrintStream.nullOutputStream()));
    return runner.simulate(scenario, scenario.cases().get(0));
  }
}
