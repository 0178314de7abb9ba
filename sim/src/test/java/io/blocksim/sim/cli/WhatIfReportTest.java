package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code whatif --report}: each case's page shows the run under the variant beside the run under
 * QEMU 7.2's semantics. The proposal force-cancel-skips-sync, by its definition, changes what a
 * forced cancel leaves in the bitmap and nothing a soft cancel does.
 */
class WhatIfReportTest {
  @TempDir Path dir;

  @Test
  void theReportMarksTheCasesTheVariantChangesAndOnlyThose() throws Exception {
    Path report = dir.resolve("report");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.execute(new String[] {"whatif", "--semantics",
        "proposal:force-cancel-skips-sync", "--report", report.toString(),
        ChildProcesses.ROOT.resolve("scenarios/proposals/force-cancel-skips-sync.yaml")
            .toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(out, true, StandardCharsets.UTF_8));

    assertThat(code).as(out.toString(StandardCharsets.UTF_8)).isZero();
    String index = Files.readString(report.resolve("index.html"));
    assertThat(index).contains("What if: proposal:force-cancel-skips-sync")
        .contains("QEMU 7.2 semantics");
    String forced = Files.readString(report.resolve(
        "cases/proposals_force-cancel-skips-sync.end=force.html"));
    String soft = Files.readString(report.resolve(
        "cases/proposals_force-cancel-skips-sync.end=soft.html"));
    assertThat(forced).contains("data-change=\"changed\"").contains("src");
    assertThat(soft).contains("data-change=\"unchanged\"").doesNotContain("data-change=\"changed\"");
  }
}
