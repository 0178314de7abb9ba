package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Parsing values in TLC's printed form into Java values. */
class TlaValuesTest {

  @Test
  void parsesScalars() {
    assertThat(TlaValues.parse("-12")).isEqualTo(-12L);
    assertThat(TlaValues.parse("TRUE")).isEqualTo(true);
    assertThat(TlaValues.parse("\"a\\\"b\"")).isEqualTo("a\"b");
  }

  @Test
  void parsesSetsAndSequences() {
    assertThat(TlaValues.parse("{0, 1}")).isEqualTo(Set.of(0L, 1L));
    assertThat(TlaValues.parse("{}")).isEqualTo(Set.of());
    assertThat(TlaValues.parse("<<\"undefined\", \"created\">>"))
        .isEqualTo(List.of("undefined", "created"));
    assertThat(TlaValues.parse("<< >>")).isEqualTo(List.of());
  }

  @Test
  void parsesRecordsAndFunctionsAsMaps() {
    Object bitmaps = TlaValues.parse("[bitmap0 |-> {1}, b1 |-> {}]");
    Object disk = TlaValues.parse("(0 :> 2 @@ 1 :> 0)");

    assertThat(bitmaps).isEqualTo(Map.of("bitmap0", Set.of(1L), "b1", Set.of()));
    assertThat(disk).isEqualTo(Map.of(0L, 2L, 1L, 0L));
  }

  @Test
  void parsesNestedValuesAsTlcPrintsThemAcrossLines() {
    Object jobs = TlaValues.parse(
        "[ j1 |->\n  [ status |-> \"running\",\n    group |-> {\"j1\"},\n    W |-> {} ] ]");

    assertThat(jobs).isEqualTo(
        Map.of("j1", Map.of("status", "running", "group", Set.of("j1"), "W", Set.of())));
  }

  @Test
  void reportsWhereTheTextStopsBeingAValue() {
    assertThatThrownBy(() -> TlaValues.parse("{1, 2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("',' expected at column 6");
    assertThatThrownBy(() -> TlaValues.parse("{1} x"))
        .hasMessageStartingWith("unexpected text after the value");
  }
}
