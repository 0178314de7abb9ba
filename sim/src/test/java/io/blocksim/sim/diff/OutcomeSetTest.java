package io.blocksim.sim.diff;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioParser;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Outcome sets (issue 13): two backups of equal work started together finish in either order,
 * as on QEMU; a case without a race has one outcome; diff accepts QEMU's observation when it is
 * any outcome of a scenario that opted in with {@code schedules:}, and only then.
 */
class OutcomeSetTest {
  private static final Path RACE = Path.of("../scenarios/jobs/concurrent-backups-race.yaml");
  private static final Path PLAIN = Path.of("../scenarios/backup/incremental-chain.yaml");

  private final ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false,
      Set.of(), null, false), new PrintStream(PrintStream.nullOutputStream()));

  @Test
  void equalJobsStartedTogetherFinishInEitherOrderOverSchedules() throws Exception {
    Scenario race = ScenarioParser.parse(RACE, RACE.toString());
    OutcomeSet set = OutcomeSet.of(runner, race, race.cases().get(0), Set.of(), race.seed(), 8);

    assertThat(set.outcomes()).hasSize(2);
    assertThat(set.outcomes().stream().mapToInt(o -> o.seeds().size()).sum()).isEqualTo(8);
    assertThat(set.outcomes().get(0).seeds()).startsWith(race.seed());
    assertThat(String.join("\n", set.describe())).contains("events differ");
  }

  @Test
  void aCaseWithoutARaceHasOneOutcomeThatIsItsOwnRun() throws Exception {
    Scenario plain = ScenarioParser.parse(PLAIN, PLAIN.toString());
    Scenario.Case c = plain.cases().get(0);
    OutcomeSet set = OutcomeSet.of(runner, plain, c, Set.of(), plain.seed(), 4);

    assertThat(set.outcomes()).hasSize(1);
    assertThat(set.matching(runner.simulate(plain, c).observations())).isNotNull();
  }

  @Test
  void diffAcceptsAnyOutcomeOnlyWhenTheScenarioOptsIn(@TempDir Path dir) throws Exception {
    Scenario race = ScenarioParser.parse(RACE, RACE.toString());
    OutcomeSet set = OutcomeSet.of(runner, race, race.cases().get(0), Set.of(), race.seed(), 8);
    // QEMU's recording: the outcome that is not the case's own run.
    Object other = set.outcomes().get(1).first().observations();
    Path optedIn = dir.resolve("race.yaml");
    Files.copy(RACE, optedIn);
    Path plain = dir.resolve("plain.yaml");
    Files.writeString(plain, Files.readString(RACE).replace("schedules: 8\n", ""));
    for (Path file : List.of(optedIn, plain)) {
      String base = file.toString().replace(".yaml", "");
      Files.writeString(Path.of(base + ".qemu.json"), Json.pretty(other) + "\n");
    }
    Differ differ = new Differ(new Differ.Options(false, true, 1, dir),
        KnownDivergences.load(dir.resolve("none.txt")),
        new PrintStream(PrintStream.nullOutputStream()));

    List<Differ.CaseDiff> diffs = differ.run(List.of(
        ScenarioParser.parse(optedIn, optedIn.toString()),
        ScenarioParser.parse(plain, plain.toString())));

    assertThat(diffs.get(0).verdict()).isEqualTo(Differ.Verdict.IDENTICAL);
    assertThat(diffs.get(0).detail()).isEqualTo("one of the simulator's 2 outcomes in 8 schedules");
    assertThat(diffs.get(1).verdict()).isEqualTo(Differ.Verdict.DIFFERS);
    assertThat(diffs.get(1).differences()).extracting(Comparison.Difference::category)
        .containsExactly("events");
  }
}
