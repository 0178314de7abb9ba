package io.blocksim.sim.tlc;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The expected TLC results, {@code specs/manifest.json}: one check per configuration file, each
 * with the verdict TLC must reach and the number of distinct states it must report. A check of a
 * deliberately broken variant expects a violation of one named invariant.
 *
 * @param tlcVersion the TLC version the figures were taken with
 * @param checks the checks, run in this order
 */
public record SpecManifest(String tlcVersion, List<Check> checks) {

  /** Verdict of a check whose configuration must pass. */
  public static final String EXPECT_PASS = "pass";

  /** Verdict of a check whose configuration must violate the named invariant. */
  public static final String EXPECT_VIOLATION = "violation";

  private static final Set<String> EXPECTATIONS = Set.of(EXPECT_PASS, EXPECT_VIOLATION);

  /**
   * One TLC run and what it must give.
   *
   * @param module the TLA+ module (file {@code module.tla})
   * @param config the configuration file, relative to the specs directory
   * @param expect {@value #EXPECT_PASS} or {@value #EXPECT_VIOLATION}
   * @param invariant for a violation, the invariant TLC must name
   * @param exitCode TLC's exit status
   * @param distinctStates distinct states TLC reports (at the violation, for a violation)
   * @param about one sentence on what the check shows
   */
  public record Check(
      String module,
      String config,
      String expect,
      String invariant,
      Integer exitCode,
      Long distinctStates,
      String about) {

    /** Returns null when the result is what this check expects, else a sentence saying why not. */
    public String mismatch(TlcResult result) {
      if (result.exitCode() != exitCode) {
        return String.format(
            Locale.ROOT, "expected exit %d (%s), got exit %d (%s)",
            exitCode, expectedVerdict(), result.exitCode(), result.verdict());
      }
      if (EXPECT_VIOLATION.equals(expect) && !invariant.equals(result.violatedInvariant())) {
        return String.format(
            Locale.ROOT, "expected a violation of %s, got %s", invariant, result.verdict());
      }
      if (result.distinctStates() != distinctStates) {
        return String.format(
            Locale.ROOT, "expected %d distinct states, got %d",
            distinctStates, result.distinctStates());
      }
      return null;
    }

    /** Returns the verdict in the words of {@link TlcResult#verdict()}. */
    public String expectedVerdict() {
      return EXPECT_PASS.equals(expect) ? "pass" : "violation of " + invariant;
    }

    void validate(int index) {
      String where = "check " + (index + 1);
      require(module != null && !module.isEmpty(), where + ": 'module' is missing");
      require(config != null && config.endsWith(".cfg"), where + ": 'config' must name a .cfg");
      require(EXPECTATIONS.contains(expect),
          where + ": 'expect' must be 'pass' or 'violation', but found: " + expect);
      require(exitCode != null, where + ": 'exitCode' is missing");
      require(distinctStates != null, where + ": 'distinctStates' is missing");
      if (EXPECT_VIOLATION.equals(expect)) {
        require(invariant != null, where + ": a violation needs 'invariant'");
        require(exitCode == TlcResult.EXIT_SAFETY,
            where + ": a violation has exit code 12, but found: " + exitCode);
      } else {
        require(invariant == null, where + ": 'invariant' is only for a violation");
      }
    }
  }

  /** Reads and validates a manifest; a bad manifest is an {@link IllegalArgumentException}. */
  public static SpecManifest read(Path file) throws IOException {
    ObjectMapper mapper = new ObjectMapper()
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    SpecManifest manifest = mapper.readValue(file.toFile(), SpecManifest.class);
    require(manifest.checks() != null && !manifest.checks().isEmpty(), "'checks' is empty");
    for (int i = 0; i < manifest.checks().size(); i++) {
      manifest.checks().get(i).validate(i);
    }
    return manifest;
  }

  private static void require(boolean condition, String message) {
    if (!condition) {
      throw new IllegalArgumentException(message);
    }
  }
}
