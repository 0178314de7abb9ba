package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.sweep.CrashSweep;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code check} labels its columns, shows TLC's own words for an error nobody expected, and
 * writes JUnit; so does {@code sweep}; in both, a counterexample is an error typed
 * invariant-violation, apart from plain failures.
 */
class CheckAndSweepJunitTest {
  private static final Path SPECS = Path.of("..", "specs");

  @TempDir Path dir;

  private record Outcome(int code, String out, String err) {}

  private static Outcome blocksim(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Outcome(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void checkLabelsColumnsShowsTlcsErrorAndWritesJunit() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("specs"));
    // A spec expected to hold that TLC finds a counterexample in: a bug, not a failure.
    Files.copy(SPECS.resolve("Checkpoints.tla"), specs.resolve("Checkpoints.tla"));
    Files.copy(SPECS.resolve("CheckpointsBugMergeIntoNewer.cfg"),
        specs.resolve("CheckpointsBugMergeIntoNewer.cfg"));
    // A spec that names an operator nobody defined: TLC's own error must be shown.
    Files.writeString(specs.resolve("Broken.tla"), "---- MODULE Broken ----\n"
        + "VARIABLE x\nInit == x = 0\nNext == x' = NoSuchOperatorHere\n====\n");
    Files.writeString(specs.resolve("Broken.cfg"), "INIT Init\nNEXT Next\n");
    Files.writeString(specs.resolve("manifest.json"), "{\"tlcVersion\": \"2.18\", \"checks\": [\n"
        + "{\"module\": \"Checkpoints\", \"config\": \"CheckpointsBugMergeIntoNewer.cfg\","
        + " \"expect\": \"pass\", \"exitCode\": 0, \"distinctStates\": 32},\n"
        + "{\"module\": \"Broken\", \"config\": \"Broken.cfg\","
        + " \"expect\": \"pass\", \"exitCode\": 0, \"distinctStates\": 1}]}\n");
    Path junit = dir.resolve("out/check.xml");

    Outcome outcome = blocksim("check", "--specs", specs.toString(), "--work",
        dir.resolve("work").toString(), "--junit", junit.toString());

    assertThat(outcome.code).as(outcome.out + outcome.err).isEqualTo(Main.EXIT_FAILED);
    String header = outcome.out.lines().findFirst().orElseThrow();
    assertThat(header).contains("CONFIGURATION", "RESULT", "TLC VERDICT", "DISTINCT STATES",
        "TIME");
    assertThat(outcome.out).contains("TLC said:").contains("NoSuchOperatorHere")
        .contains("0 passed, 2 failed");
    String xml = Files.readString(junit);
    assertThat(xml).contains("<testsuite name=\"blocksim check\" tests=\"2\" failures=\"1\""
        + " errors=\"1\"")
        .contains("classname=\"specs.Checkpoints\" name=\"CheckpointsBugMergeIntoNewer.cfg\"")
        .contains("<error type=\"invariant-violation\"")
        .contains("classname=\"specs.Broken\" name=\"Broken.cfg\"")
        .contains("<failure type=\"failed\"");
    assertThat(Files.list(dir.resolve("work")).toList()).as("each run's folder is removed")
        .isEmpty();
  }

  @Test
  void sweepWritesAJunitTestPerCase() throws Exception {
    Path junit = dir.resolve("sweep.xml");
    Path scenario = Path.of("..", "scenarios", "persistence", "sweep-store-reopen.yaml");

    Outcome outcome = blocksim("sweep", "--crash-points", "--stride", "50", "--junit",
        junit.toString(), scenario.toString());

    assertThat(outcome.code).as(outcome.out + outcome.err).isZero();
    String xml = Files.readString(junit);
    assertThat(xml).contains("<testsuite name=\"blocksim sweep\"")
        .contains("classname=\"scenarios.persistence.sweep-store-reopen\"")
        .contains("failures=\"0\" errors=\"0\"");
  }

  @Test
  void violatedCrashPointsAreAnInvariantViolationInJunit() throws Exception {
    Path file = Files.writeString(dir.resolve("v.yaml"), "name: v\nsteps:\n  - log: hi\n");
    Scenario scenario = ScenarioFiles.load(List.of(file)).scenarios().get(0);
    CrashSweep.Report report = new CrashSweep.Report("", 1, 3, List.of(
        new CrashSweep.Point(1, "clean", List.of()),
        new CrashSweep.Point(2, "torn", List.of("bitmap b0 lost a dirty bit"))),
        Map.of("clean", 1, "torn", 1), List.of());
    Path junit = dir.resolve("v.xml");

    io.blocksim.sim.runner.JunitXml.writeTests(junit, "blocksim sweep",
        List.of(SweepCommand.junitTest(scenario, scenario.cases().get(0), report, 0)));

    assertThat(Files.readString(junit)).contains("errors=\"1\"").contains("failures=\"0\"")
        .contains("<error type=\"invariant-violation\" message=\"1 of 2 crash points")
        .contains("op 2: torn\n  bitmap b0 lost a dirty bit");
  }
}
