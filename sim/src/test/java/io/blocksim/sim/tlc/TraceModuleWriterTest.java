package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The TLA+ text of generated trace modules and the checks on their input. */
class TraceModuleWriterTest {
  private static final List<AbstractState> TRACE = List.of(
      AbstractState.after("").bitmap("bitmap0").successorsObserved().jobsObserved().build(),
      AbstractState.after("CreateTxn").node("drive0").bitmap("bitmap0").successor("bitmap0")
          .job("j1", "created").build(),
      AbstractState.after("Write").node("drive0").bitmap("bitmap0").successor("bitmap0", 1, 0)
          .job("j1", "created").build());

  @Test
  void writesEachStateAsARecordOfTlaValues() {
    String module = TraceModuleWriter.moduleText("Trace7", TraceTarget.BITMAP_SYNC, TRACE, 2);

    assertThat(module).startsWith("---- MODULE Trace7 ----\n")
        .contains("EXTENDS BitmapSyncTrace, TLC")
        .contains("[node |-> \"drive0\", action |-> \"Write\", bitmaps |-> ((\"bitmap0\" :> {}))"
            + ", successors |-> ((\"bitmap0\" :> {0, 1}))"
            + ", jobs |-> ((\"j1\" :> \"created\"))"
            + ", seen |-> {\"bitmaps\", \"jobs\", \"successors\"}"
            + ", cluster |-> -1, bitmap |-> \"\", source |-> \"\""
            + ", txn |-> [logged |-> FALSE, grouped |-> FALSE, jobs |-> [x \\in {} |-> <<>>]]"
            + ", failed |-> {}, cancelled |-> {}, clusters |-> {}]")
        .endsWith(">>\n====\n");
  }

  @Test
  void leavesUnobservedFactsOutOfSeen() {
    List<AbstractState> trace = List.of(AbstractState.after("").job("j1", "created").build());

    String module = TraceModuleWriter.moduleText("T", TraceTarget.JOB_LIFECYCLE, trace, 0);

    assertThat(module).contains("bitmaps |-> [x \\in {} |-> {}]").contains("seen |-> {\"jobs\"}");
  }

  @Test
  void bindsTheSpecsConstantsToWhatTheTraceUses() {
    String config = TraceModuleWriter.configText(TraceTarget.BITMAP_SYNC, TRACE, 3);

    assertThat(config).contains("Node = \"drive0\"\n").contains("Clusters <- TraceClusters\n")
        .contains("Bitmaps = {\"bitmap0\"}\n").contains("Jobs = {\"j1\"}\n")
        .contains("MaxWrites = 3\n").contains("Trace <- TraceLog\n")
        .contains("INVARIANTS NoLostWrite OutcomeTable RestoreChain\n");
  }

  @Test
  void quotesStringsForTla() {
    assertThat(TraceModuleWriter.string("a\"b\\c")).isEqualTo("\"a\\\"b\\\\c\"");
  }

  @Test
  void refusesAnActionTheSpecDoesNotHave() {
    List<AbstractState> trace = List.of(AbstractState.after("Explode").build());

    assertThatThrownBy(() -> TraceModuleWriter.moduleText("T", TraceTarget.BITMAP_SYNC, trace, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("state 1: unknown BitmapSync action 'Explode'");
  }

  @Test
  void takesEveryBitmapNameTheTraceMentionsAsTheSpecsBitmaps() {
    // A run may add and remove bitmaps: observed bitmaps are compared by name.
    List<AbstractState> trace = List.of(
        AbstractState.after("").bitmap("a").build(),
        AbstractState.after("").bitmap("a").bitmap("b").build(),
        AbstractState.after("").build().withAction("Merge", -1, "c", "a"));

    String config = TraceModuleWriter.configText(TraceTarget.BITMAP_SYNC, trace, 1);

    assertThat(config).contains("Bitmaps = {\"a\", \"b\", \"c\"}\n");
  }

  @Test
  void writesTheLoggedParametersOfAnAction() {
    java.util.TreeMap<String, List<String>> txn = new java.util.TreeMap<>();
    txn.put("j1", List.of("b0", "full", "always"));
    txn.put(AbstractState.GROUPED, List.of());
    List<AbstractState> trace = List.of(AbstractState.after("").build(),
        new AbstractState("", "CreateTxn", null, null, null, -1, "", "", txn, null, null),
        AbstractState.after("").build().withAction("Write", 1, "", ""));

    String module = TraceModuleWriter.moduleText("T", TraceTarget.BITMAP_SYNC, trace, 2);

    assertThat(module).contains("txn |-> [logged |-> TRUE, grouped |-> TRUE, jobs |-> "
        + "((\"j1\" :> <<\"b0\", \"full\", \"always\">>))]").contains("cluster |-> 1,");
  }

  @Test
  void refusesATraceOverSeveralNodes() {
    List<AbstractState> trace = List.of(
        AbstractState.after("").node("drive0").bitmap("a").build(),
        AbstractState.after("").node("drive1").bitmap("a").build());

    assertThatThrownBy(() -> TraceModuleWriter.moduleText("T", TraceTarget.BITMAP_SYNC, trace, 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("several nodes [drive0, drive1]");
  }

  @Test
  void refusesAClusterOutsideTheDisk() {
    List<AbstractState> trace = List.of(AbstractState.after("").bitmap("a", 2).build());

    assertThatThrownBy(() -> TraceModuleWriter.moduleText("T", TraceTarget.BITMAP_SYNC, trace, 2))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("state 1: bitmap 'a' has cluster 2, outside 0..1");
  }
}
