package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.blocksim.sim.qemu.QemuAvailability;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An advance of 100 years (issue 17): virtual time under run, so it ends at once even with a
 * rate-limited job running; real time under diff, so it is refused with the reason.
 */
class AdvanceBoundTest {
  /** 100 years of 365 days, in minutes (the largest unit). */
  private static final String HUNDRED_YEARS = (100L * 365 * 24 * 60) + "m";

  @TempDir Path dir;

  private Path scenario() throws Exception {
    return Files.writeString(dir.resolve("century.yaml"), "name: century\n"
        + "images:\n  - {path: src.raw, format: raw, size: 1M}\n"
        + "  - {path: tgt.raw, format: raw, size: 1M}\n"
        + "steps:\n"
        + "  - qmp: blockdev-add\n"
        + "    args: {node-name: src, driver: raw, file: {driver: file, filename: src.raw}}\n"
        + "  - qmp: blockdev-add\n"
        + "    args: {node-name: tgt, driver: raw, file: {driver: file, filename: tgt.raw}}\n"
        + "  - io: \"write -P0x5a 0 1M\"\n    node: src\n"
        + "  - qmp: blockdev-backup\n"
        + "    args: {job-id: b0, device: src, target: tgt, sync: full, speed: 4096}\n"
        + "  - advance: " + HUNDRED_YEARS + "\n"
        + "  - observe: query-block-jobs\n");
  }

  @Test
  void underRunACenturyOfVirtualTimeEndsQuickly() throws Exception {
    Path file = scenario();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long start = System.nanoTime();

    int code = Main.execute(new String[] {"run", file.toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

    long millis = (System.nanoTime() - start) / 1_000_000;
    assertThat(code).as(out.toString(StandardCharsets.UTF_8)).isIn(Main.EXIT_OK, Main.EXIT_LIMIT);
    assertThat(millis).as("wall time of a century's advance").isLessThan(20_000);
  }

  @Test
  void underDiffACenturyIsRefusedWithTheReason() throws Exception {
    QemuAvailability qemu = QemuAvailability.check();
    assumeThat(qemu.available()).as(qemu.reason()).isTrue();
    Path file = scenario();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long start = System.nanoTime();

    int code = Main.execute(new String[] {"diff", "--jobs", "1", file.toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(out, true, StandardCharsets.UTF_8));

    long millis = (System.nanoTime() - start) / 1_000_000;
    assertThat(code).isNotZero();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("advance of")
        .contains("real time");
    assertThat(millis).isLessThan(60_000);
  }
}
