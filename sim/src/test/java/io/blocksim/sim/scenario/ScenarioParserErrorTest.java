package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Every class of malformed scenario file gives a located error with the exact message, and all
 * problems of a file are reported together. Expected messages are written from the contract and
 * style.md §6 ("path:line:col: error: message", a caret under the column, "hint:" when a fix is
 * known).
 */
class ScenarioParserErrorTest {
  private static final Set<String> VARIANTS = Set.of("bug:write-unchanged-dirties", "proposal:x");

  /** Returns the problems of a file, each as "line:col: message" plus " | hint" if any. */
  static List<String> errors(String text) {
    ScenarioError error =
        catchThrowableOfType(
            () -> ScenarioParser.parseText(text, "s.yaml", VARIANTS), ScenarioError.class);
    assertThat(error).as("parsing should fail:\n%s", text).isNotNull();
    return error.problems().stream()
        .map(p -> p.location().line() + ":" + p.location().column() + ": " + p.message()
            + (p.hint() == null ? "" : " | " + p.hint()))
        .collect(Collectors.toList());
  }

  static String rendered(String text) {
    ScenarioError error =
        catchThrowableOfType(
            () -> ScenarioParser.parseText(text, "scenarios/backup/bitmap-sync.yaml", VARIANTS),
            ScenarioError.class);
    assertThat(error).isNotNull();
    return error.render();
  }

  private static final String KINDS =
      "a step takes exactly one of: qmp, io, await, advance, observe, expect, crash, img, log,"
          + " nbd-map";

  // ---- The style guide's own example, rendered in full ----

  @Test
  void unknownStepKeyRendersInTheStyleGuideFormat() {
    String text = """
        name: x
        steps:
          - log: one
          - log: two
          - log: three
          - log: four
          - log: five
          - log: six
          - wait: {job: j1, status: pending}
        """;
    assertThat(rendered(text))
        .isEqualTo("""
            scenarios/backup/bitmap-sync.yaml:9:5: error: unknown step key 'wait' in step 7
                  - wait: {job: j1, status: pending}
                    ^
            hint: did you mean 'await'?
            """);
  }

  @Test
  void renderingShowsNoEmptySourceLineAndShowsTabsAsOneColumn() {
    assertThat(rendered(""))
        .isEqualTo(
            "scenarios/backup/bitmap-sync.yaml:1:1: error: the file is empty\n"
                + "hint: a scenario needs at least 'name' and 'steps'\n");
    assertThat(rendered("name: x\nsteps:\n  - log: \"a\tb ${x}\"\n"))
        .isEqualTo(
            "scenarios/backup/bitmap-sync.yaml:3:15: error: unknown matrix variable 'x'\n"
                + "      - log: \"a b ${x}\"\n"
                + "                  ^\n"
                + "hint: the scenario has no matrix; write $${ for a literal '${'\n");
  }

  @Test
  void closeMisspellingOfAStepKindGetsADidYouMeanHint() {
    assertThat(errors("name: x\nsteps:\n  - qpm: query-jobs\n  - awiat: {job: j, status: ready}\n"))
        .containsExactly(
            "3:5: unknown step key 'qpm' in step 1 | did you mean 'qmp'?",
            "4:5: unknown step key 'awiat' in step 2 | did you mean 'await'?");
  }

  // ---- The file as a whole ----

  @Test
  void emptyFileAndCommentOnlyFile() {
    String expected = "1:1: the file is empty | a scenario needs at least 'name' and 'steps'";
    assertThat(errors("")).containsExactly(expected);
    assertThat(errors("# nothing here\n\n")).containsExactly(expected);
  }

  @Test
  void documentThatIsNotAMap() {
    assertThat(errors("- a\n- b\n"))
        .containsExactly(
            "1:1: a scenario file must be a map with keys such as 'name' and 'steps', but found"
                + " a list");
    assertThat(errors("hello\n"))
        .containsExactly(
            "1:1: a scenario file must be a map with keys such as 'name' and 'steps', but found"
                + " a string 'hello'");
  }

  @Test
  void secondDocumentIsRefused() {
    assertThat(errors("name: x\nsteps: [{log: x}]\n---\nname: y\n"))
        .containsExactly(
            "3:1: a scenario file holds one YAML document, but a second one starts here"
                + " | remove the second '---' and what follows it, or move it to its own file");
  }

  @Test
  void unknownTopLevelKeys() {
    assertThat(errors("name: x\nstpes: []\nsteps: [{log: x}]\ngroup: quick\n"))
        .containsExactly(
            "2:1: unknown top-level key 'stpes' | did you mean 'steps'?",
            "4:1: unknown top-level key 'group' | a scenario takes: name, description, seed,"
                + " sim-only, semantics, checkers, schedules, matrix, images, steps");
  }

  @Test
  void missingNameAndSteps() {
    assertThat(errors("description: d\n"))
        .containsExactly(
            "1:1: the scenario needs 'name'", "1:1: the scenario needs 'steps'");
  }

  @Test
  void badNames() {
    assertThat(errors("name: |\n  two\n  lines\nsteps: [{log: x}]\n"))
        .containsExactly("1:7: 'name' must be one line | put the details in 'description'");
    assertThat(errors("name: ''\nsteps: [{log: x}]\n"))
        .containsExactly("1:7: 'name' must not be empty");
    assertThat(errors("name: [a]\nsteps: [{log: x}]\n"))
        .containsExactly("1:7: 'name' must be a string, but found a list");
    assertThat(errors("name:\nsteps: [{log: x}]\n"))
        .containsExactly("1:6: 'name' must be a string, but found null");
  }

  @Test
  void badSchedules() {
    assertThat(errors("name: x\nschedules: 0\nsteps: [{log: x}]\n"))
        .containsExactly("2:12: 'schedules' must be between 1 and 1000, but found 0"
            + " | schedules: 8 lets diff try eight schedules of a racy case");
    assertThat(errors("name: x\nschedules: many\nsteps: [{log: x}]\n"))
        .containsExactly("2:12: 'schedules' must be an integer, but found a string 'many'");
  }

  @Test
  void badSeeds() {
    assertThat(errors("name: x\nseed: '7'\nsteps: [{log: x}]\n"))
        .containsExactly("2:7: 'seed' must be an integer, but found a string '7'");
    assertThat(errors("name: x\nseed: -1\nsteps: [{log: x}]\n"))
        .containsExactly("2:7: 'seed' must not be negative, but found -1");
    assertThat(errors("name: x\nseed: 1.5\nsteps: [{log: x}]\n"))
        .containsExactly("2:7: 'seed' must be an integer, but found a floating-point number '1.5'");
    assertThat(errors("name: x\nseed: 9223372036854775808\nsteps: [{log: x}]\n"))
        .containsExactly(
            "2:7: 'seed' '9223372036854775808' is out of range (a 64-bit signed integer is"
                + " needed)");
  }

  @Test
  void simOnlyMustBeABooleanOfYaml12() {
    assertThat(errors("name: x\nsim-only: yes\nsteps: [{log: x}]\n"))
        .containsExactly(
            "2:11: 'sim-only' must be true or false, but found a string 'yes'"
                + " | scenario files use YAML 1.2: only true and false are booleans");
  }

  @Test
  void semanticsProblems() {
    assertThat(errors("""
            name: x
            sim-only: false
            semantics: [bug:write-unchanged-dirty, bug:nothing, proposal:x, proposal:x, [a]]
            steps: [{log: x}]
            """))
        .containsExactly(
            "2:11: 'sim-only' is false, but a scenario with semantics variants is sim-only"
                + " | remove 'sim-only: false'",
            "3:13: unknown semantics variant 'bug:write-unchanged-dirty'"
                + " | did you mean 'bug:write-unchanged-dirties'?",
            "3:40: unknown semantics variant 'bug:nothing' | known variants:"
                + " bug:write-unchanged-dirties, proposal:x ('blocksim semantics' describes them)",
            "3:65: semantics variant 'proposal:x' is listed twice",
            "3:77: each item of 'semantics' must be a string, but found a list");
  }

  @Test
  void stepsMustBeANonEmptyListOfMaps() {
    assertThat(errors("name: x\nsteps: []\n")).containsExactly("2:8: 'steps' must not be empty");
    assertThat(errors("name: x\nsteps: {log: x}\n"))
        .containsExactly("2:8: 'steps' must be a list, but found a map");
    assertThat(errors("name: x\nsteps:\n  - log: x\n  - qmp\n"))
        .containsExactly(
            "4:5: step 2 must be a map, but found a string 'qmp'"
                + " | for example: - qmp: query-block-jobs");
  }

  // ---- YAML features that are refused ----

  @Test
  void duplicateKeysAreReportedAtTheSecondKey() {
    assertThat(errors("name: x\nsteps:\n  - qmp: x\n    args: {a: 1, b: 2, a: 3}\n"))
        .containsExactly("4:24: duplicate key 'a' (first written at line 4) | remove one of them");
  }

  @Test
  void tagsAreRefused() {
    String hint = " | remove the tag; quote the value if it must be a string";
    assertThat(errors("""
            name: !!str x
            steps:
              - qmp: !foo x
                args: !!python/object:os.system {a: 1}
            """))
        .containsExactly(
            "1:7: YAML tags are not supported ('!!str')" + hint,
            "3:10: YAML tags are not supported ('!foo')" + hint,
            "4:11: YAML tags are not supported ('!!python/object:os.system')" + hint);
  }

  @Test
  void nonSpecificTagIsRefusedToo() {
    assertThat(errors("name: ! x\nsteps: [{log: x}]\n"))
        .containsExactly(
            "1:7: YAML tags are not supported ('!')"
                + " | remove the tag; quote the value if it must be a string");
  }

  @Test
  void anchorsAliasesAndMergeKeysAreRefused() {
    String hint = " | write the value out, or use a matrix variable for what changes";
    assertThat(errors("""
            name: x
            steps:
              - qmp: x
                args: &common {a: 1}
              - qmp: y
                args: *common
            """))
        .containsExactly(
            "4:11: YAML anchors are not supported ('&common')" + hint,
            "6:11: YAML aliases are not supported ('*common')" + hint);
    assertThat(errors("name: x\nsteps:\n  - qmp: x\n    args: {<<: {a: 1}, b: 2}\n"))
        .containsExactly("4:12: YAML merge keys ('<<') are not supported | write the keys out");
  }

  @Test
  void keysMustBeNames() {
    assertThat(errors("name: x\n? [a, b]\n: c\n~: d\nsteps: [{log: x}]\n"))
        .containsExactly(
            "2:3: a key must be a name, but found a list", "4:1: a key must be a name, but found null");
  }

  @Test
  void syntaxErrorsAreLocated() {
    assertThat(errors("name: x\nsteps: [{log: x}\n"))
        .containsExactly(
            "3:1: invalid YAML: expected ',' or ']', but got <stream end> (while parsing a flow"
                + " sequence that starts at line 2, column 8)");
    assertThat(errors("name: x\n\tsteps: []\n"))
        .containsExactly(
            "2:1: invalid YAML: a tab cannot start a token here"
                + " | indent with spaces; YAML does not allow tabs there");
    assertThat(errors("name: x\nsteps:\n  - qmp: x\n    args: {mode: ${mode}}\n"))
        .containsExactly(
            "4:19: invalid YAML: expected ',' or '}', but got { (while parsing a flow mapping"
                + " that starts at line 4, column 11)"
                + " | quote strings that hold '${var}' inside a flow map: \"${var}\"");
    assertThat(errors("name: 'x\n"))
        .containsExactly(
            "2:1: invalid YAML: found unexpected end of stream (while scanning a quoted scalar"
                + " that starts at line 1, column 7)");
  }

  @Test
  void invalidUtf8AndControlCharacters() {
    byte[] bad = "name: x\nsteps: [{log: \u00e9".getBytes(StandardCharsets.UTF_8);
    byte[] content = java.util.Arrays.copyOf(bad, bad.length + 2);
    content[bad.length] = (byte) 0xC3; // a lead byte followed by an ASCII byte
    content[bad.length + 1] = 'x';
    ScenarioError error =
        catchThrowableOfType(
            () -> ScenarioParser.parse(content, "s.yaml", VARIANTS), ScenarioError.class);
    assertThat(error.problems()).hasSize(1);
    assertThat(error.problems().get(0).location()).isEqualTo(new Location("s.yaml", 2, 16));
    assertThat(error.problems().get(0).message()).isEqualTo("the file is not valid UTF-8");

    assertThat(errors("name: x\nsteps: [{log: \"a\u0001b\"}]\n"))
        .containsExactly("2:17: invalid character U+0001: YAML allows only printable characters");
  }

  @Test
  void deepNestingIsRefused() {
    String deep = "[".repeat(60) + "]".repeat(60);
    assertThat(errors("name: x\nsteps:\n  - qmp: x\n    args: {a: " + deep + "}\n"))
        .containsExactly("4:52: values are nested more than 40 levels deep");
  }

  // ---- Steps ----

  @Test
  void nbdMapReadsOnlyAllocationAndDirtyBitmapContexts() {
    assertThat(errors("name: x\nsteps:\n  - nbd-map: e\n    context: qemu:allocation-depth\n"
        + "  - nbd-map: e\n    context: \"qemu:dirty-bitmap:\"\n"))
        .containsExactly(
            "4:14: 'qemu:allocation-depth' is not a metadata context blocksim reads"
                + " | use base:allocation or qemu:dirty-bitmap:NAME",
            "6:14: 'qemu:dirty-bitmap:' is not a metadata context blocksim reads"
                + " | use base:allocation or qemu:dirty-bitmap:NAME");
  }

  @Test
  void stepWithoutActionAndStepWithTwo() {
    assertThat(errors("name: x\nsteps:\n  - comment: nothing\n  - qmp: x\n    io: write 0 1\n"))
        .containsExactly(
            "3:5: step 1 has no action | " + KINDS,
            "5:5: a step takes exactly one action, but step 2 has: qmp, io"
                + " | split it into 2 steps");
  }

  @Test
  void keyOfAStepKindWithoutItsActionNamesTheKind() {
    assertThat(errors("name: x\nsteps:\n  - args: {}\n  - error: boom\n"))
        .containsExactly(
            "3:5: step 1 has 'args' but no action | 'args' belongs to a qmp step; add 'qmp: ...'",
            "4:5: step 2 has 'error' but no action"
                + " | 'error' belongs to a qmp step or an io step or an img step or a nbd-map"
                + " step; add 'qmp: ...'");
  }

  @Test
  void unknownKeysOfAStepKind() {
    assertThat(errors("name: x\nsteps:\n  - qmp: x\n    arg: {}\n    node: d0\n"))
        .containsExactly(
            "4:5: unknown key 'arg' in step 1 (a qmp step) | did you mean 'args'?",
            "5:5: unknown key 'node' in step 1 (a qmp step)"
                + " | a qmp step takes: qmp, args, error, when, comment");
  }

  @Test
  void qmpStepProblems() {
    assertThat(errors("""
            name: x
            steps:
              - qmp: "blockdev-add {driver: qcow2}"
              - qmp: x
                args: [1]
              - qmp: x
                args: {rate: 1.5, big: 18446744073709551615, ok: [0.5]}
            """))
        .containsExactly(
            "3:10: 'blockdev-add {driver: qcow2}' is not a QMP command name | write the command"
                + " name only, such as block-dirty-bitmap-add, and its arguments under 'args'",
            "5:11: 'args' in step 2 must be a map, but found a list",
            "7:18: floating-point values are not supported, but found '1.5'"
                + " | use an integer, or quote the value to make it a string",
            "7:28: a QMP value '18446744073709551615' is out of range (a 64-bit signed integer is"
                + " needed)",
            "7:55: floating-point values are not supported, but found '0.5'"
                + " | use an integer, or quote the value to make it a string");
  }

  @Test
  void ioStepNeedsANode() {
    assertThat(errors("name: x\nsteps:\n  - io: write 0 64k\n  - io: ''\n    node: [a]\n"))
        .containsExactly(
            "3:5: step 1 (an io step) needs 'node'",
            "4:9: 'io' in step 2 must not be empty",
            "5:11: 'node' in step 2 must be a string, but found a list");
  }

  @Test
  void awaitProblems() {
    assertThat(errors("""
            name: x
            steps:
              - await: {job: j1, event: X}
              - await: {status: ready}
              - await: {job: j1}
              - await: {job: j1, status: finished}
              - await: {job: j1, status: concluede}
              - await: {job: j1, status: ready, timeout: 1s}
                timeout: 2s
              - await: {job: j1, stauts: ready, timeout: 0s}
              - await: {event: X, data: [1], timeout: "10"}
              - await: j1
            """))
        .containsExactly(
            "3:22: 'await' of step 1 has both 'job' and 'event' | await one thing per step",
            "4:12: 'await' of step 2 needs 'job' (with 'status') or 'event'"
                + " | for example: await: {job: j1, status: concluded}",
            "5:12: 'await' of step 3 needs 'status'",
            "6:30: 'status' in step 4 must be a job status, but found 'finished' | job statuses:"
                + " undefined, created, running, paused, ready, standby, waiting, pending,"
                + " aborting, concluded, null",
            "7:30: 'status' in step 5 must be a job status, but found 'concluede'"
                + " | did you mean 'concluded'?",
            "9:5: 'timeout' of step 6 is given twice (also at line 8) | keep one of them",
            "10:12: 'await' of step 7 needs 'status'",
            "10:22: unknown key 'stauts' in 'await' of step 7 | did you mean 'status'?",
            "10:46: 'timeout' in step 7 must be more than 0",
            "11:29: 'data' in step 8 must be a map, but found a list",
            "11:43: 'timeout' in step 8: invalid duration '10': a duration needs a unit (units:"
                + " ns, us, ms, s, m) | for example 10ms, 2s, 1.5s",
            "12:12: 'await' in step 9 must be a map, but found a string 'j1'");
  }

  @Test
  void advanceDurations() {
    assertThat(errors("""
            name: x
            steps:
              - advance: 10
              - advance: -1s
              - advance: 1.5ns
              - advance: 10 ms
              - advance: 9999999999999999999ns
            """))
        .containsExactly(
            "3:14: 'advance' in step 1: invalid duration '10': a duration needs a unit (units: ns,"
                + " us, ms, s, m) | for example 10ms, 2s, 1.5s",
            "4:14: 'advance' in step 2: invalid duration '-1s': a duration cannot be negative"
                + " | for example 10ms, 2s, 1.5s",
            "5:14: 'advance' in step 3: invalid duration '1.5ns': not a whole number of"
                + " nanoseconds | for example 10ms, 2s, 1.5s",
            "6:14: 'advance' in step 4: invalid duration '10 ms': write a number and a unit, such"
                + " as 10ms or 2s (units: ns, us, ms, s, m) | for example 10ms, 2s, 1.5s",
            "7:14: 'advance' in step 5: invalid duration '9999999999999999999ns': longer than"
                + " 9223372036854775807ns | for example 10ms, 2s, 1.5s");
  }

  @Test
  void observeAndLogProblems() {
    assertThat(errors("name: x\nsteps:\n  - observe: l\n    images: d0\n  - log:\n  - img: ''\n"))
        .containsExactly(
            "4:13: 'images' in step 1 must be a list, but found a string 'd0'",
            "5:9: 'log' in step 2 must be a string, but found null",
            "6:10: 'img' in step 3 must not be empty");
  }

  @Test
  void expectProblems() {
    assertThat(errors("""
            name: x
            steps:
              - expect: {}
              - expect: {bitmaps: {}}
              - expect:
                  bitmap: {node: d0, count: lots, sha256: ABC}
              - expect:
                  bitmap: {node: d0, name: "", sha256: %s, recording: 1, absent: true}
              - expect:
                  job: {status: done}
                  images-equal: [a, b, c]
                  event: {name: X}
            """.formatted("0".repeat(64))))
        .containsExactly(
            "3:13: 'expect' of step 1 checks nothing"
                + " | it takes: bitmap, job, images-equal, event",
            "4:14: unknown check 'bitmaps' in 'expect' of step 2 | did you mean 'bitmap'?",
            "6:15: 'bitmap' check of step 3 needs 'name'"
                + " | write name: \"\" for the anonymous bitmap",
            "6:33: 'count' in 'bitmap' check of step 3: invalid size 'lots': use a number with an"
                + " optional suffix k, M, G, T, P or E (powers of 1024), or hex such as 0x10000"
                + " | for example 65536, 64k, 1M, 0x10000",
            "6:47: 'sha256' in 'bitmap' check of step 3 must be 64 lower-case hex digits, but"
                + " found 'ABC' | copy it from the output of x-debug-block-dirty-bitmap-sha256",
            "8:36: 'sha256' cannot be checked on a bitmap that must be absent"
                + " | remove 'sha256' or 'absent: true'",
            "8:44: an anonymous bitmap has no sha256 | name the bitmap, or drop 'sha256'",
            "8:110: 'recording' cannot be checked on a bitmap that must be absent"
                + " | remove 'recording' or 'absent: true'",
            "8:121: 'recording' in 'bitmap' check of step 4 must be true or false, but found an"
                + " integer '1'",
            "10:12: 'job' check of step 5 needs 'id'",
            "10:21: 'status' in 'job' check of step 5 must be a job status, but found 'done'"
                + " | job statuses: undefined, created, running, paused, ready, standby, waiting,"
                + " pending, aborting, concluded, null",
            "11:21: 'images-equal' in step 5 must name exactly 2 nodes or image files, but found 3"
                + " | for example: images-equal: [drive0, target0]",
            "12:14: 'event' check of step 5 needs 'event'",
            "12:15: unknown key 'name' in 'event' check of step 5"
                + " | an event check takes: event, data");
  }

  @Test
  void crashProblems() {
    assertThat(errors("name: x\nsteps:\n  - crash: power\n  - crash: powr\n  - crash: reboot\n"))
        .containsExactly(
            "3:12: 'crash: power' is sim-only, but the scenario is not"
                + " | add 'sim-only: true' at the top level",
            "4:12: 'crash' in step 2 must be 'process' or 'power', but found 'powr'"
                + " | did you mean 'power'?",
            "5:12: 'crash' in step 3 must be 'process' or 'power', but found 'reboot'");
    assertThat(errors("name: x\nsim-only: false\nsteps:\n  - crash: power\n"))
        .containsExactly(
            "4:12: 'crash: power' is sim-only, but the scenario is not"
                + " | add 'sim-only: true' at the top level");
  }

  // ---- Matrix, substitution and when ----

  @Test
  void matrixProblems() {
    assertThat(errors("""
            name: x
            matrix:
              mode: on-success
              empty: []
              nested: [[a]]
              rate: [0.5]
              twice: [a, b, a]
              "bad name": [a]
            steps: [{log: x}]
            """))
        .containsExactly(
            "3:9: matrix variable 'mode' needs a non-empty list of values, but found a string"
                + " 'on-success' | for example: mode: [a, b]",
            "4:10: matrix variable 'empty' needs a non-empty list of values, but found an empty"
                + " list | for example: empty: [a, b]",
            "5:12: a value of matrix variable 'nested' must be a scalar, but found a list",
            "6:10: floating-point values are not supported, but found '0.5'"
                + " | use an integer, or quote the value to make it a string",
            "7:17: matrix variable 'twice' lists the value 'a' twice",
            "8:3: matrix variable name 'bad name' is not valid"
                + " | use letters, digits, '_' and '-', starting with a letter or '_'");
    assertThat(errors("name: x\nmatrix: [a]\nsteps: [{log: x}]\n"))
        .containsExactly("2:9: 'matrix' must be a map, but found a list");
  }

  @Test
  void tooManyCasesIsAnError() {
    StringBuilder text = new StringBuilder("name: x\nmatrix:\n");
    for (int i = 0; i < 11; i++) {
      text.append("  v").append(i).append(": [a, b]\n");
    }
    text.append("steps: [{log: \"${v0}\"}]\n");
    assertThat(errors(text.toString()))
        .containsExactly(
            "3:3: the matrix makes 2048 cases; at most 1024 are allowed"
                + " | split the scenario, or use fewer values");
  }

  @Test
  void substitutionProblemsPointInsideTheString() {
    assertThat(errors("""
            name: x
            matrix:
              mode: [a, b]
            steps:
              - log: "mode is ${mod} and ${other}"
              - log: "unterminated ${mode"
              - log: "bad ${a b}"
            """))
        .containsExactly(
            "5:19: unknown matrix variable 'mod' | did you mean 'mode'?",
            "5:30: unknown matrix variable 'other' | matrix variables: mode",
            "6:24: unterminated '${' in 'unterminated ${mode'"
                + " | write ${name}, or $${ for a literal '${'",
            "7:15: '${a b}' is not a valid variable reference"
                + " | write ${name}, or $${ for a literal '${'");
  }

  @Test
  void referenceToABrokenVariableIsNotReportedAgain() {
    assertThat(errors("""
            name: x
            matrix:
              mode: a
              fmt: [qcow2]
            images:
              - {path: a, format: "${mode}", size: 1M}
            steps:
              - log: "${mode}"
              - crash: "${mode}"
              - crash: "${fmt}"
            """))
        .containsExactly(
            "3:9: matrix variable 'mode' needs a non-empty list of values, but found a string 'a'"
                + " | for example: mode: [a, b]",
            "10:12: 'crash' in step 3 must be 'process' or 'power', but found 'qcow2'");
  }

  @Test
  void whenProblems() {
    assertThat(errors("""
            name: x
            matrix:
              mode: [a, b]
              n: [1, 2]
            steps:
              - log: x
                when: {mdoe: a}
              - log: x
                when: {mode: c}
              - log: x
                when: {n: "1"}
              - log: x
                when: [mode]
              - log: x
                when: {}
            """))
        .containsExactly(
            "7:12: 'when' in step 1 names 'mdoe', which is not a matrix variable"
                + " | did you mean 'mode'?",
            "9:18: 'c' is not a value of matrix variable 'mode' | its values are: a, b",
            "11:15: '1' is not a value of matrix variable 'n' | its values are: 1, 2"
                + " (compare as YAML values: quote or unquote it)",
            "13:12: 'when' in step 4 must be a map, but found a string 'mode'",
            "15:11: 'when' in step 5 is empty | for example: when: {mode: a}");
    assertThat(errors("name: x\nsteps:\n  - log: x\n    when: {mode: a}\n"))
        .containsExactly(
            "4:12: 'when' in step 1 names 'mode', which is not a matrix variable"
                + " | the scenario has no matrix");
  }

  @Test
  void errorsThatDependOnTheCaseNameTheValue() {
    assertThat(errors("""
            name: x
            matrix:
              size: [1M, 2X, 3Y]
            images:
              - {path: a.raw, format: raw, size: "${size}"}
            steps: [{log: x}]
            """))
        .containsExactly(
            "5:38: 'size' in image 1: invalid size '2X': use a number with an optional suffix k,"
                + " M, G, T, P or E (powers of 1024), or hex such as 0x10000"
                + " | for example 65536, 64k, 1M, 0x10000",
            "5:38: 'size' in image 1: invalid size '3Y': use a number with an optional suffix k,"
                + " M, G, T, P or E (powers of 1024), or hex such as 0x10000"
                + " | for example 65536, 64k, 1M, 0x10000");
  }

  @Test
  void theSameProblemInEveryCaseIsReportedOnce() {
    assertThat(errors("name: x\nmatrix: {a: [1, 2, 3]}\nsteps:\n  - qmp: x\n    bad: 1\n"))
        .containsExactly(
            "5:5: unknown key 'bad' in step 1 (a qmp step)"
                + " | a qmp step takes: qmp, args, error, when, comment");
  }

  @Test
  void caseWhoseStepsAreAllSkippedIsAnError() {
    assertThat(errors("name: x\nmatrix: {a: [1, 2]}\nsteps:\n  - log: x\n    when: {a: 1}\n"))
        .containsExactly("4:3: case 'a=2' has no steps: 'when' skips all of them");
  }

  // ---- Images ----

  @Test
  void imageProblems() {
    assertThat(errors("""
            name: x
            images:
              - {path: a.qcow2, format: qcow2, sise: 1M}
              - {path: /abs.qcow2, format: vmdk, size: 0}
              - {path: ../up.raw, format: raw, size: -1}
              - {path: b.raw, format: raw, size: 8E, cluster-size: 64k}
              - {path: c.qcow2, format: qcow2, size: 64MB, cluster-size: 1000}
              - {path: d.qcow2, format: qcow2, size: 1M, backing: missing.qcow2}
              - {path: e.raw, format: raw, size: 1M, backing-format: raw}
              - {path: f.raw, format: raw, size: 0x10000}
              - {path: ./f.raw, format: raw, size: 1M}
              - {path: g.qcow2, format: qcow2, size: 1M, backing: f.raw, backing-format: qcow2}
              - {path: h.raw, format: raw, size: 1M, backing: f.raw}
              - {path: ., format: raw, size: 1M}
              - a.raw
            steps: [{log: x}]
            """))
        .containsExactly(
            "3:5: image 1 needs 'size'",
            "3:36: unknown key 'sise' in image 1 | did you mean 'size'?",
            "4:12: 'path' in image 2: path '/abs.qcow2' is absolute | paths are relative to the"
                + " scenario's scratch directory and may not leave it",
            "4:32: 'format' in image 2 must be qcow2 or raw, but found 'vmdk'",
            "5:12: 'path' in image 3: path '../up.raw' has a '..' component | paths are relative"
                + " to the scenario's scratch directory and may not leave it",
            "5:42: 'size' in image 3: invalid size '-1': a size cannot be negative"
                + " | for example 65536, 64k, 1M, 0x10000",
            "6:38: 'size' in image 4: invalid size '8E': more than 9223372036854775807 bytes"
                + " | for example 65536, 64k, 1M, 0x10000",
            "6:56: 'cluster-size' in image 4 is for qcow2 images, not raw",
            "7:42: 'size' in image 5: invalid size '64MB': use a number with an optional suffix"
                + " k, M, G, T, P or E (powers of 1024), or hex such as 0x10000"
                + " | for example 65536, 64k, 1M, 0x10000",
            "7:62: 'cluster-size' in image 5 must be a power of two between 512 and 2M, but found"
                + " 1000",
            "8:55: 'backing' in image 6 is 'missing.qcow2', which is not an image listed before"
                + " it | list the backing image first; images are created in order",
            "9:42: 'backing-format' in image 7 needs 'backing'",
            "11:12: image 9: image './f.raw' is listed twice",
            "12:78: 'backing-format' in image 10 is qcow2, but image 'f.raw' is raw",
            "13:51: image 11 is raw, and a raw image has no backing file",
            "14:12: 'path' in image 12: path '.' names the scratch directory itself"
                + " | paths are relative to the scenario's scratch directory and may not leave it",
            "15:5: image 13 must be a map, but found a string 'a.raw'");
  }

  // ---- Limits ----

  @Test
  void oversizedFileIsRefusedBeforeParsingAndAMissingFileIsAnIoError(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path big = dir.resolve("big.yaml");
    java.nio.file.Files.write(big, new byte[ScenarioParser.MAX_FILE_BYTES + 1]);
    assertThatThrownBy(() -> ScenarioParser.parse(big, "big.yaml"))
        .isInstanceOf(ScenarioError.class)
        .hasMessage(
            "big.yaml:1:1: error: the file has 1048577 bytes; a scenario file may have at most"
                + " 1048576\n");
    assertThatThrownBy(() -> ScenarioParser.parse(dir.resolve("none.yaml"), "none.yaml"))
        .isInstanceOf(java.nio.file.NoSuchFileException.class);
  }

  @Test
  void atMostTwentyProblemsAreReportedAndTheRestCounted() {
    StringBuilder text = new StringBuilder("name: x\nsteps:\n");
    for (int i = 0; i < 25; i++) {
      text.append("  - bad").append(i).append(": 1\n");
    }
    List<String> errors = errors(text.toString());
    assertThat(errors).hasSize(21);
    assertThat(errors.get(0)).startsWith("3:5: unknown step key 'bad0' in step 1");
    assertThat(errors.get(19)).startsWith("22:5: unknown step key 'bad19' in step 20");
    assertThat(errors.get(20))
        .isEqualTo("23:5: too many errors; 5 more not shown | fix the errors above and run again");
  }
}
