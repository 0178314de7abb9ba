package io.blocksim.sim.explore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A short differential fuzzing run against qemu-storage-daemon, where QEMU is installed. */
class FuzzTest {
  @Test
  void aShortFuzzRunComparesEveryRunWithQemu(@TempDir Path dir) {
    assumeTrue(QemuAvailability.check().available(), "QEMU 7.2 tools are not installed");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.execute(new String[] {"fuzz", "--against", "qemu", "--runs", "4", "--seed",
        "2", "--shrink-budget", "10", "--out", dir.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(out));
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(text).contains("fuzz: 4 runs, 4 compared with QEMU");
    // A divergence or a QEMU crash is a finding (exit 1, files written), not a broken build.
    assertThat(code).as(text).isIn(Main.EXIT_OK, Main.EXIT_FAILED);
    if (code == Main.EXIT_FAILED) {
      assertThat(dir.toFile().list()).isNotEmpty();
    }
  }

  @Test
  void onlyQemuCanBeFuzzedAgainst() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertThat(Main.execute(new String[] {"fuzz", "--against", "vmware"},
        new PrintStream(new ByteArrayOutputStream()), new PrintStream(err)))
        .isEqualTo(Main.EXIT_BAD_INPUT);
    assertThat(err.toString()).contains("--against must be 'qemu'").contains("hint:");
  }

  /**
   * QEMU 7.2 crashes (SIGSEGV) when a transaction's block-dirty-bitmap-enable action fails
   * (docs/qemu-behaviour.md §22.2): fuzz shrinks a run that ends in such a transaction, against
   * QEMU, to that one step, and writes it apart as a QEMU crash.
   */
  @Test
  void aQemuCrashIsShrunkAgainstQemuToTheStepThatCrashesIt(@TempDir Path dir) throws Exception {
    assumeTrue(QemuAvailability.check().available(), "QEMU 7.2 tools are not installed");
    io.blocksim.sim.scenario.Location at = new io.blocksim.sim.scenario.Location("<t>", 1, 1);
    java.util.List<io.blocksim.sim.scenario.Step> steps = java.util.List.of(
        new io.blocksim.sim.scenario.Step.Qmp(1, at, null, "blockdev-add", java.util.Map.of(
            "node-name", "n0", "driver", "qcow2", "file", java.util.Map.of("driver", "file",
                "filename", "n0.qcow2")), null),
        new io.blocksim.sim.scenario.Step.Qmp(2, at, null, "block-dirty-bitmap-add",
            java.util.Map.of("node", "n0", "name", "b0"), null),
        new io.blocksim.sim.scenario.Step.Io(3, at, null, "write -P0x11 0 64k", "n0", null),
        new io.blocksim.sim.scenario.Step.Qmp(4, at, null, "transaction", java.util.Map.of(
            "actions", java.util.List.of(java.util.Map.of("type", "block-dirty-bitmap-enable",
                "data", java.util.Map.of("node", "n0", "name", "nope")))), null));
    GeneratedRun run = new GeneratedRun(5, java.util.Set.of(), java.util.List.of(
        new io.blocksim.sim.port.Backend.ImageSpec("n0.qcow2", "qcow2", 1 << 20, null, null,
            null, java.util.Map.of())), steps);
    FuzzCommand fuzz = new FuzzCommand();
    fuzz.work = java.nio.file.Files.createDirectories(dir.resolve("work"));
    fuzz.shrinkBudget = 40;
    Path file = dir.resolve("qemu-crash.yaml");

    String shrunk = fuzz.shrinkAndWrite(run, 5, null, "'transaction'", java.util.Set.of(),
        file);

    assertThat(shrunk).contains("shrunk 4 → 1 steps");
    io.blocksim.sim.scenario.Scenario written = io.blocksim.sim.scenario.ScenarioParser.parse(
        file, file.toString());
    assertThat(written.cases().get(0).steps()).singleElement()
        .isInstanceOfSatisfying(io.blocksim.sim.scenario.Step.Qmp.class,
            q -> assertThat(q.command()).isEqualTo("transaction"));
    assertThat(FuzzCommand.during("step 1 (line 9): QEMU crashed (signal 11) during"
        + " 'transaction'; the daemon log is empty")).isEqualTo("'transaction'");
  }
}
