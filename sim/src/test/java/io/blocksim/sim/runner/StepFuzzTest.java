package io.blocksim.sim.runner;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioError;
import io.blocksim.sim.scenario.ScenarioParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * Bad input in QMP arguments and {@code img:} command lines (issue 17): random argument trees
 * (members of QEMU's schema and made-up ones, at any depth, with odd values) and random qemu-img
 * words give either a located scenario error or a case that runs in the simulator and ends with
 * a verdict, never an exception out of the parser or the engine ({@code internal error}). The
 * parser's own fuzzing of whole files is ScenarioParserFuzzTest.
 */
class StepFuzzTest {
  private static final List<String> COMMANDS = List.of("blockdev-add", "blockdev-create",
      "blockdev-del", "blockdev-backup", "blockdev-mirror", "drive-backup", "drive-mirror",
      "block-stream", "block-commit", "block-dirty-bitmap-add", "block-dirty-bitmap-merge",
      "block-dirty-bitmap-remove", "block_resize", "blockdev-snapshot-sync",
      "blockdev-snapshot", "blockdev-reopen", "transaction", "job-cancel", "job-finalize",
      "block-job-set-speed", "nbd-server-start", "block-export-add", "change-backing-file",
      "x-blockdev-amend", "chardev-add", "object-add", "qom-set", "query-block", "no-such");

  private static final List<String> MEMBERS = List.of("node-name", "driver", "file", "filename",
      "backing", "data-file", "image", "config", "inject-error", "set-state", "event", "errno",
      "size", "job-id", "device", "target", "sync", "bitmap", "name", "granularity",
      "persistent", "options", "actions", "type", "data", "addr", "path", "id", "backend",
      "speed", "base", "top", "backing-file", "snapshot-file", "format", "mode", "read-only",
      "on-source-error", "x-perf", "max-workers", "cluster-size", "qom-type", "value",
      "file.filename", "weird key", "");

  private static final List<String> STRINGS = List.of("n0", "n1", "img.qcow2", "new.raw",
      "", "file", "qcow2", "raw", "blkdebug", "full", "bitmap", "b0", "j0", "/etc/passwd",
      "../up", "a/../b", "file:x", "json:{\"driver\":\"file\",\"filename\":\"x\"}", "json:{",
      "\u00e9\ud83d\ude00", "x".repeat(300), " ", "-1", "null", "${x}");

  private static final List<String> IMG_WORDS = List.of("create", "convert", "info", "check",
      "compare", "rebase", "commit", "resize", "amend", "bitmap", "dd", "snapshot", "-f", "-F",
      "-O", "-b", "-o", "-u", "-q", "-U", "-r", "-p", "-n", "-d", "--", "-", "--output=json",
      "--output", "--shrink", "--bitmaps", "--add", "--merge", "--granularity", "--object",
      "--image-opts", "-qb", "raw", "qcow2", "qbm", "all", "leaks", "img.qcow2", "new.raw",
      "missing", "4k", "0", "-1M", "+1M", "1E", "99999999999999999999", "backing_file=img.qcow2",
      "backing_file=/etc/passwd", "data_file=d.raw", "compat=0.10", "size=1M,,x",
      "cluster_size=512", "/abs", "../up", "'", "\\\"", "''", "b0");

  private static final String PRELUDE = "name: fuzz\n"
      + "images:\n  - {path: img.qcow2, format: qcow2, size: 1M}\n"
      + "  - {path: new.raw, format: raw, size: 64k}\n"
      + "steps:\n"
      + "  - qmp: blockdev-add\n"
      + "    args: {node-name: n0, driver: qcow2, file: {driver: file, filename: img.qcow2}}\n";

  @Provide
  Arbitrary<Object> values() {
    Arbitrary<Object> leaf = Arbitraries.oneOf(
        Arbitraries.of(STRINGS).map(s -> (Object) s),
        Arbitraries.of(0L, 1L, -1L, 512L, 65536L, Long.MAX_VALUE, Long.MIN_VALUE)
            .map(n -> (Object) n),
        Arbitraries.of(true, false).map(b -> (Object) b),
        Arbitraries.just((Object) "~"));
    return Arbitraries.lazyOf(
        () -> leaf, () -> leaf, () -> leaf,
        () -> Arbitraries.maps(Arbitraries.of(MEMBERS), values()).ofMaxSize(4)
            .map(m -> (Object) m),
        () -> values().list().ofMaxSize(3).map(l -> (Object) l));
  }

  @Property(tries = 300)
  void randomQmpArgumentsGiveALocatedErrorOrAVerdict(
      @ForAll("commandNames") String command,
      @ForAll("argumentMaps") java.util.Map<String, Object> args) {
    String step = "  - qmp: " + command + "\n    args: " + flow(args) + "\n";
    check(PRELUDE + step);
  }

  @Property(tries = 300)
  void randomImgCommandLinesGiveALocatedErrorOrAVerdict(
      @ForAll("imgWords") List<String> words) {
    String line = String.join(" ", words).replace("\\", "\\\\").replace("\"", "\\\"");
    check(PRELUDE + "  - img: \"" + line + "\"\n");
  }

  @Provide
  Arbitrary<String> commandNames() {
    return Arbitraries.of(COMMANDS);
  }

  @Provide
  Arbitrary<java.util.Map<String, Object>> argumentMaps() {
    return Arbitraries.maps(Arbitraries.of(MEMBERS), values()).ofMaxSize(6);
  }

  @Provide
  Arbitrary<List<String>> imgWords() {
    return Arbitraries.of(IMG_WORDS).list().ofMinSize(0).ofMaxSize(9);
  }

  private static void check(String text) {
    Scenario scenario;
    try {
      scenario = ScenarioParser.parseText(text, "f.yaml", Set.of());
    } catch (ScenarioError e) {
      Statistics.collect("scenario error");
      int lines = text.split("\n", -1).length;
      for (ScenarioError.Problem p : e.problems()) {
        assertThat(p.location().path()).as(text).isEqualTo("f.yaml");
        assertThat(p.location().line()).as(text).isBetween(1, lines);
        assertThat(p.message()).as(text).isNotBlank();
      }
      return;
    }
    ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false, Set.of(),
        null, false), new PrintStream(new ByteArrayOutputStream(), true,
        StandardCharsets.UTF_8));
    for (Scenario.Case c : scenario.cases()) {
      CaseResult result = runner.simulate(scenario, c);
      Statistics.collect(result.kind().name());
      assertThat(result.failure() == null ? "" : result.failure()).as(text)
          .doesNotContain("internal error").doesNotContain("Exception");
    }
  }

  /** Writes a value as YAML flow (JSON strings are valid YAML flow scalars). */
  private static String flow(Object value) {
    if (value instanceof java.util.Map<?, ?> map) {
      List<String> parts = new ArrayList<>();
      for (java.util.Map.Entry<?, ?> e : map.entrySet()) {
        parts.add(json((String) e.getKey()) + ": " + flow(e.getValue()));
      }
      return "{" + String.join(", ", parts) + "}";
    }
    if (value instanceof List<?> list) {
      List<String> parts = new ArrayList<>();
      for (Object item : list) {
        parts.add(flow(item));
      }
      return "[" + String.join(", ", parts) + "]";
    }
    if (value instanceof String s) {
      return s.equals("~") ? "null" : json(s);
    }
    return String.valueOf(value);
  }

  private static String json(String s) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        out.append('\\');
      }
      out.append(c);
    }
    return out.append('"').toString();
  }

  /** Numbers qemu-img refuses fail with qemu-img 7.2's own text (checked on it), exit 1. */
  @net.jqwik.api.Example
  void numbersQemuImgRefusesGiveItsText() throws Exception {
    String text = PRELUDE
        + "  - img: \"create -f raw x.raw create\"\n"
        + "    error: \"qemu-img: Invalid image size specified. You may use k, M, G, T, P or E"
        + " suffixes for\\nqemu-img: kilobytes, megabytes, gigabytes, terabytes, petabytes and"
        + " exabytes.\"\n"
        + "  - img: \"resize new.raw abc\"\n"
        + "    error: \"qemu-img: Parameter 'size' expects a non-negative number below 2^64\"\n"
        + "  - img: \"bitmap --add -g abc img.qcow2 b\"\n"
        + "    error: \"qemu-img: Invalid granularity specified.\"\n"
        + "  - img: \"create -f qcow2 -o cluster_size=abc z.qcow2 1M\"\n"
        + "    error: \"qemu-img: z.qcow2: Parameter 'cluster_size' expects a non-negative\"\n";
    Scenario scenario = ScenarioParser.parseText(text, "f.yaml", Set.of());
    CaseResult result = new ScenarioRunner(new ScenarioRunner.Options(null, false, Set.of(),
        null, false), new PrintStream(new ByteArrayOutputStream(), true,
        StandardCharsets.UTF_8)).simulate(scenario, scenario.cases().get(0));
    assertThat(result.failure()).as(result.log()).isNull();
  }
}
