package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.statistics.Statistics;

/**
 * No input makes the parser fail with anything but a ScenarioError. Method: take valid files that
 * use every feature, apply random edits (delete a range, insert a YAML-significant token,
 * duplicate, drop or swap lines, flip bytes), parse, and require either a Scenario or a
 * ScenarioError whose problems are all located inside the file and render without error.
 */
class ScenarioParserFuzzTest {
  private static final Set<String> VARIANTS = Set.of("bug:write-unchanged-dirties");
  private static final List<String> SEEDS =
      List.of(resource("everything.yaml"), resource("contract-example.yaml"));

  /** Fragments that change YAML structure or reach a parser rule. */
  private static final List<String> TOKENS =
      List.of(
          ":", ": ", "- ", "{", "}", "[", "]", ",", "\n", "  ", "\t", "'", "\"", "#", "? ",
          "---\n", "...\n", "|", ">", "~", "null", "true", "1.5", "-1", "0x", "0o7", "1e9",
          "99999999999999999999", "${mode}", "${nope}", "${", "$${", "&a ", "*a", "!foo ",
          "!!str ", "!!python/object:x ", "<<: ", "%YAML 1.2\n", "\u0000", "\u0085", "\uFEFF",
          "\u00e9", "\ud83d\ude00", "\r", "when: {mode: always}", "qmp: x", "await: ",
          "crash: power", "timeout: 0s", "size: 8E", "path: ../x", "status: null", "=", "\\",
          "/etc/passwd", "../", "json:{", "file:", "filename: /x", "-o backing_file=/x ",
          "-b ../y ");

  record Edit(int kind, int position, int length, int token) {}

  @Provide
  Arbitrary<Edit> edits() {
    return Combinators.combine(
            Arbitraries.integers().between(0, 6),
            Arbitraries.integers().between(0, 1 << 20),
            Arbitraries.integers().between(1, 40),
            Arbitraries.integers().between(0, TOKENS.size() - 1))
        .as(Edit::new);
  }

  @Property(tries = 2000)
  void textEditsGiveAScenarioOrAScenarioError(
      @ForAll @Size(min = 1, max = 8) List<@net.jqwik.api.From("edits") Edit> edits,
      @ForAll boolean contractExample) {
    String text = SEEDS.get(contractExample ? 1 : 0);
    for (Edit edit : edits) {
      text = apply(text, edit);
    }
    checkOutcome(text.getBytes(StandardCharsets.UTF_8), text);
  }

  @Property(tries = 500)
  void byteFlipsGiveAScenarioOrAScenarioError(
      @ForAll @Size(min = 1, max = 6) List<@net.jqwik.api.From("edits") Edit> flips) {
    byte[] bytes = SEEDS.get(0).getBytes(StandardCharsets.UTF_8);
    for (Edit flip : flips) {
      bytes[flip.position() % bytes.length] ^= (byte) (1 << (flip.length() % 8));
    }
    checkOutcome(bytes, null);
  }

  /**
   * Names that leave the scratch directory, in every form a QMP argument or a qemu-img command
   * line can carry them.
   */
  private static final List<String> ESCAPES =
      List.of(
          "/etc/passwd", "../outside", "a/../../b", "file:/tmp/x", "nbd:unix:/tmp/s",
          "json:{\\\"driver\\\":\\\"file\\\",\\\"filename\\\":\\\"/etc/passwd\\\"}",
          "json:{\\\"file.filename\\\":\\\"../x\\\"}");

  /** QMP arguments with one file name at some depth: {@code %s} is where the name goes. */
  private static final List<String> QMP_ARGS =
      List.of(
          "{qmp: blockdev-add, args: {node-name: n, driver: file, filename: \"%s\"}}",
          "{qmp: blockdev-add, args: {node-name: n, driver: qcow2, file: {driver: file,"
              + " filename: \"%s\"}}}",
          "{qmp: blockdev-add, args: {node-name: n, driver: qcow2, file: n0, backing: {driver:"
              + " qcow2, file: {driver: file, filename: \"%s\"}}}}",
          "{qmp: blockdev-add, args: {node-name: n, driver: qcow2, file: n0,"
              + " data-file: \"%s\"}}",
          "{qmp: blockdev-add, args: {node-name: n, driver: blkdebug, config: \"%s\","
              + " image: n0}}",
          "{qmp: blockdev-create, args: {job-id: c, options: {driver: file, filename: \"%s\","
              + " size: 0}}}",
          "{qmp: blockdev-create, args: {job-id: c, options: {driver: qcow2, file: n0,"
              + " size: 65536, backing-file: \"%s\"}}}",
          "{qmp: drive-backup, args: {device: n0, target: \"%s\", sync: full}}",
          "{qmp: drive-mirror, args: {device: n0, target: \"%s\", sync: full}}",
          "{qmp: blockdev-snapshot-sync, args: {node-name: n0, snapshot-file: \"%s\"}}",
          "{qmp: block-stream, args: {device: n0, backing-file: \"%s\"}}",
          "{qmp: block-commit, args: {device: n0, top: \"%s\"}}",
          "{qmp: change-backing-file, args: {device: n0, image-node-name: n0,"
              + " backing-file: \"%s\"}}",
          "{qmp: transaction, args: {actions: [{type: drive-backup, data: {device: n0,"
              + " target: \"%s\", sync: full}}]}}",
          "{qmp: object-add, args: {qom-type: secret, id: s0, file: \"%s\"}}",
          "{qmp: nbd-server-start, args: {addr: {type: unix, data: {path: \"%s\"}}}}",
          "{qmp: chardev-add, args: {id: c0, backend: {type: file, data: {out: \"%s\"}}}}",
          "{qmp: chardev-add, args: {id: c0, backend: {type: null, data: {logfile:"
              + " \"%s\"}}}}",
          "{qmp: chardev-add, args: {id: c0, backend: {type: serial, data: {device: \"%s\"}}}}",
          "{qmp: chardev-change, args: {id: c0, backend: {type: pipe, data: {device: \"%s\"}}}}",
          "{qmp: blockdev-add, args: {node-name: r, driver: rbd, pool: p, image: i,"
              + " conf: \"%s\"}}",
          "{qmp: qom-set, args: {path: /objects/s0, property: file, value: \"%s\"}}",
          "{qmp: blockdev-add, args: {node-name: q, driver: quorum, vote-threshold: 1,"
              + " children: [{driver: file, filename: \"%s\"}]}}",
          "{qmp: blockdev-reopen, args: {options: [{node-name: n0, driver: qcow2, file:"
              + " {driver: file, filename: \"%s\"}}]}}",
          "{qmp: x-blockdev-amend, args: {job-id: a, node-name: n0, options: {driver: qcow2,"
              + " data-file: \"%s\"}}}",
          "{qmp: blockdev-snapshot-sync, args: {node-name: n0, snapshot-file: \"%s\"}}",
          "{qmp: block-export-add, args: {type: fuse, id: e, node-name: n0,"
              + " mountpoint: \"%s\"}}",
          "{qmp: transaction, args: {actions: [{type: blockdev-snapshot-sync, data: {device:"
              + " n0, snapshot-file: \"%s\"}}]}}");

  /** qemu-img command lines with one file name: {@code %s} is where the name goes. */
  private static final List<String> IMG_COMMANDS =
      List.of(
          "create -f raw %s 4k", "create -f qcow2 -b %s -F raw x.qcow2 4k",
          "create -f qcow2 -o backing_file=%s,backing_fmt=raw x.qcow2",
          "create -f qcow2 -o cluster_size=4096 -o data_file=%s x.qcow2 1M",
          "create -f qcow2 -F raw -qb%s x.qcow2", "qemu-img info %s", "info --output=json %s",
          "check -r all %s", "compare x.qcow2 %s", "compare %s x.qcow2",
          "rebase -u -b %s -F raw x.qcow2", "rebase -u -b x.raw %s",
          "bitmap --add %s b0", "bitmap --merge b0 -b %s -F qcow2 x.qcow2 b1",
          "bitmap --merge b0 --source-file=%s x.qcow2 b1", "info -- %s",
          "amend -o compat=1.1 %s", "amend -f qcow2 -o data_file=%s x.qcow2",
          "resize --shrink %s -1M", "convert -O raw x.qcow2 %s", "convert -O qcow2 %s y.qcow2",
          "convert -f qcow2 -O raw -B %s x.qcow2 y.qcow2", "commit -b %s x.qcow2",
          "rebase -b %s x.qcow2", "create -f qcow2 -obacking_file=%s x.qcow2",
          "create -f raw -- %s 4k", "create -f qcow2 -o backing_fmt=raw,backing_file=%s x.qcow2",
          "bitmap --merge b0 --source-fi=%s x.qcow2 b1");

  /**
   * Every QMP argument and qemu-img operand that names a file is checked, at any depth and in
   * any spelling: an escaping name is refused with a located error that points into the line
   * that has it, whatever else the file holds.
   */
  @Property(tries = 400)
  void namesThatLeaveTheScratchDirectoryAreRefusedWherever(
      @ForAll("escapes") String escape, @ForAll boolean img, @ForAll("indexes") int template,
      @ForAll("indexes") int position) {
    String step = img
        ? "{img: \"" + String.format(IMG_COMMANDS.get(template % IMG_COMMANDS.size()),
            "'" + escape + "'") + "\"}"
        : String.format(QMP_ARGS.get(template % QMP_ARGS.size()), escape);
    List<String> steps = new java.util.ArrayList<>(
        List.of("  - log: before", "  - {qmp: query-block}", "  - log: after"));
    steps.add(position % (steps.size() + 1), "  - " + step);
    String text = "name: escape\nimages:\n  - {path: x.qcow2, format: qcow2, size: 1M}\n"
        + "steps:\n" + String.join("\n", steps) + "\n";
    int line = 5 + position % (steps.size());
    try {
      ScenarioParser.parseText(text, "f.yaml", VARIANTS);
      throw new AssertionError("accepted:\n" + text);
    } catch (ScenarioError e) {
      assertThat(e.problems()).as(text).hasSize(1);
      ScenarioError.Problem problem = e.problems().get(0);
      assertThat(problem.location().line()).as(text).isEqualTo(line);
      assertThat(problem.message()).as(text).containsAnyOf(
          "is absolute", "'..' component", "protocol prefix",
          "not a valid json: pseudo-filename");  // -o splits a json: name at its commas
      assertThat(problem.hint()).isEqualTo(ScenarioPaths.HINT);
    }
  }

  /** The same steps with names inside the directory parse: the check refuses only escapes. */
  @Property(tries = 100)
  void namesInsideTheScratchDirectoryAreAccepted(
      @ForAll boolean img, @ForAll("indexes") int template,
      @ForAll("insideNames") String name) {
    // A json: name in a command line needs shell quoting and ",," in -o; the QMP forms test it.
    net.jqwik.api.Assume.that(!(img && name.startsWith("json:")));
    String step = img
        ? "{img: \"" + String.format(IMG_COMMANDS.get(template % IMG_COMMANDS.size()), name)
            + "\"}"
        : String.format(QMP_ARGS.get(template % QMP_ARGS.size()), name);
    String text = "name: inside\nsteps:\n  - " + step + "\n";
    try {
      assertThat(ScenarioParser.parseText(text, "f.yaml", VARIANTS).cases()).hasSize(1);
    } catch (ScenarioError e) {
      throw new AssertionError(text + e.render());
    }
  }

  @Provide
  Arbitrary<String> escapes() {
    return Arbitraries.of(ESCAPES);
  }

  @Provide
  Arbitrary<Integer> indexes() {
    return Arbitraries.integers().between(0, 1000);
  }

  @Provide
  Arbitrary<String> insideNames() {
    return Arbitraries.of("a.qcow2", "dir/b.raw", "./c", "x..y", "d/./e.qcow2",
        "json:{\\\"driver\\\":\\\"file\\\",\\\"filename\\\":\\\"in.raw\\\"}");
  }

  private static void checkOutcome(byte[] content, String text) {
    try {
      Scenario scenario = ScenarioParser.parse(content, "f.yaml", VARIANTS);
      assertThat(scenario.cases()).isNotEmpty();
      Statistics.collect("parsed");
    } catch (ScenarioError e) {
      // Shows that edits reach past the YAML layer into the scenario rules.
      Statistics.collect(
          e.problems().get(0).message().startsWith("invalid YAML") ? "YAML syntax error"
              : "scenario error");
      assertThat(e.problems()).isNotEmpty().hasSizeLessThanOrEqualTo(Problems.LIMIT + 1);
      int lines = text == null ? Integer.MAX_VALUE : Problems.splitLines(text).size();
      for (ScenarioError.Problem p : e.problems()) {
        assertThat(p.location().path()).isEqualTo("f.yaml");
        assertThat(p.location().line()).isBetween(1, lines);
        assertThat(p.location().column()).isPositive();
        assertThat(p.message()).isNotBlank();
      }
      assertThat(e.render()).startsWith("f.yaml:");
    }
  }

  static String apply(String text, Edit edit) {
    int at = text.isEmpty() ? 0 : edit.position() % (text.length() + 1);
    int end = Math.min(text.length(), at + edit.length());
    List<String> lines = List.of(text.split("\n", -1));
    int line = edit.position() % lines.size();
    int other = edit.length() % lines.size();
    switch (edit.kind()) {
      case 0:
        return text.substring(0, at) + text.substring(end);
      case 1:
      case 2:
        return text.substring(0, at) + TOKENS.get(edit.token()) + text.substring(at);
      case 3:
        return text.substring(0, at) + TOKENS.get(edit.token()) + text.substring(end);
      case 4: {
        List<String> copy = new java.util.ArrayList<>(lines);
        copy.add(line, lines.get(line));
        return String.join("\n", copy);
      }
      case 5: {
        List<String> copy = new java.util.ArrayList<>(lines);
        copy.remove(line);
        return String.join("\n", copy);
      }
      default: {
        List<String> copy = new java.util.ArrayList<>(lines);
        copy.set(line, lines.get(other));
        copy.set(other, lines.get(line));
        return String.join("\n", copy);
      }
    }
  }

  private static String resource(String name) {
    try (InputStream in = ScenarioParserFuzzTest.class.getResourceAsStream("/scenario/" + name)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
