package io.blocksim.sim.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Goal: the crash sweep tells proposal:qbm's modes apart. Method: sweep
 * scenarios/proposals/qbm-cost.yaml; mode close (bitmaps written only at close, no in-use flag)
 * must have silent-loss violations at the crash points between the reopen and the final store;
 * mode synchronous (bitmap bytes written after the data write, not flushed before it) some, in
 * the window before the next flush; mode write-ahead none. The per-write modes write the bitmap
 * file once more per granule they dirty for the first time (8 here) than close.
 */
class QbmSweepTest {
  private static final Path SCENARIO =
      Path.of("..", "scenarios", "proposals", "qbm-cost.yaml");

  private static CrashSweep.Report sweep(String caseName) throws Exception {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(SCENARIO));
    assertThat(loaded.errors()).isEmpty();
    Scenario scenario = loaded.scenarios().get(0);
    Scenario.Case c = scenario.cases().stream().filter(x -> x.name().equals(caseName))
        .findFirst().orElseThrow();
    return CrashSweep.sweep(scenario, c, scenario.seed(), new TreeSet<>(scenario.semantics()), 1);
  }

  @Test
  void storedOnlyAtCloseIsSilentlyWrongAfterACrashInTheSession() throws Exception {
    CrashSweep.Report report = sweep("format=qbm-close");

    assertThat(report.violationCount()).isGreaterThan(10);
    assertThat(report.points().stream().flatMap(p -> p.violations().stream()))
        .allSatisfy(v -> assertThat(v).contains("silent loss: bitmap 'b0'"));
    assertThat(report.requests().get("b0.bitmap")).isEqualTo(new CrashSweep.Requests(2, 2));
  }

  @Test
  void synchronousAfterTheDataWriteCanLoseTheBitBeforeTheNextFlush() throws Exception {
    CrashSweep.Report report = sweep("format=qbm-synchronous");

    assertThat(report.violationCount()).isPositive();
    assertThat(report.points().stream().flatMap(p -> p.violations().stream()))
        .allSatisfy(v -> assertThat(v).contains("silent loss: bitmap 'b0'"));
    assertThat(report.requests().get("b0.bitmap")).isEqualTo(new CrashSweep.Requests(9, 9));
  }

  @Test
  void writeAheadStaysCoveringAtEveryCrashPointAndPaysPerNewGranule() throws Exception {
    CrashSweep.Report report = sweep("format=qbm-write-ahead");

    assertThat(report.violationCount()).isZero();
    assertThat(report.outcomes()).containsKey("qbm-consistent");
    assertThat(report.requests().get("b0.bitmap")).isEqualTo(new CrashSweep.Requests(9, 9));
    assertThat(report.requests().get("x.raw")).isEqualTo(new CrashSweep.Requests(16, 16));
  }

  @Test
  void qcow2WithARawDataFileIsFlaggedInsteadOfWrong() throws Exception {
    CrashSweep.Report report = sweep("format=qcow2-data-file");

    assertThat(report.violationCount()).isZero();
    assertThat(report.outcomes().keySet()).anyMatch(k -> k.startsWith("inconsistent"));
    assertThat(report.requests().keySet()).containsExactly("x.qcow2", "x.raw");
  }
}
