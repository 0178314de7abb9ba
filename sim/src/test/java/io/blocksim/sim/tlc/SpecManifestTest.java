package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading and validating {@code manifest.json}, and matching results against its checks. */
class SpecManifestTest {
  private static final SpecManifest.Check VIOLATION = new SpecManifest.Check(
      "M", "M.cfg", "violation", "Inv", 12, 5L, null);

  private static TlcResult result(int exitCode, String invariant, long distinctStates) {
    return new TlcResult("M", "M.cfg", exitCode, invariant, distinctStates, 9, 3, 0, "");
  }

  @Test
  void acceptsTheResultItExpects() {
    assertThat(VIOLATION.mismatch(result(12, "Inv", 5))).isNull();
  }

  @Test
  void namesAWrongExitCode() {
    assertThat(VIOLATION.mismatch(result(0, null, 5)))
        .isEqualTo("expected exit 12 (violation of Inv), got exit 0 (pass)");
  }

  @Test
  void namesAViolationOfAnotherInvariant() {
    assertThat(VIOLATION.mismatch(result(12, "Other", 5)))
        .isEqualTo("expected a violation of Inv, got violation of Other");
  }

  @Test
  void namesAWrongStateCount() {
    assertThat(VIOLATION.mismatch(result(12, "Inv", 6)))
        .isEqualTo("expected 5 distinct states, got 6");
  }

  @Test
  void rejectsUnknownKeys(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("manifest.json");
    Files.writeString(file, "{\"tlcVersion\": \"2.18\", \"checks\": [], \"extra\": 1}");

    assertThatThrownBy(() -> SpecManifest.read(file)).hasMessageContaining("extra");
  }

  @Test
  void rejectsAViolationWithoutItsInvariant(@TempDir Path dir) throws IOException {
    Path file = dir.resolve("manifest.json");
    Files.writeString(file, "{\"tlcVersion\": \"2.18\", \"checks\": [{\"module\": \"M\","
        + " \"config\": \"M.cfg\", \"expect\": \"violation\", \"exitCode\": 12,"
        + " \"distinctStates\": 3}]}");

    assertThatThrownBy(() -> SpecManifest.read(file))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("check 1: a violation needs 'invariant'");
  }

  @Test
  void readsTheRepositoryManifest() throws IOException {
    SpecManifest manifest = SpecManifest.read(TlcTestSupport.specsDir().resolve("manifest.json"));

    assertThat(manifest.checks()).extracting(SpecManifest.Check::config)
        .contains("BitmapSync.cfg", "JobLifecycle.cfg", "LayeredBitmaps.cfg", "Checkpoints.cfg");
  }
}
