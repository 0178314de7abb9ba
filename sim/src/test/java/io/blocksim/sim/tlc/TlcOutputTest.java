package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Reading TLC's tool-mode output: facts come from the message codes that carry them. */
class TlcOutputTest {
  private static final String VIOLATION = String.join("\n",
      "@!@!@STARTMSG 2262:0 @!@!@",
      "TLC2 Version 2.18 of 20 March 2023",
      "@!@!@ENDMSG 2262 @!@!@",
      "@!@!@STARTMSG 2110:1 @!@!@",
      "Invariant NoLostWrite is violated.",
      "@!@!@ENDMSG 2110 @!@!@",
      "@!@!@STARTMSG 2200:0 @!@!@",
      "Progress(3) at 2026-01-01: 50 states generated (1,000 s/min), 40 distinct states found",
      "@!@!@ENDMSG 2200 @!@!@",
      "@!@!@STARTMSG 2199:0 @!@!@",
      "1,113 states generated, 1,099 distinct states found, 69 states left on queue.",
      "@!@!@ENDMSG 2199 @!@!@",
      "@!@!@STARTMSG 2194:0 @!@!@",
      "The depth of the complete state graph search is 4.",
      "@!@!@ENDMSG 2194 @!@!@",
      "");

  @Test
  void takesStateCountsFromTheStatisticsMessageOnly() {
    TlcOutput output = TlcOutput.parse(VIOLATION);

    // The progress message (2200) has counts too; only 2199 gives the final ones.
    assertThat(output.stateCounts()).containsExactly(1113, 1099);
  }

  @Test
  void findsTheViolatedInvariantAndTheDepth() {
    TlcOutput output = TlcOutput.parse(VIOLATION);

    assertThat(output.violatedInvariant()).isEqualTo("NoLostWrite");
    assertThat(output.depth()).isEqualTo(4);
  }

  @Test
  void keepsTheTextWithoutTheMarkers() {
    TlcOutput output = TlcOutput.parse(VIOLATION);

    assertThat(output.plainText()).contains("Invariant NoLostWrite is violated.")
        .doesNotContain("@!@!@");
    assertThat(output.messages()).extracting(TlcOutput.Message::code)
        .containsExactly(2262, 2110, 2200, 2199, 2194);
  }

  @Test
  void reportsUnknownCountsAsMinusOne() {
    TlcOutput output = TlcOutput.parse("Error: Parsing or semantic analysis failed.\n");

    assertThat(output.stateCounts()).containsExactly(-1, -1);
    assertThat(output.depth()).isEqualTo(-1);
    assertThat(output.violatedInvariant()).isNull();
  }

  @Test
  void errorTextHasSanysUnframedErrorsAndTlcsErrorMessagesOnly() {
    TlcOutput output = TlcOutput.parse(String.join("\n",
        "@!@!@STARTMSG 2220:0 @!@!@", "Starting SANY...", "@!@!@ENDMSG 2220 @!@!@",
        "Parsing file /x/Broken.tla", "Semantic processing of module Broken",
        "line 4, col 14 to line 4, col 31 of module Broken", "",
        "Unknown operator: `Nope'.", "",
        "@!@!@STARTMSG 3002:1 @!@!@", "Parsing or semantic analysis failed.",
        "@!@!@ENDMSG 3002 @!@!@",
        "@!@!@STARTMSG 2186:0 @!@!@", "Finished in 2730ms", "@!@!@ENDMSG 2186 @!@!@", ""));

    assertThat(output.errorText()).isEqualTo("line 4, col 14 to line 4, col 31 of module Broken\n"
        + "Unknown operator: `Nope'.\nParsing or semantic analysis failed.");
  }
}
