package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** A list of {@code when} filters runs the step when any of them matches. */
class WhenAlternativesTest {
  private static final String FILE = String.join("\n",
      "name: when alternatives",
      "matrix:",
      "  sync: [bitmap, full]",
      "  mode: [never, always]",
      "steps:",
      "  - log: everywhere",
      "  - log: not full+never",
      "    when: [{sync: bitmap}, {mode: always}]",
      "");

  @Test
  void aListOfFiltersIsAnOr() throws Exception {
    Scenario s = ScenarioParser.parseText(FILE, "t.yaml", Set.of());
    assertThat(s.cases()).extracting(Scenario.Case::name).containsExactly(
        "sync=bitmap,mode=never", "sync=bitmap,mode=always", "sync=full,mode=never",
        "sync=full,mode=always");
    assertThat(s.cases()).extracting(c -> c.steps().size()).containsExactly(2, 2, 1, 2);
  }

  @Test
  void anEmptyListIsAnError() {
    String bad = FILE.replace("[{sync: bitmap}, {mode: always}]", "[]");
    assertThatThrownBy(() -> ScenarioParser.parseText(bad, "t.yaml", Set.of()))
        .isInstanceOf(ScenarioError.class)
        .hasMessageContaining("t.yaml:8:11: error: 'when' in step 2 lists no filters");
  }

  @Test
  void everyAlternativeIsChecked() {
    String bad = FILE.replace("{mode: always}", "{mode: sometimes}");
    assertThatThrownBy(() -> ScenarioParser.parseText(bad, "t.yaml", Set.of()))
        .isInstanceOf(ScenarioError.class)
        .hasMessageContaining("'sometimes' is not a value of matrix variable 'mode'");
    assertThat(List.of()).isEmpty();
  }
}
