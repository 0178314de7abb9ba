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
        "2", "--out", dir.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
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
}
