package io.blocksim.sim.diff;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The everyday differential check: every bundled case that is not sim-only runs on a real
 * qemu-storage-daemon 7.2 and in the simulator, and must come out identical or be listed, with
 * its reason, among the known divergences. The Markdown report and the HTML regression report of
 * the whole corpus (reports/regression, every case with its verdict) land in reports/. Without QEMU
 * (not a CI machine) the test is skipped with the reason, never passed silently.
 */
class ConformanceTest {
  @Test
  void everyBundledCaseIsIdenticalUnderRealQemuOrListed() throws Exception {
    QemuAvailability qemu = QemuAvailability.check();
    Assumptions.assumeTrue(qemu.available(), () -> "not run: " + qemu.reason());
    Path root = Path.of("..").toAbsolutePath().normalize();
    Path report = root.resolve("reports").resolve("conformance.md");
    Path html = root.resolve("reports").resolve("regression");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Main.execute(new String[] {"diff", "--known",
        root.resolve("scenarios/known-divergences.txt").toString(), "--report", report.toString(),
        "--report", html.toString(), "../scenarios"},
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    String output = out.toString(StandardCharsets.UTF_8);
    System.out.println(output);
    assertThat(exit).as("blocksim diff exit code; output:%n%s%s", output,
        err.toString(StandardCharsets.UTF_8)).isZero();
    assertThat(output).contains("conformance: ");
    assertThat(Files.readString(report)).contains("# blocksim diff");
    assertThat(Files.readString(html.resolve("index.html"))).contains("against QEMU 7.2: ");
  }
}
