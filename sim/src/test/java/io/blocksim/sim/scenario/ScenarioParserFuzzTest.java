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
          "crash: power", "timeout: 0s", "size: 8E", "path: ../x", "status: null", "=", "\\");

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
