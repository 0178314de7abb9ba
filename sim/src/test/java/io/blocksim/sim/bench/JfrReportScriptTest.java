package io.blocksim.sim.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.files.RepositoryRoot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Recording;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/jfr-report.sh on a recording of a method that is known to be hot. */
class JfrReportScriptTest {
  @TempDir
  Path dir;

  private record Run(int code, String out) {}

  private static Run script(String... args) throws IOException, InterruptedException {
    Path script = RepositoryRoot.find().resolve("scripts/jfr-report.sh");
    List<String> command = new java.util.ArrayList<>(List.of("bash", script.toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("JFR",
        Path.of(System.getProperty("java.home"), "bin", "jfr").toString());
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
    return new Run(p.exitValue(), out);
  }

  @Test
  void theHotMethodLeadsTheSelfFramesOfTheSamplesThroughIt() throws Exception {
    Path jfr = dir.resolve("spin.jfr");
    try (Recording recording = new Recording()) {
      recording.enable("jdk.ExecutionSample").withPeriod(Duration.ofMillis(1));
      recording.start();
      long sink = 0;
      for (int round = 0; round < 40; round++) {
        sink += spinForTheProfiler(2_000_000);
      }
      recording.stop();
      recording.dump(jfr);
      assertThat(sink).isNotZero();
    }

    Run run = script("-n", "3", "-f", "spinForTheProfiler", jfr.toString());

    assertThat(run.code()).as(run.out()).isZero();
    String self = run.out().substring(run.out().indexOf("top frames, self"),
        run.out().indexOf("== top frames outside the JDK"));
    assertThat(self).contains("JfrReportScriptTest.spinForTheProfiler");
    assertThat(run.out()).doesNotContain("\n== 0 samples");
  }

  @Test
  void withoutARecordingItSaysHowToUseIt() throws Exception {
    Run run = script(dir.resolve("none.jfr").toString());
    assertThat(run.code()).isEqualTo(2);
    assertThat(run.out()).contains("usage: scripts/jfr-report.sh");
  }

  /** A loop the JIT cannot remove: its result is used. */
  private static long spinForTheProfiler(int n) {
    long x = 1;
    for (int i = 0; i < n; i++) {
      x = x * 6364136223846793005L + i;
    }
    return x | 1;
  }
}
