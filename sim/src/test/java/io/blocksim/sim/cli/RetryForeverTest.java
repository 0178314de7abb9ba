package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backup that retries a permanent read error forever (on-source-error: ignore) ends at a
 * limit, exit 4, quickly (issue 17): the run is cut at the QMP-event limit, and an await looks
 * at each event once rather than rescanning the whole history after every task.
 */
class RetryForeverTest {
  @TempDir Path dir;

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"blockdev-backup", "blockdev-mirror"})
  void aJobRetryingForeverEndsAtTheEventLimitQuickly(String command) throws Exception {
    Path scenario = Files.writeString(dir.resolve("retry.yaml"), """
        name: a backup that retries a permanent read error forever
        images:
          - {path: disk.raw, format: raw, size: 1M}
          - {path: tgt.raw, format: raw, size: 1M}
        steps:
          - qmp: blockdev-add
            args:
              node-name: drive0
              driver: raw
              file:
                driver: blkdebug
                image: {driver: file, filename: disk.raw}
                inject-error: [{event: read_aio, once: false}]
          - qmp: blockdev-add
            args: {node-name: target0, driver: raw, file: {driver: file, filename: tgt.raw}}
          - io: "write -P0x49 0 64k"
            node: drive0
          - qmp: COMMAND
            args: {job-id: j1, device: drive0, target: target0, sync: full,
                   on-source-error: ignore}
          - await: {job: j1, status: concluded}
            timeout: 100000s
        """.replace("COMMAND", command));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long start = System.nanoTime(); // determinism-ok: the test measures wall time

    int code = Main.execute(new String[] {"run", scenario.toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(out, true,
            StandardCharsets.UTF_8));

    long seconds = (System.nanoTime() - start) / 1_000_000_000L; // determinism-ok: as above
    assertThat(code).isEqualTo(Main.EXIT_LIMIT);
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("limit  step 5 (line 21): limit reached: QMP events per run (10000)");
    // Well under a second alone; generous for a loaded build machine.
    assertThat(seconds).isLessThan(20);
  }
}
