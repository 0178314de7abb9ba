package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs TLC on every spec configuration listed in {@code specs/manifest.json}, each in a child JVM
 * and one at a time, and compares verdict, violated invariant and distinct-state count with the
 * manifest.
 * The broken variants are in the manifest too, so each invariant is shown to bite on every build.
 * Also checks that {@link TlcRunner#checkAll} reports differences and unlisted configurations.
 */
@Tag("tlc")
class SpecManifestCheckTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("manifest");

  @TestFactory
  Stream<DynamicTest> everyManifestCheckGivesItsExpectedResult() throws IOException {
    SpecManifest manifest = SpecManifest.read(SPECS.resolve("manifest.json"));
    return manifest.checks().stream().map(check -> DynamicTest.dynamicTest(
        check.config() + ": " + check.expectedVerdict(), () -> {
          TlcResult result = TlcRunner.run(SPECS, check, WORK);
          System.out.printf(Locale.ROOT, "TLC %-46s %-34s %8d distinct states %6d ms%n",
              check.config(), result.verdict(), result.distinctStates(), result.millis());
          assertThat(check.mismatch(result)).as(result.output()).isNull();
        }));
  }

  @Test
  void everyBrokenVariantNamesTheInvariantItBreaks() throws IOException {
    SpecManifest manifest = SpecManifest.read(SPECS.resolve("manifest.json"));

    // Each spec's own invariants must be shown to bite by some broken variant of that spec.
    List<String> bitten = manifest.checks().stream()
        .filter(check -> check.expect().equals(SpecManifest.EXPECT_VIOLATION))
        .map(SpecManifest.Check::invariant)
        .toList();
    assertThat(bitten).contains("NoLostWrite", "OutcomeTable", "RestoreChain",
        "TransitionAllowed", "VerbAllowed", "ViewPreserved", "ExactDirty", "DiffExact",
        "OnlyNewestEnabled");
  }

  @Test
  void checkAllPassesWhenTheManifestMatches(@TempDir Path specs) throws IOException {
    copySpec(specs, "Checkpoints", "CheckpointsBugMergeIntoNewer.cfg");
    writeManifest(specs, violationEntry(32));

    Run run = checkAll(specs);

    assertThat(run.exitCode()).as(run.output()).isEqualTo(TlcRunner.EXIT_PASSED);
    assertThat(run.output()).contains("1 passed, 0 failed");
  }

  @Test
  void checkAllFailsOnAWrongStateCount(@TempDir Path specs) throws IOException {
    copySpec(specs, "Checkpoints", "CheckpointsBugMergeIntoNewer.cfg");
    writeManifest(specs, violationEntry(31));

    Run run = checkAll(specs);

    assertThat(run.exitCode()).isEqualTo(TlcRunner.EXIT_FAILED);
    assertThat(run.output()).contains("expected 31 distinct states, got 32");
  }

  @Test
  void checkAllFailsOnAConfigurationTheManifestDoesNotList(@TempDir Path specs)
      throws IOException {
    copySpec(specs, "Checkpoints", "CheckpointsBugMergeIntoNewer.cfg");
    Files.copy(SPECS.resolve("Checkpoints.cfg"), specs.resolve("Forgotten.cfg"));
    writeManifest(specs, violationEntry(32));

    Run run = checkAll(specs);

    assertThat(run.exitCode()).isEqualTo(TlcRunner.EXIT_FAILED);
    assertThat(run.output()).contains("Forgotten.cfg").contains("not in manifest.json");
  }

  @Test
  void checkAllFailsOnAManifestEntryWhoseFilesAreMissing(@TempDir Path specs)
      throws IOException {
    writeManifest(specs, violationEntry(32));

    Run run = checkAll(specs);

    assertThat(run.exitCode()).isEqualTo(TlcRunner.EXIT_FAILED);
    assertThat(run.output())
        .contains("Checkpoints.tla or CheckpointsBugMergeIntoNewer.cfg is missing")
        .contains("0 passed, 1 failed");
  }

  @Test
  void checkAllRejectsAMalformedManifestWithoutRunningTlc(@TempDir Path specs)
      throws IOException {
    Files.writeString(specs.resolve("manifest.json"),
        "{\"tlcVersion\": \"2.18\", \"checks\": [{\"module\": \"X\", \"config\": \"X.cfg\","
            + " \"expect\": \"maybe\", \"exitCode\": 0, \"distinctStates\": 1}]}");

    Run run = checkAll(specs);

    assertThat(run.exitCode()).isEqualTo(TlcRunner.EXIT_BAD_INPUT);
    assertThat(run.output()).contains("'expect' must be 'pass' or 'violation'");
  }

  private record Run(int exitCode, String output) {}

  private static Run checkAll(Path specs) {
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    int exitCode = TlcRunner.checkAll(specs, WORK,
        new PrintStream(buffer, true, StandardCharsets.UTF_8));
    return new Run(exitCode, buffer.toString(StandardCharsets.UTF_8));
  }

  private static void copySpec(Path specs, String module, String config) throws IOException {
    Files.copy(SPECS.resolve(module + ".tla"), specs.resolve(module + ".tla"));
    Files.copy(SPECS.resolve(config), specs.resolve(config));
  }

  private static String violationEntry(long distinctStates) {
    return "{\"module\": \"Checkpoints\", \"config\": \"CheckpointsBugMergeIntoNewer.cfg\","
        + " \"expect\": \"violation\", \"invariant\": \"DiffExact\", \"exitCode\": 12,"
        + " \"distinctStates\": " + distinctStates + "}";
  }

  private static void writeManifest(Path specs, String entry) throws IOException {
    Files.writeString(specs.resolve("manifest.json"),
        "{\"tlcVersion\": \"2.18\", \"checks\": [" + entry + "]}");
  }
}
