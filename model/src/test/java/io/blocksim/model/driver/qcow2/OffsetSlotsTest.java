package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Goal: the qcow2 cache's offset-to-slot index answers as a map would through puts, overwrites
 * and removals (backward-shift deletion in long probe runs, growth). Method: 200,000 seeded random
 * operations on cluster-aligned offsets from a small range (so probe runs collide and wrap),
 * each checked against a HashMap, then every offset of the range looked up.
 */
class OffsetSlotsTest {
  @Test
  void answersAsAMapDoes() {
    SplittableRandom random = new SplittableRandom(64);
    OffsetSlots slots = new OffsetSlots(4);
    Map<Long, Integer> reference = new HashMap<>();
    for (int step = 0; step < 200_000; step++) {
      long offset = (1 + random.nextInt(3_000)) * 65536L;
      int kind = random.nextInt(10);
      if (kind < 5) {
        int slot = random.nextInt(1 << 20);
        slots.put(offset, slot);
        reference.put(offset, slot);
      } else if (kind < 8) {
        slots.remove(offset);
        reference.remove(offset);
      } else if (kind < 9) {
        assertThat(slots.get(offset)).isEqualTo(reference.getOrDefault(offset, -1));
      } else if (random.nextInt(5_000) == 0) {
        slots.clear();
        reference.clear();
      }
    }
    for (long i = 0; i <= 3_000; i++) {
      assertThat(slots.get(i * 65536L)).as("offset %d", i * 65536L)
          .isEqualTo(reference.getOrDefault(i * 65536L, -1));
    }
    slots.remove(0);
    assertThat(slots.get(0)).isEqualTo(-1);
  }
}
