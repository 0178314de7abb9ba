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

  /** Every subcommand blocksim has, as Main declares them. */
  static java.util.stream.Stream<String> subcommands() {
    return new CommandLine(new Main()).getSubcommands().keySet().stream();
  }

  @Test
  void theHelpTestCoversEverySubcommand() {
    assertThat(subcommands().toList()).contains("run", "diff", "sweep", "check", "bench",
        "semantics", "models", "whatif", "report", "explore", "explore-merge", "fuzz");
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("subcommands")
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

  /**
   * Every output of every command, under a path that cannot be written (a file is in the way of
   * its folder, which blocks root too): one line, exit 2, no stack trace.
   */
  @ParameterizedTest
  @ValueSource(strings = {"run --junit", "run --report", "run --trace-tla", "run --keep-images",
      "sweep --crash-points --junit", "explore --runs 1 --json", "explore --runs 1 --report"})
  void everyUnwritableOutputIsOneLineAndExit2(String options) throws Exception {
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: s\n"
        + "images:\n  - {path: a.qcow2, format: qcow2, size: 64k}\nsteps:\n"
        + "  - qmp: blockdev-add\n    args: {node-name: d, driver: qcow2, file: {driver: file,"
        + " filename: a.qcow2}}\n"
        + "  - qmp: block-dirty-bitmap-add\n    args: {node: d, name: b}\n");
    Path blocked = Files.writeString(dir.resolve("file"), "x").resolve("out");
    java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of(
        options.split(" ")));
    args.add(blocked.toString());
    if (!options.startsWith("explore")) {
      args.add(scenario.toString());
    }

    Outcome outcome = blocksim(args.toArray(String[]::new));

    assertThat(outcome.code).as(outcome.out + outcome.err).isEqualTo(2);
    assertThat(outcome.err).as(options).startsWith("blocksim: error: ").contains(blocked
        .toString()).doesNotContain("Exception").hasLineCount(1);
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

  @Test
  void nonsenseCountsOfExploreFuzzAndRunAreRefused() {
    String[][] commands = {
        {"explore", "--runs", "0"}, {"explore", "--runs", "-1"},
        {"explore", "--shrink-budget", "-1", "--runs", "1"}, {"explore", "--tla", "-2"},
        {"explore", "--checkers", "no-such-checker", "--runs", "1"},
        {"fuzz", "--against", "qemu", "--runs", "0"}, {"fuzz", "--against", "qemu", "--runs",
            "-5"}, {"fuzz", "--against", "qemu", "--jobs", "0", "--runs", "1"},
        {"fuzz", "--against", "qemu", "--shrink-budget", "-1", "--runs", "1"},
        {"run", "--schedules", "1001", "scenarios"}};
    for (String[] args : commands) {
      Outcome outcome = blocksim(args);
      assertThat(outcome.code).as(String.join(" ", args) + ": " + outcome.out + outcome.err)
          .isEqualTo(2);
      assertThat(outcome.err).as(String.join(" ", args)).startsWith("blocksim: error: ")
          .doesNotContain("Exception");
      assertThat(outcome.out).as(String.join(" ", args)).isEmpty();
    }
  }

  @Test
  void sweepWhatifAndTheKillTableRefuseToRunNothing() throws Exception {
    Path empty = Files.createDirectory(dir.resolve("empty"));
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: s\nsteps:\n  - log: hi\n");
    String variant = io.blocksim.sim.scenario.Semantics.known().keySet().stream()
        .filter(v -> v.startsWith("bug:")).findFirst().orElseThrow();

    Outcome sweepEmpty = blocksim("sweep", "--crash-points", empty.toString());
    Outcome sweepCase = blocksim("sweep", "--crash-points", "--case", "x=1", scenario.toString());
    Outcome sweepMissing = blocksim("sweep", "--crash-points", dir.resolve("nope.yaml")
        .toString());
    Outcome whatif = blocksim("whatif", "--semantics", variant, empty.toString());
    Outcome kill = blocksim("semantics", "--kill", "--variant", variant, empty.toString());

    assertThat(sweepEmpty.code).isEqualTo(2);
    assertThat(sweepEmpty.err).contains("no scenario files (*.yaml) in " + empty);
    assertThat(sweepCase.code).isEqualTo(2);
    assertThat(sweepCase.err).contains("no case named 'x=1'");
    assertThat(sweepMissing.code).isEqualTo(2);
    assertThat(sweepMissing.err).contains("nope.yaml:1:1: error: no such scenario file");
    assertThat(whatif.code).isEqualTo(2);
    assertThat(whatif.err).contains("no scenario files (*.yaml) in " + empty);
    assertThat(kill.code).isEqualTo(2);
    assertThat(kill.err).contains("no scenario files (*.yaml) in " + empty);
  }

  @Test
  void anAdvanceOf100YearsIsRefusedUnderDiffBeforeAnyDaemonStarts() throws Exception {
    Path scenario = Files.writeString(dir.resolve("a.yaml"), "name: a\nsteps:\n"
        + "  - log: hi\n  - advance: 3153600000s\n");
    Path many = Files.writeString(dir.resolve("m.yaml"), "name: m\nsteps:\n"
        + "  - advance: 60s\n".repeat(6));

    long start = System.nanoTime(); // determinism-ok: the test measures wall time
    Outcome century = blocksim("diff", scenario.toString());
    Outcome sum = blocksim("diff", many.toString());
    long seconds = (System.nanoTime() - start) / 1_000_000_000L; // determinism-ok: as above

    assertThat(century.code).isEqualTo(2);
    assertThat(century.err).startsWith(scenario + ":4:5: error: 'advance' in step 2: an advance"
        + " of 3,153,600,000 s (100 years) passes in real time under blocksim diff, and one step"
        + " may ask for at most 60 s\n").contains("hint: ");
    assertThat(century.out).isEmpty();
    assertThat(sum.code).isEqualTo(2);
    assertThat(sum.err).startsWith(many + ":8:5: error: 'advance' in step 6: the advances up to"
        + " here ask for 360 s of real time");
    assertThat(seconds).isLessThan(20);
  }

  @Test
  void keptImagesAreNeverWrittenThroughASymbolicLink() throws Exception {
    Path scenario = Files.writeString(dir.resolve("k.yaml"), "name: k\n"
        + "images:\n  - {path: a.raw, format: raw, size: 4k}\nsteps:\n  - log: hi\n");
    Path outside = Files.createDirectory(dir.resolve("outside"));
    Path keep = Files.createDirectory(dir.resolve("keep"));
    Files.createSymbolicLink(keep.resolve("k"), outside);

    Outcome outcome = blocksim("run", "--keep-images", keep.toString(), scenario.toString());

    assertThat(outcome.code).isEqualTo(2);
    assertThat(outcome.err).startsWith("blocksim: error: cannot write " + keep.resolve("k"))
        .contains("symbolic link").hasLineCount(1);
    try (var files = Files.list(outside)) {
      assertThat(files.toList()).isEmpty();
    }
  }
}
