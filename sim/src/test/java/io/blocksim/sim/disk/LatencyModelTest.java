package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import io.blocksim.sim.prng.Prng;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Goal: latencies are integer, seeded, within the base range, plus the transfer time. */
class LatencyModelTest {

  @Test
  void defaultModelStaysBetween50And200MicrosecondsPlusTransfer() {
    LatencyModel model = new LatencyModel(new Prng(1));
    for (int i = 0; i < 1000; i++) {
      assertThat(model.latencyNs(0)).isBetween(50_000L, 200_000L);
      // 1 MiB at 1 GB/s is 1,048,576 ns.
      assertThat(model.latencyNs(1 << 20)).isBetween(1_098_576L, 1_248_576L);
    }
  }

  @Test
  void sameSeedGivesTheSameLatencies() {
    List<Long> first = new ArrayList<>();
    List<Long> second = new ArrayList<>();
    LatencyModel a = new LatencyModel(new Prng(3));
    LatencyModel b = new LatencyModel(new Prng(3));
    for (int i = 0; i < 100; i++) {
      first.add(a.applyAsLong(i * 512L));
      second.add(b.applyAsLong(i * 512L));
    }
    assertThat(first).isEqualTo(second);
    assertThat(first).doesNotHaveDuplicates(); // Jitter is really drawn.
  }

  @Test
  void transferTimeIsExactIntegerArithmetic() {
    LatencyModel model = new LatencyModel(new Prng(0), 0, 0, 3);
    assertThat(model.latencyNs(1)).isEqualTo(333_333_333L);
    assertThat(model.latencyNs(4)).isEqualTo(1_333_333_333L);
    assertThat(model.latencyNs(Long.MAX_VALUE)).isEqualTo(Long.MAX_VALUE); // Saturates.
  }

  @Test
  void invertedBaseRangeIsABug() {
    assertThatThrownBy(() -> new LatencyModel(new Prng(0), 10, 5, 1))
        .isInstanceOf(InvariantViolation.class);
  }
}
