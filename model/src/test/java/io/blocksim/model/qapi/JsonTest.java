package io.blocksim.model.qapi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.AlphaChars;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** The JSON writer: Python's json.dumps(v, sort_keys=True) and its indent=2 form. */
class JsonTest {
  @Test
  void keysAreSortedAtEveryLevelWhateverTheInsertionOrder() {
    Map<String, Object> inner = Json.object("b", 2, "a", List.of(true, "x\n"));
    Map<String, Object> outer = Json.object("z", null, "c", inner, "A", Map.of());
    assertThat(Json.compact(outer))
        .isEqualTo("{\"A\": {}, \"c\": {\"a\": [true, \"x\\n\"], \"b\": 2}, \"z\": null}");
    assertThat(Json.pretty(outer)).isEqualTo("""
        {
          "A": {},
          "c": {
            "a": [
              true,
              "x\\n"
            ],
            "b": 2
          },
          "z": null
        }""");
  }

  @Property(tries = 200)
  void theOrderOfKeysIsStringOrder(
      @ForAll @Size(max = 30) List<@AlphaChars @Size(max = 4) String> keys) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (String k : keys) {
      map.put(k, 1);
    }
    List<String> expected = new ArrayList<>(map.keySet());
    Collections.sort(expected);
    StringBuilder want = new StringBuilder("{");
    for (String k : expected) {
      want.append(want.length() > 1 ? ", " : "").append('"').append(k).append("\": 1");
    }
    assertThat(Json.compact(map)).isEqualTo(want.append('}').toString());
  }
}
