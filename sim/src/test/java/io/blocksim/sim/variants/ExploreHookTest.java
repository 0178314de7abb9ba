package io.blocksim.sim.variants;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * The kill table's exploration: a planted checker variant is found by a small seeded campaign,
 * QEMU 7.2's own semantics are not flagged, and with a run budget alone the line is the same
 * every time.
 */
class ExploreHookTest {
  private static final ExploreHook.Budget RUNS_ONLY = new ExploreHook.Budget(1, 40, 0, false);

  @Test
  void aPlantedVariantIsFoundByItsChecker() {
    ExploreHook.Result r = ExploreHook.run("bug:set-speed-any-status", RUNS_ONLY);
    assertThat(r.killed()).as(r.line()).isTrue();
    assertThat(r.line()).startsWith("killed by checker job-state-machine at run ");
  }

  @Test
  void theLineDependsOnTheSeedOnlyWithoutWallClock() {
    ExploreHook.Budget few = new ExploreHook.Budget(7, 15, 0, false);
    String first = ExploreHook.run("bug:merge-busy-source", few).line();
    String second = ExploreHook.run("bug:merge-busy-source", few).line();
    assertThat(second).isEqualTo(first);
    assertThat(first).doesNotContain(" in ").doesNotContain("s)");
  }
}
