package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.port.Backend.ImageSpec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Valid scenario files give exactly the records the contract describes. Each test writes a small
 * file, parses it, and compares the result with records built by hand from the contract
 * (scenario-format.md), never with a previous output.
 */
class ScenarioParserTest {
  private static final Set<String> VARIANTS = Set.of("bug:write-unchanged-dirties", "proposal:x");
  private static final long SIXTY_SECONDS_NS = 60_000_000_000L;

  static Scenario parse(String text) throws ScenarioError {
    return ScenarioParser.parseText(text, "scenarios/t.yaml", VARIANTS);
  }

  static Location at(int line, int column) {
    return new Location("scenarios/t.yaml", line, column);
  }

  /** Builds a LinkedHashMap from alternating keys and values, to compare order too. */
  static Map<String, Object> map(Object... keysAndValues) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      out.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return out;
  }

  @Test
  void contractExampleExpandsIntoSixCasesWithTheFirstVariableVaryingSlowest(@TempDir Path dir)
      throws Exception {
    Path file = Path.of(getClass().getResource("/scenario/contract-example.yaml").toURI());
    Scenario scenario = ScenarioParser.parse(file, "scenarios/backup/x.yaml");

    assertThat(scenario.path()).isEqualTo("scenarios/backup/x.yaml");
    assertThat(scenario.name()).isEqualTo("bitmap survives a failed backup");
    assertThat(scenario.description()).isEqualTo("The example of scenario-format.md.\n");
    assertThat(scenario.seed()).isEqualTo(7);
    assertThat(scenario.simOnly()).isFalse();
    assertThat(scenario.semantics()).isEmpty();
    assertThat(scenario.matrix())
        .containsExactly(
            Map.entry("mode", List.of("on-success", "always", "never")),
            Map.entry("failure", List.of("none", "intermediate")));
    assertThat(scenario.cases())
        .extracting(Scenario.Case::name)
        .containsExactly(
            "mode=on-success,failure=none",
            "mode=on-success,failure=intermediate",
            "mode=always,failure=none",
            "mode=always,failure=intermediate",
            "mode=never,failure=none",
            "mode=never,failure=intermediate");

    Scenario.Case always = scenario.cases().get(2);
    assertThat(always.variables()).containsExactly(
        Map.entry("mode", "always"), Map.entry("failure", "none"));
    assertThat(always.images())
        .containsExactly(
            new ImageSpec("img.qcow2", "qcow2", 64L << 20, null, null, null, Map.of()),
            new ImageSpec("top.qcow2", "qcow2", 64L << 20, "img.qcow2", "qcow2", null, Map.of()));
    String p = "scenarios/backup/x.yaml";
    assertThat(always.steps())
        .containsExactly(
            new Step.Qmp(1, new Location(p, 14, 5), null, "blockdev-add",
                map("node-name", "drive0", "driver", "qcow2",
                    "file", map("driver", "file", "filename", "img.qcow2")), null),
            new Step.Io(2, new Location(p, 16, 5), null, "write -P0x49 0 64k", "drive0", null),
            new Step.Qmp(3, new Location(p, 18, 5), null, "block-dirty-bitmap-add",
                map("node", "drive0", "name", "bitmap0", "granularity", 65536L), null),
            new Step.Qmp(4, new Location(p, 20, 5), null, "blockdev-backup",
                map("job-id", "j1", "device", "drive0", "target", "t1", "sync", "bitmap",
                    "bitmap", "bitmap0", "bitmap-mode", "always", "auto-finalize", false), null),
            new Step.AwaitJob(5, new Location(p, 23, 5), null, "j1", "pending", SIXTY_SECONDS_NS),
            new Step.Observe(6, new Location(p, 24, 5), null, "before-finalize", List.of()),
            new Step.Qmp(7, new Location(p, 25, 5), null, "job-finalize", map("id", "j1"), null),
            new Step.AwaitJob(8, new Location(p, 27, 5), null, "j1", "concluded",
                SIXTY_SECONDS_NS),
            new Step.Expect(9, new Location(p, 28, 5), null,
                new Step.ExpectBitmap("drive0", "bitmap0", 0L, null, null, null, null, null, null,
                    false),
                null, null, null));
  }

  @Test
  void qmpArgumentsKeepFileOrderAtEveryLevel() throws Exception {
    Scenario s = parse("""
        name: order
        steps:
          - qmp: x
            args: {z: 1, a: {y: 2, b: 3}, m: [{q: 1, c: 2}]}
        """);
    Step.Qmp qmp = (Step.Qmp) s.cases().get(0).steps().get(0);
    assertThat(qmp.args().keySet()).containsExactly("z", "a", "m");
    assertThat(List.copyOf(((Map<?, ?>) qmp.args().get("a")).keySet()))
        .isEqualTo(List.of("y", "b"));
    Map<?, ?> inList = (Map<?, ?>) ((List<?>) qmp.args().get("m")).get(0);
    assertThat(List.copyOf(inList.keySet())).isEqualTo(List.of("q", "c"));
  }

  @Test
  void scenarioWithoutMatrixHasOneUnnamedCaseAndDefaults() throws Exception {
    Scenario s = parse("""
        name: plain
        steps:
          - log: hello
        """);
    assertThat(s)
        .isEqualTo(new Scenario("scenarios/t.yaml", "plain", "", 0, false, List.of(), Map.of(),
            List.of(new Scenario.Case("", Map.of(), List.of(),
                List.of(new Step.Log(1, at(3, 5), null, "hello"))))));
  }

  @Test
  void qmpValuesBecomePlainJavaValuesUnderTheYaml12CoreSchema() throws Exception {
    Scenario s = parse("""
        name: types
        steps:
          - qmp: x
            args:
              str: abc
              quoted-int: "12"
              int: 12
              negative: -3
              hex: 0x10
              octal: 0o17
              yes-word: yes
              on-word: on
              off-word: off
              t: true
              f: False
              nothing: null
              tilde: ~
              empty:
              list: [1, two, [3]]
              big: 9223372036854775807
            comment: all kinds
        """);
    Step.Qmp qmp = (Step.Qmp) s.cases().get(0).steps().get(0);
    Map<String, Object> expected = map(
        "str", "abc", "quoted-int", "12", "int", 12L, "negative", -3L, "hex", 16L,
        "octal", 15L, "yes-word", "yes", "on-word", "on", "off-word", "off", "t", true,
        "f", false, "nothing", null, "tilde", null, "empty", null,
        "list", List.of(1L, "two", List.of(3L)), "big", Long.MAX_VALUE);
    assertThat(qmp.args()).containsExactlyEntriesOf(expected);
    assertThat(qmp.comment()).isEqualTo("all kinds");
    assertThat(qmp.args().get("int")).isInstanceOf(Long.class);
  }

  @Test
  void exactReferenceKeepsTheValueTypeAndEmbeddedReferenceInsertsTheWrittenText()
      throws Exception {
    Scenario s = parse("""
        name: substitution
        matrix:
          flag: [true]
          size: [0x10000]
          label: ["a b"]
          nothing: [null]
        steps:
          - qmp: x
            args:
              typed-bool: ${flag}
              quoted-bool: "${flag}"
              typed-int: ${size}
              typed-null: ${nothing}
              embedded: "write 0 ${size} (${label}) ${flag}"
              literal: "$${flag} costs $5"
              key-${flag}: kept
        """);
    Scenario.Case c = s.cases().get(0);
    assertThat(c.name()).isEqualTo("flag=true,size=0x10000,label=a b,nothing=null");
    assertThat(c.variables())
        .containsExactlyEntriesOf(map("flag", true, "size", 65536L, "label", "a b",
            "nothing", null));
    Step.Qmp qmp = (Step.Qmp) c.steps().get(0);
    assertThat(qmp.args())
        .containsExactlyEntriesOf(map(
            "typed-bool", true, "quoted-bool", true, "typed-int", 65536L, "typed-null", null,
            "embedded", "write 0 0x10000 (a b) true", "literal", "${flag} costs $5",
            "key-${flag}", "kept"));
  }

  @Test
  void substitutionReachesImagesAndEveryStepString() throws Exception {
    Scenario s = parse("""
        name: everywhere
        matrix:
          fmt: [qcow2, raw]
        images:
          - {path: "a.${fmt}", format: "${fmt}", size: 1M}
        steps:
          - io: "write 0 ${fmt}"
            node: "n-${fmt}"
            error: "e-${fmt}"
            comment: "c-${fmt}"
          - observe: "o-${fmt}"
            images: ["i-${fmt}"]
          - img: "info a.${fmt}"
          - log: "log ${fmt}"
        """);
    Scenario.Case raw = s.cases().get(1);
    assertThat(raw.name()).isEqualTo("fmt=raw");
    assertThat(raw.images())
        .containsExactly(new ImageSpec("a.raw", "raw", 1L << 20, null, null, null, Map.of()));
    assertThat(raw.steps())
        .containsExactly(
            new Step.Io(1, at(7, 5), "c-raw", "write 0 raw", "n-raw", "e-raw"),
            new Step.Observe(2, at(11, 5), null, "o-raw", List.of("i-raw")),
            new Step.Img(3, at(13, 5), null, "info a.raw"),
            new Step.Log(4, at(14, 5), null, "log raw"));
  }

  @Test
  void whenSelectsStepsAndSkippedStepsKeepTheirNumbers() throws Exception {
    Scenario s = parse("""
        name: when
        matrix:
          mode: [a, b, c]
          n: [1, 2]
        steps:
          - log: always
          - log: only a
            when: {mode: a}
          - log: a or c, and n is 2
            when: {mode: [a, c], n: 2}
          - log: "${mode} never in b"
            when:
              mode: [a, c]
        """);
    assertThat(s.cases()).hasSize(6);
    assertThat(s.cases().get(1).name()).isEqualTo("mode=a,n=2");
    assertThat(s.cases().get(1).steps()).extracting(Step::index).containsExactly(1, 2, 3, 4);
    assertThat(s.cases().get(0).steps()).extracting(Step::index).containsExactly(1, 2, 4);
    assertThat(s.cases().get(2).steps()).extracting(Step::index).containsExactly(1);
    assertThat(s.cases().get(5).steps()).extracting(Step::index).containsExactly(1, 3, 4);
    assertThat(((Step.Log) s.cases().get(5).steps().get(2)).text()).isEqualTo("c never in b");
  }

  @Test
  void whenValuesCompareAsYamlScalars() throws Exception {
    Scenario s = parse("""
        name: scalar comparison
        matrix:
          n: [16, "17"]
        steps:
          - log: int
            when: {n: 0x10}
          - log: string
            when: {n: "17"}
        """);
    assertThat(s.cases().get(0).steps()).extracting(Step::index).containsExactly(1);
    assertThat(s.cases().get(1).steps()).extracting(Step::index).containsExactly(2);
  }

  @Test
  void awaitForms() throws Exception {
    Scenario s = parse("""
        name: awaits
        steps:
          - await: {job: j1, status: null}
          - await: {job: j1, status: concluded, timeout: 1.5s}
          - await: {job: j1, status: ready}
            timeout: 10ms
          - await: {event: BLOCK_JOB_COMPLETED, data: {device: j1, offset: 0}}
          - await: {event: STOP}
            timeout: 2m
        """);
    assertThat(s.cases().get(0).steps())
        .containsExactly(
            new Step.AwaitJob(1, at(3, 5), null, "j1", "null", SIXTY_SECONDS_NS),
            new Step.AwaitJob(2, at(4, 5), null, "j1", "concluded", 1_500_000_000L),
            new Step.AwaitJob(3, at(5, 5), null, "j1", "ready", 10_000_000L),
            new Step.AwaitEvent(4, at(7, 5), null, "BLOCK_JOB_COMPLETED",
                map("device", "j1", "offset", 0L), SIXTY_SECONDS_NS),
            new Step.AwaitEvent(5, at(8, 5), null, "STOP", Map.of(), 120_000_000_000L));
  }

  @Test
  void expectForms() throws Exception {
    String sha = "ab".repeat(32);
    Scenario s = parse("""
        name: expects
        steps:
          - expect:
              bitmap: {node: d0, name: b0, count: 64k, granularity: 0x10000, recording: true,
                       busy: false, persistent: true, inconsistent: false, sha256: %s}
              job: {id: j1, status: concluded, error: Input/output error}
              images-equal: [d0, t0.qcow2]
              event: {event: BLOCK_JOB_COMPLETED, data: {device: j1}}
          - expect:
              bitmap: {node: d0, name: "", count: 0}
          - expect:
              bitmap: {node: d0, name: gone, absent: true}
              job: {id: j2}
              event: {event: STOP}
        """.formatted(sha));
    assertThat(s.cases().get(0).steps())
        .containsExactly(
            new Step.Expect(1, at(3, 5), null,
                new Step.ExpectBitmap("d0", "b0", 65536L, 65536L, true, false, true, false, sha,
                    false),
                new Step.ExpectJob("j1", "concluded", "Input/output error"),
                List.of("d0", "t0.qcow2"),
                new Step.ExpectEvent("BLOCK_JOB_COMPLETED", map("device", "j1"))),
            new Step.Expect(2, at(9, 5), null,
                new Step.ExpectBitmap("d0", "", 0L, null, null, null, null, null, null, false),
                null, null, null),
            new Step.Expect(3, at(11, 5), null,
                new Step.ExpectBitmap("d0", "gone", null, null, null, null, null, null, null,
                    true),
                new Step.ExpectJob("j2", null, null), null,
                new Step.ExpectEvent("STOP", Map.of())));
  }

  @Test
  void remainingStepKinds() throws Exception {
    Scenario s = parse("""
        name: kinds
        sim-only: true
        steps:
          - advance: 10ms
          - advance: 0ns
          - crash: process
          - crash: power
          - img: "compare a.qcow2 b.qcow2"
          - log: ""
          - qmp: query-jobs
            error: not found
          - observe: 1
            images: [d0, t0]
        """);
    assertThat(s.simOnly()).isTrue();
    assertThat(s.cases().get(0).steps())
        .containsExactly(
            new Step.Advance(1, at(4, 5), null, 10_000_000L),
            new Step.Advance(2, at(5, 5), null, 0L),
            new Step.Crash(3, at(6, 5), null, Step.CrashKind.PROCESS),
            new Step.Crash(4, at(7, 5), null, Step.CrashKind.POWER),
            new Step.Img(5, at(8, 5), null, "compare a.qcow2 b.qcow2"),
            new Step.Log(6, at(9, 5), null, ""),
            new Step.Qmp(7, at(10, 5), null, "query-jobs", Map.of(), "not found"),
            new Step.Observe(8, at(12, 5), null, "1", List.of("d0", "t0")));
  }

  @Test
  void nbdMapStepAndImgStepWithAnExpectedError() throws Exception {
    Scenario s = parse("""
        name: map
        steps:
          - nbd-map: exp0
          - nbd-map: exp0
            context: "qemu:dirty-bitmap:b0"
            error: no such
          - img: "convert -n -O qcow2 --bitmaps a.qcow2 b.qcow2"
            error: Bitmap already exists
        """);
    assertThat(s.cases().get(0).steps())
        .containsExactly(
            new Step.NbdMap(1, at(3, 5), null, "exp0", "base:allocation", null),
            new Step.NbdMap(2, at(4, 5), null, "exp0", "qemu:dirty-bitmap:b0", "no such"),
            new Step.Img(3, at(7, 5), null, "convert -n -O qcow2 --bitmaps a.qcow2 b.qcow2",
                "Bitmap already exists"));
  }

  @Test
  void semanticsVariantMakesTheScenarioSimOnlyAndAllowsPowerLoss() throws Exception {
    Scenario s = parse("""
        name: variant
        semantics: [bug:write-unchanged-dirties, proposal:x]
        steps:
          - crash: power
        """);
    assertThat(s.simOnly()).isTrue();
    assertThat(s.semantics()).containsExactly("bug:write-unchanged-dirties", "proposal:x");
  }

  @Test
  void defaultRegistryKnowsTheWriteUnchangedBug(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("v.yaml");
    Files.writeString(file, """
        name: variant
        semantics: [bug:write-unchanged-dirties]
        steps: [{log: x}]
        """);
    assertThat(ScenarioParser.parse(file, "v.yaml").semantics())
        .containsExactly("bug:write-unchanged-dirties");
    assertThat(Semantics.known()).containsKey("bug:write-unchanged-dirties");
  }

  @Test
  void imagesWithBackingClusterSizeAndExplicitFormat() throws Exception {
    Scenario s = parse("""
        name: images
        images:
          - path: dir/base.raw
            format: raw
            size: 0x100000
          - {path: ./mid.qcow2, format: qcow2, size: 1.5M, backing: dir/base.raw,
             cluster-size: 512}
          - {path: top.qcow2, format: qcow2, size: 1G, backing: mid.qcow2,
             backing-format: qcow2, cluster-size: 2M}
          - {path: big.raw, format: raw, size: 9223372036854775296}
        steps: [{log: x}]
        """);
    assertThat(s.cases().get(0).images())
        .containsExactly(
            new ImageSpec("dir/base.raw", "raw", 1L << 20, null, null, null, Map.of()),
            new ImageSpec("./mid.qcow2", "qcow2", 3L << 19, "dir/base.raw", "raw", 512L,
                Map.of()),
            new ImageSpec("top.qcow2", "qcow2", 1L << 30, "mid.qcow2", "qcow2", 2L << 20,
                Map.of()),
            new ImageSpec("big.raw", "raw", ScenarioParser.MAX_IMAGE_SIZE_BYTES, null, null, null,
                Map.of()));
  }

  @Test
  void byteOrderMarkAndCrLfLineEndingsAreAccepted(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("crlf.yaml");
    byte[] body = "name: crlf\r\nsteps:\r\n  - log: x\r\n".getBytes(StandardCharsets.UTF_8);
    byte[] content = new byte[body.length + 3];
    content[0] = (byte) 0xEF;
    content[1] = (byte) 0xBB;
    content[2] = (byte) 0xBF;
    System.arraycopy(body, 0, content, 3, body.length);
    Files.write(file, content);
    Scenario s = ScenarioParser.parse(file, "crlf.yaml");
    assertThat(s.cases().get(0).steps())
        .containsExactly(new Step.Log(1, new Location("crlf.yaml", 3, 5), null, "x"));
  }

  @Test
  void recordsAreImmutable() throws Exception {
    Scenario s = parse("""
        name: immutable
        matrix: {a: [1]}
        steps:
          - qmp: x
            args: {l: [1]}
        """);
    Step.Qmp qmp = (Step.Qmp) s.cases().get(0).steps().get(0);
    assertThat(Arrays.asList(
            tryModify(() -> qmp.args().put("x", 1)),
            tryModify(() -> ((List<Object>) qmp.args().get("l")).add(2)),
            tryModify(() -> s.cases().get(0).steps().clear()),
            tryModify(() -> s.matrix().get("a").add(3)),
            tryModify(() -> s.cases().get(0).variables().clear())))
        .containsOnly(true);
  }

  @Test
  void fuzzSeedFileUsingEveryFeatureParses() throws Exception {
    Path file = Path.of(getClass().getResource("/scenario/everything.yaml").toURI());
    Scenario s = ScenarioParser.parse(file, "everything.yaml");
    assertThat(s.cases()).hasSize(8);
    Scenario.Case rawNoFlag = s.cases().get(3);
    assertThat(rawNoFlag.name()).isEqualTo("mode=on-success,fmt=raw,flag=false");
    // Step 3 needs fmt=qcow2 and step 4 needs flag=true: both skipped here.
    assertThat(rawNoFlag.steps()).extracting(Step::index)
        .containsExactly(1, 2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14);
    assertThat(rawNoFlag.images().get(1))
        .isEqualTo(new ImageSpec("top.qcow2", "qcow2", 64L << 20, "base.raw", "raw", 65536L,
            Map.of()));
    Step.Qmp backup = (Step.Qmp) s.cases().get(0).steps().get(3);
    assertThat(backup.expectedError()).isEqualTo("on-success failed ${literal}");
    assertThat(((Step.Log) rawNoFlag.steps().get(11)).text()).isEqualTo("multi-line\ntext\n");
  }

  @SuppressWarnings("unchecked")
  private static boolean tryModify(Runnable change) {
    try {
      change.run();
      return false;
    } catch (UnsupportedOperationException e) {
      return true;
    }
  }
}
