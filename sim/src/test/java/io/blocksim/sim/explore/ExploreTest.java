package io.blocksim.sim.explore;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.cli.Main;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioParser;
import io.blocksim.sim.scenario.Semantics;
import io.blocksim.sim.scenario.Step;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExploreTest {
  private static final Profile SMALL = Profile.DEFAULT;

  @Test
  void theSameSeedGeneratesTheSameRun() {
    RunGenerator generator = new RunGenerator(SMALL);
    GeneratedRun a = generator.generate(42);
    GeneratedRun b = new RunGenerator(SMALL).generate(42);
    assertThat(describe(a.steps())).isEqualTo(describe(b.steps()));
    assertThat(a.images()).isEqualTo(b.images());
    assertThat(describe(generator.generate(43).steps())).isNotEqualTo(describe(a.steps()));
  }

  @Test
  void theGeneratorUsesTheWholeVocabularyAndFuzzTheComparablePart() {
    List<String> wanted = List.of("qmp block_resize", "qmp blockdev-snapshot-sync",
        "qmp blockdev-snapshot ", "\"type\": \"blockdev-snapshot-sync\"",
        "qmp blockdev-reopen", "qmp block-export-add", "\"bitmaps\": [", "nbd-map ",
        "\"driver\": \"copy-before-write\"", "\"driver\": \"snapshot-access\"",
        "img 'info -U ", "img 'check ", "data_file=", "data_file_raw=on");
    for (RunGenerator generator : List.of(new RunGenerator(SMALL),
        new RunGenerator(SMALL, FuzzCommand.COMPARABLE))) {
      StringBuilder all = new StringBuilder();
      for (long i = 0; i < 300; i++) {
        all.append(describe(generator.generate(Campaign.runSeed(11, i)).steps())).append('\n');
      }
      for (String w : wanted) {
        assertThat(all.toString()).as("a step with %s", w).contains(w);
      }
    }
    assertThat(FuzzCommand.COMPARABLE).contains(Feature.RESIZE, Feature.SNAPSHOTS,
        Feature.REOPEN, Feature.NBD, Feature.FLEECING, Feature.IMG, Feature.DATA_FILE)
        .doesNotContain(Feature.TIME, Feature.BLKDEBUG, Feature.BACKUP);
  }

  @Test
  void recordedRunsReplayUnderBlocksimRunAsTheyRan() throws Exception {
    RunGenerator generator = new RunGenerator(SMALL);
    int replayed = 0;
    for (long i = 0; i < 40; i++) {
      GeneratedRun run = generator.generate(Campaign.runSeed(5, i));
      RunExecutor.Result result = RunExecutor.execute(run, Set.of(), null);
      assertThat(result.verdict()).as("run %d: %s", i, result.failure())
          .isEqualTo(RunExecutor.Verdict.PASSED);
      String yaml = ScenarioWriter.write("run " + i, "a generated run", run.seed(), Set.of(),
          true, run.images(), result.recorded());
      Scenario scenario = ScenarioParser.parseText(yaml, "run-" + i + ".yaml",
          Semantics.names());
      assertThat(scenario.cases().get(0).steps()).hasSize(result.recorded().size());
      CaseResult replay = new ScenarioRunner(new ScenarioRunner.Options(null, false, Set.of(),
          null, false), new PrintStream(PrintStream.nullOutputStream()))
          .simulate(scenario, scenario.cases().get(0));
      assertThat(replay.failure()).as("replay of run %d:\n%s", i, yaml).isNull();
      replayed++;
    }
    assertThat(replayed).isEqualTo(40);
  }

  @Test
  void aCampaignOnQemu72ViolatesNoInvariant() {
    Campaign.Tally tally = Campaign.run(new Campaign.Plan(11, 150, 0, Set.of(), 0, 1, SMALL,
        true, List.of("all")), null);
    assertThat(tally.failures).extracting(f -> f.failure().checker() + ": "
        + f.failure().message() + " (seed " + f.runSeed() + ")").isEmpty();
    assertThat(tally.runs).isEqualTo(150);
    assertThat(tally.coverage.jobEnds).isNotEmpty();
  }

  @Test
  void aViolationShrinksToASmallerScenarioThatReplaysIt(@TempDir Path dir) throws Exception {
    Set<String> variant = Set.of("bug:set-speed-any-status");
    Campaign.Tally tally = Campaign.run(new Campaign.Plan(1, 500, 0, variant, 0, 1, SMALL,
        false, List.of("all")), null);
    assertThat(tally.failures).hasSize(1);
    Campaign.Failure failure = tally.failures.get(0);
    assertThat(failure.failure().checker()).isEqualTo("job-state-machine");
    Shrinker shrinker = new Shrinker(variant, "job-state-machine", 2000);
    GeneratedRun minimal = shrinker.shrink(failure.run());
    assertThat(minimal.steps().size()).isLessThan(failure.run().steps().size());
    RunExecutor.Result replay = RunExecutor.execute(minimal, variant, null);
    Path file = dir.resolve("job-state-machine-" + failure.runSeed() + ".yaml");
    Files.writeString(file, ScenarioWriter.write("shrunk", "shrunk", failure.runSeed(), variant,
        true, minimal.images(), replay.recorded()));
    assertThat(ExploreCommand.confirmReplay(file, "job-state-machine")).startsWith("confirmed");
  }

  @Test
  void exploreExitsThreeAndWritesTheShrunkFailure(@TempDir Path dir) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.execute(new String[] {"explore", "--runs", "500", "--semantics",
        "bug:set-speed-any-status", "--out", dir.toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(out));
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as(text).isEqualTo(Main.EXIT_INVARIANT);
    assertThat(text).contains("bug: checker job-state-machine violated").contains("seed=")
        .contains("trace tail:").contains("replay: ./blocksim run ").contains("(confirmed");
    assertThat(dir.toFile().list()).singleElement().asString()
        .startsWith("job-state-machine-");
  }

  @Test
  void sampledRunsAreBehavioursOfTheSpecs(@TempDir Path dir) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.execute(new String[] {"explore", "--runs", "30", "--tla", "10", "--out",
        dir.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(out));
    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as(text).isEqualTo(Main.EXIT_OK);
    assertThat(text).contains("spec acceptance: 3 runs sampled (one in 10 runs")
        .contains("0 rejected");
  }

  @Test
  void exploreReportShowsTheCampaignAndAPagePerViolation(@TempDir Path dir) throws Exception {
    PrintStream quiet = new PrintStream(OutputStreamSink.INSTANCE);
    Path report = dir.resolve("report");
    int code = Main.execute(new String[] {"explore", "--runs", "500", "--semantics",
        "bug:set-speed-any-status", "--out", dir.resolve("failures").toString(), "--report",
        report.toString()}, quiet, quiet);

    assertThat(code).isEqualTo(Main.EXIT_INVARIANT);
    String index = Files.readString(report.resolve("index.html"));
    assertThat(index).contains("Explore campaign").contains("semantics bug:set-speed-any-status")
        .contains("Violations").contains("job-state-machine").contains("Verbs (job type");
    String failure;
    try (var files = Files.list(dir.resolve("failures"))) {
      failure = files.findFirst().orElseThrow().getFileName().toString();
    }
    try (var pages = Files.list(report.resolve("cases"))) {
      List<Path> all = pages.toList();
      assertThat(all).singleElement().satisfies(p -> assertThat(Files.readString(p))
          .contains(failure).contains("invariant violated"));
    }
  }

  @Test
  void shardSummariesMergeIntoTheWholeCampaign(@TempDir Path dir) throws Exception {
    PrintStream quiet = new PrintStream(OutputStreamSink.INSTANCE);
    for (int i = 0; i < 2; i++) {
      assertThat(Main.execute(new String[] {"explore", "--runs", "10", "--seed", "3",
          "--shard", i + "/2", "--json", dir.resolve("s" + i + ".json").toString()}, quiet,
          quiet)).isEqualTo(Main.EXIT_OK);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.execute(new String[] {"explore-merge", dir.resolve("s0.json").toString(),
        dir.resolve("s1.json").toString(), "--json", dir.resolve("all.json").toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8), quiet);
    assertThat(code).isEqualTo(Main.EXIT_OK);
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("2 shards, 20 runs, 20 passed");
    assertThat(Files.readString(dir.resolve("all.json"))).contains("\"runs\": 20");
  }

  @Test
  void badShardIsBadInput() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    assertThat(Main.execute(new String[] {"explore", "--shard", "2/2"},
        new PrintStream(OutputStreamSink.INSTANCE), new PrintStream(err))).isEqualTo(
        Main.EXIT_BAD_INPUT);
    assertThat(err.toString()).contains("--shard must be i/n").contains("hint:");
  }

  private static List<String> describe(List<Step> steps) {
    return steps.stream().map(ScenarioWriter::describe).toList();
  }

  /** Discards output. */
  private static final class OutputStreamSink extends java.io.OutputStream {
    static final OutputStreamSink INSTANCE = new OutputStreamSink();

    @Override
    public void write(int b) {}
  }
}
