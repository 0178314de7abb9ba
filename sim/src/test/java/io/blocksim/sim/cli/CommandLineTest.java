package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The command line explains itself (issue 17): --help on every subcommand lists every option,
 * nonsense values and runs that would run nothing are refused with the reason (exit 2), outputs
 * are written whole, and --update says what it rewrote.
 */
class CommandLineTest {
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

  @ParameterizedTest
  @ValueSource(strings = {"run", "diff", "sweep", "check", "bench", "semantics", "models"})
  void helpOfEverySubcommandListsEveryOption(String command) {
    Outcome outcome = blocksim(command, "--help");

    assertThat(outcome.code).isZero();
    CommandLine sub = new CommandLine(new Main()).getSubcommands().get(command);
    assertThat(sub).isNotNull();
    for (OptionSpec option : sub.getCommandSpec().options()) {
      assertThat(outcome.out).as(command).contains(option.longestName());
    }
  }

  @Test
  void nonsenseValuesAreRefusedWithTheReason() throws Exception {
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: s\nsteps:\n  - log: hi\n");

    assertThat(blocksim("sweep", "--crash-points", "--stride", "0", scenario.toString()))
        .satisfies(o -> assertThat(o.code).isEqualTo(2))
        .satisfies(o -> assertThat(o.err).contains("--stride must be at least 1"));
    assertThat(blocksim("diff", "--known", dir.resolve("none.txt").toString(),
        scenario.toString()))
        .satisfies(o -> assertThat(o.code).isEqualTo(2))
        .satisfies(o -> assertThat(o.err).contains("none.txt: no such file"));
    assertThat(blocksim("diff", "--jobs", "0", scenario.toString()).code).isEqualTo(2);
  }

  @Test
  void aRunThatRunsNothingFailsWithTheReason() throws Exception {
    Path empty = Files.createDirectory(dir.resolve("empty"));
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: s\nsteps:\n  - log: hi\n");

    Outcome none = blocksim("run", empty.toString());
    Outcome noCase = blocksim("run", "--case", "x=1", scenario.toString());
    Outcome noRecording = blocksim("diff", "--recorded", scenario.toString());

    assertThat(none.code).isEqualTo(2);
    assertThat(none.err).contains("no scenario files (*.yaml) in " + empty);
    assertThat(noCase.code).isEqualTo(2);
    assertThat(noCase.err).contains("no case named 'x=1'");
    assertThat(noRecording.code).isEqualTo(2);
    assertThat(noRecording.err).contains("nothing was compared: no case has a recording");
  }

  @Test
  void updateListsWhatItWroteAndACaseWithoutGoldenSaysSo() throws Exception {
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: s\nsteps:\n  - log: hi\n");

    Outcome before = blocksim("run", scenario.toString());
    Outcome update = blocksim("run", "--update", scenario.toString());
    Outcome again = blocksim("run", "--update", scenario.toString());

    assertThat(before.out).contains("no golden file " + dir.resolve("s.out"));
    assertThat(update.out).contains("created " + dir.resolve("s.out"));
    assertThat(Files.readString(dir.resolve("s.out"))).isEqualTo("hi\n");
    assertThat(again.out).doesNotContain("created").doesNotContain("updated");
    try (var files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
          "s.yaml", "s.out");  // No temporary file left.
    }
  }

  @Test
  void aFailingCaseIsNotRecordedAsGolden() throws Exception {
    Path scenario = Files.writeString(dir.resolve("f.yaml"),
        "name: f\nsteps:\n  - qmp: no-such-command\n");

    Outcome update = blocksim("run", "--update", scenario.toString());

    assertThat(update.code).isEqualTo(1);
    assertThat(update.out).contains("not updated " + dir.resolve("f.out") + ": the case failed");
    assertThat(dir.resolve("f.out")).doesNotExist();
  }

  @Test
  void anUnwritableOutputIsOneLineAndExit2() throws Exception {
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: s\nsteps:\n  - log: hi\n");
    Path blocked = Files.writeString(dir.resolve("file"), "x").resolve("out.json");

    Outcome outcome = blocksim("run", "--json", blocked.toString(), scenario.toString());

    assertThat(outcome.code).isEqualTo(2);
    assertThat(outcome.err).startsWith("blocksim: error: cannot write " + blocked + ": ")
        .doesNotContain("Exception").hasLineCount(1);
  }

  @Test
  void junitHasAClassPerScenarioATestPerCaseAndTimes() throws Exception {
    Path scenario = Files.writeString(dir.resolve("a.b.yaml"),
        "name: s\nmatrix: {x: [1, 2]}\nsteps:\n  - log: hi\n");
    Path junit = dir.resolve("j.xml");

    blocksim("run", "--junit", junit.toString(), scenario.toString());

    String xml = Files.readString(junit);
    String className = io.blocksim.sim.runner.JunitXml.className(scenario.toString());
    assertThat(className).endsWith(".a_b").doesNotContain("yaml");
    assertThat(xml).contains("<testcase classname=\"" + className + "\" name=\"x=1\" time=\"")
        .contains("name=\"x=2\"");
  }

  @Test
  void aQemuCommandThatIsNotModelledSaysSoAndAnUnknownOneKeepsQemusText() throws Exception {
    Path scenario = Files.writeString(dir.resolve("c.yaml"), "name: c\nsteps:\n"
        + "  - qmp: query-version\n    error: blocksim does not model\n"
        + "  - qmp: no-such-command\n    error: The command no-such-command has not been found\n");

    Outcome outcome = blocksim("run", scenario.toString());

    assertThat(outcome.code).as(outcome.out).isZero();
  }

  @Test
  void modelsListsCommandsDriversAndStepKinds() {
    Outcome outcome = blocksim("models");

    assertThat(outcome.code).isZero();
    assertThat(outcome.out).contains("QMP commands (", "  blockdev-backup\n",
        "QEMU 7.2 commands not modelled:", "block drivers:", "  qcow2\n", "step kinds:",
        "  await\n");
  }
}
