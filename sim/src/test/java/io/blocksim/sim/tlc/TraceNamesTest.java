package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** --trace-tla names each module by scenario and case, as a TLA+ identifier, never twice. */
class TraceNamesTest {
  @Test
  void aModuleIsNamedByScenarioAndCase() {
    assertThat(TraceNames.module("Trace", "scenarios/backup/x-y.yaml [mode=on-success,n=1]"))
        .isEqualTo("Trace_x_y_mode_on_success_n_1");
    assertThat(TraceNames.module("JobTrace", "scenarios/jobs/plain.yaml"))
        .isEqualTo("JobTrace_plain");
  }

  @Test
  void aNameUsedAlreadyGetsASuffix() {
    String first = TraceNames.module("Trace", "a/twice.yaml [c=1]");
    String second = TraceNames.module("Trace", "b/twice.yaml [c=1]");

    assertThat(first).isEqualTo("Trace_twice_c_1");
    assertThat(second).isEqualTo("Trace_twice_c_1_2");
  }
}
