package io.blocksim.sim.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.explore.ExploreRuns;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The shape of the bench's explore figure (no timing is asserted: only what the line says). */
class CorpusBenchTest {
  @Test
  void exploreReportsRunsPerSecondWallAndCpuAndHowTheRunsEnded() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ExploreRuns.Counts counts = CorpusBench.explore(new PrintStream(bytes, true,
        StandardCharsets.UTF_8), 2, 5);

    String line = bytes.toString(StandardCharsets.UTF_8).strip();
    assertThat(line).matches("explore runs/s per core \\(blocksim explore --seed 1 --runs 5, in"
        + " process on one thread, after 2 warm-up runs\\): \\d+/s wall, \\d+/s CPU; \\d+ passed,"
        + " \\d+ at a simulation limit, \\d+ where QEMU 7\\.2 aborts, \\d+ violations,"
        + " \\d+\\.\\d steps per run");
    assertThat(counts.runs()).isEqualTo(5);
    assertThat(counts.passed() + counts.limits() + counts.qemuAborts() + counts.violations())
        .isEqualTo(5);
    assertThat(line).contains(counts.passed() + " passed");
  }

  @Test
  void theBenchRunsTheRunsExploreMakesWithTheSameSeed() {
    // The same campaign seed gives the same runs: the steps of two calls agree.
    assertThat(ExploreRuns.run(1, 4)).isEqualTo(ExploreRuns.run(1, 4));
    assertThat(ExploreRuns.run(1, 4).steps()).isNotEqualTo(ExploreRuns.run(2, 4).steps());
  }
}
