package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Goal: the bucketed chunk map answers get, ceilingKey and ordered walks as a TreeMap does
 * through splits, emptied buckets and keys below every bucket. Method: seeded random puts and
 * removes over a small and a wide key range, each applied alike to a TreeMap, compared after
 * every step at the touched key and a random probe, and whole at intervals (with a copy, which
 * shares the chunk arrays until either side changes one: both sides then clone).
 */
class ChunkMapTest {
  @Test
  void matchesATreeMap() {
    for (long range : new long[] {600, 1L << 40}) {
      SplittableRandom random = new SplittableRandom(range);
      ChunkMap map = new ChunkMap();
      TreeMap<Long, Page[]> ref = new TreeMap<>();
      for (int step = 0; step < 40_000; step++) {
        long key = step % 7 == 0 && !ref.isEmpty() ? ref.firstKey() - random.nextLong(0, 3)
            : random.nextLong(range);
        key = Math.max(0, key);
        if (random.nextInt(100) < (step < 20_000 ? 70 : 35)) {
          Page[] chunk = new Page[PageImage.CHUNK_PAGES];
          map.put(key, chunk);
          ref.put(key, chunk);
        } else {
          map.remove(key);
          ref.remove(key);
        }
        assertThat(map.get(key)).isSameAs(ref.get(key));
        long probe = random.nextLong(range);
        assertThat(map.get(probe)).isSameAs(ref.get(probe));
        Long ceiling = ref.ceilingKey(probe);
        assertThat(map.ceilingKey(probe)).isEqualTo(ceiling == null ? -1 : ceiling);
        assertThat(map.size()).isEqualTo(ref.size());
        if (step % 5_000 == 0) {
          List<Long> keys = new ArrayList<>();
          map.forEach((k, c) -> {
            assertThat(c).isSameAs(ref.get(k));
            keys.add(k);
          });
          assertThat(keys).containsExactlyElementsOf(ref.keySet());
          // A copy shares the arrays until one side asks to change one: that side gets a clone.
          ChunkMap copy = map.copy();
          for (Map.Entry<Long, Page[]> e : ref.entrySet()) {
            assertThat(copy.get(e.getKey())).isSameAs(e.getValue());
            Page[] own = copy.writable(e.getKey());
            assertThat(own).isNotSameAs(e.getValue()).hasSize(e.getValue().length);
            assertThat(copy.writable(e.getKey())).isSameAs(own);
            assertThat(map.get(e.getKey())).isSameAs(e.getValue());
          }
          // The original, whose keys were all just looked up (its position hints are fresh),
          // must clone a shared array too, not hand out the one the copy still holds.
          for (Map.Entry<Long, Page[]> e : ref.entrySet()) {
            Page[] mine = map.writable(e.getKey());
            assertThat(mine).isNotSameAs(e.getValue());
            assertThat(map.get(e.getKey())).isSameAs(mine);
            e.setValue(mine);
          }
        }
      }
    }
  }
}
