package io.blocksim.sim.variants;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.semantics.Variant;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The kill table as a build gate: every {@code bug:} variant must be noticed by some case of the
 * bundled corpus (a checker, a failed step, or a log that differs from its golden). A variant
 * that survives means the corpus no longer covers a past QEMU bug.
 */
class SemanticsKillTest {
  private static final Path SCENARIOS = Path.of("..", "scenarios");

  @TestFactory
  Stream<DynamicTest> everyBugVariantIsKilledByTheCorpus() throws Exception {
    KillTable table = KillTable.load(List.of(SCENARIOS));
    List<DynamicTest> tests = new ArrayList<>();
    for (Variant v : Variant.values()) {
      if (v.kind() != Variant.Kind.BUG) {
        continue;
      }
      tests.add(DynamicTest.dynamicTest(v.spelling(), () -> {
        KillTable.Row row = table.run(v.spelling());
        assertThat(row.killedBy()).as(v.spelling() + " survived all " + row.casesRun()
            + " corpus cases").isNotNull();
      }));
    }
    return tests.stream();
  }

  @Test
  void everyHistoricalBugNamesItsFixAndRelease() {
    for (Variant v : Variant.values()) {
      if (v.kind() == Variant.Kind.BUG && !v.description().contains("planted")) {
        assertThat(v.fixingCommit()).as(v.spelling() + " fixing commit").isPresent();
        assertThat(v.release().orElse("")).as(v.spelling() + " release")
            .matches("\\d+\\.\\d+\\.\\d+");
      }
      assertThat(v.actsIn()).as(v.spelling() + " acts in").isNotBlank();
    }
  }

  @Test
  void everyVariantHasAScenarioThatSwitchesItOn() throws Exception {
    var loaded = io.blocksim.sim.runner.ScenarioFiles.load(List.of(SCENARIOS));
    for (Variant v : Variant.values()) {
      assertThat(loaded.scenarios()).as("a scenario with semantics: [" + v.spelling() + "]")
          .anyMatch(s -> s.semantics().contains(v.spelling()));
    }
  }
}
