package io.blocksim.sim.runner;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.scenario.Scenario;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every case of every bundled scenario, run in the simulator: it must pass (every step, every
 * expect), its log must equal its golden file byte for byte, a golden must exist, and a second
 * run with the same seed must give the same log and observations.
 */
class ScenarioGoldenTest {
  static final Path SCENARIOS = Path.of("..", "scenarios");

  @TestFactory
  Stream<DynamicTest> everyBundledCaseMatchesItsGolden() throws Exception {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(SCENARIOS));
    assertThat(loaded.errors()).as("scenario files that do not parse").isEmpty();
    assertThat(loaded.scenarios()).as("bundled scenarios").isNotEmpty();
    List<DynamicTest> tests = new ArrayList<>();
    for (Scenario scenario : loaded.scenarios()) {
      for (Scenario.Case scenarioCase : scenario.cases()) {
        String name = scenario.path() + (scenarioCase.name().isEmpty() ? ""
            : " [" + scenarioCase.name() + "]");
        tests.add(DynamicTest.dynamicTest(name, () -> check(scenario, scenarioCase)));
      }
    }
    return tests.stream();
  }

  private static void check(Scenario scenario, Scenario.Case scenarioCase) throws Exception {
    if (ScenarioRunner.demonstratesBug(scenario)) {
      checkBugIsFlagged(scenario, scenarioCase);
      return;
    }
    Path golden = ScenarioFiles.golden(scenario.path(), scenarioCase.name());
    assertThat(golden).as("golden file (create it with ./blocksim run --update after reading"
        + " the output)").isRegularFile();
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false, Set.of(),
        scenarioCase.name(), true), new PrintStream(sink, true, StandardCharsets.UTF_8));
    CaseResult result = runner.runAll(List.of(scenario)).stream()
        .filter(r -> r.caseName().equals(scenarioCase.name())).findFirst().orElseThrow();
    assertThat(result.failure()).as("failure of " + result.displayName()).isNull();
    assertThat(result.log()).isEqualTo(Files.readString(golden, StandardCharsets.UTF_8));
  }

  /**
   * A scenario that switches on a known bug exists to show it: without its bug variants it must
   * pass, and with them a checker or one of its expectations of QEMU 7.2's behaviour must flag
   * the run (ScenarioRunner's verdict for such a scenario).
   */
  private static void checkBugIsFlagged(Scenario scenario, Scenario.Case scenarioCase)
      throws Exception {
    ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false, Set.of(),
        scenarioCase.name(), false), new PrintStream(new ByteArrayOutputStream(), true,
        StandardCharsets.UTF_8));
    CaseResult result = runner.runAll(List.of(scenario)).stream()
        .filter(r -> r.caseName().equals(scenarioCase.name())).findFirst().orElseThrow();
    assertThat(result.failure()).as("failure of " + result.displayName()).isNull();
    assertThat(result.observations().get("flagged")).as("what flagged the bug").isNotNull();
  }
}
