package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.diff.KnownDivergences;
import io.blocksim.sim.runner.ScenarioFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Results do not depend on the working directory or on how a path is spelled (issue 17): the
 * same run from the repository root with a relative path and from elsewhere with an absolute one
 * prints the same bytes, scenario paths and reproduce lines relative to the repository root.
 */
class WorkingDirectoryTest {
  @TempDir Path dir;

  @Test
  void aRunPrintsTheSameFromAnyDirectoryAndSpelling() throws Exception {
    Path scenarios = ChildProcesses.ROOT.resolve("scenarios/bitmaps");
    Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
    Path tmp = Files.createDirectories(dir.resolve("tmp"));

    // A different seed, so that some case may fail and print its reproduce line.
    ChildProcesses.Result fromRoot = ChildProcesses.run(ChildProcesses.ROOT, tmp, "run",
        "--seed", "7", "scenarios/bitmaps");
    ChildProcesses.Result fromElsewhere = ChildProcesses.run(elsewhere, tmp, "run", "--seed",
        "7", scenarios.toString());
    ChildProcesses.Result fromInside = ChildProcesses.run(scenarios, tmp, "run", "--seed", "7",
        "./../bitmaps/");

    assertThat(fromElsewhere.output()).isEqualTo(fromRoot.output());
    assertThat(fromInside.output()).isEqualTo(fromRoot.output());
    assertThat(fromElsewhere.code()).isEqualTo(fromRoot.code());
    assertThat(fromRoot.output()).contains("scenarios/bitmaps/errors.yaml")
        .doesNotContain(ChildProcesses.ROOT.toString());
  }

  @Test
  void aFailingCaseOutsideTheRepositoryReproducesWithTheSamePathFromAnywhere() throws Exception {
    Path cases = Files.createDirectories(dir.resolve("cases"));
    Files.writeString(cases.resolve("f.yaml"), "name: f\nsteps:\n"
        + "  - qmp: query-version\n    error: this is not what QEMU says\n");
    Path tmp = Files.createDirectories(dir.resolve("tmp"));

    ChildProcesses.Result relative = ChildProcesses.run(cases, tmp, "run", "f.yaml");
    ChildProcesses.Result absolute = ChildProcesses.run(ChildProcesses.ROOT, tmp, "run",
        cases.resolve("f.yaml").toString());

    assertThat(relative.code()).isEqualTo(Main.EXIT_FAILED);
    assertThat(absolute.output()).isEqualTo(relative.output());
    assertThat(relative.output()).contains("reproduce: ./blocksim run --seed ")
        .contains(" " + cases.toAbsolutePath().normalize().resolve("f.yaml"));
  }

  @Test
  void aKnownDivergenceMatchesHoweverTheScenarioIsSpelled() throws Exception {
    Path known = ChildProcesses.ROOT.resolve("scenarios/known-divergences.txt");
    KnownDivergences divergences = KnownDivergences.load(known);
    String entry = Files.readAllLines(known).stream()
        .filter(l -> !l.isBlank() && !l.startsWith("#")).findFirst().orElseThrow();
    String scenario = entry.substring(0, entry.indexOf(".yaml") + ".yaml".length());
    String caseName = entry.contains(" [") ? entry.substring(entry.indexOf(" [") + 2,
        entry.indexOf("] ")) : "";

    for (Path spelling : new Path[] {Path.of("..").resolve(scenario),
        ChildProcesses.ROOT.resolve(scenario), ChildProcesses.ROOT.resolve("sim/..")
            .resolve(scenario)}) {
      String display = ScenarioFiles.display(spelling);
      assertThat(display).as(spelling.toString()).isEqualTo(scenario);
      assertThat(divergences.reason(display, caseName)).as(spelling.toString()).isNotNull();
    }
  }
}
