package io.blocksim.sim.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.port.Backend;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The simulator's shortcut for observations gives what query-named-block-nodes gives for the
 * members observations read (node-name, dirty-bitmaps), node for node in QEMU's order, through
 * the states a bitmap goes through (persistent, disabled, frozen behind a running backup).
 */
class SimBackendNamedNodeBitmapsTest {
  @Test
  void theShortcutIsTheQueryReducedToNamesAndBitmaps() throws Exception {
    SimBackend backend = new SimBackend(0, Set.of());
    for (String name : new String[] {"src", "tgt"}) {
      backend.createImage(new Backend.ImageSpec(name + ".qcow2", "qcow2", 8L << 20, null, null,
          null, Map.of()));
      backend.qmp("blockdev-add", Json.object("node-name", name, "driver", "qcow2", "file",
          Json.object("driver", "file", "filename", name + ".qcow2")));
    }
    assertThat(backend.namedNodeBitmaps()).isEqualTo(fromQuery(backend));

    backend.qmp("block-dirty-bitmap-add", Json.object("node", "src", "name", "b0",
        "persistent", true));
    backend.qmp("block-dirty-bitmap-add", Json.object("node", "src", "name", "b1",
        "granularity", 131072, "disabled", true));
    backend.io("src", "write -P0x11 0 1M");
    assertThat(backend.namedNodeBitmaps()).isEqualTo(fromQuery(backend));

    backend.qmp("blockdev-backup", Json.object("job-id", "j0", "device", "src", "target", "tgt",
        "sync", "incremental", "bitmap", "b0", "speed", 65536));
    List<Map<String, Object>> whileRunning = backend.namedNodeBitmaps();
    assertThat(whileRunning).isEqualTo(fromQuery(backend));
    assertThat(Json.compact(whileRunning)).contains("\"busy\": true");
  }

  /** query-named-block-nodes, each node reduced to node-name and dirty-bitmaps. */
  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> fromQuery(SimBackend backend) {
    List<Map<String, Object>> nodes = new ArrayList<>();
    for (Object o : (List<Object>) backend.qmp("query-named-block-nodes", Map.of())
        .get("return")) {
      Map<String, Object> node = (Map<String, Object>) o;
      Map<String, Object> reduced = new LinkedHashMap<>();
      reduced.put("node-name", node.get("node-name"));
      if (node.containsKey("dirty-bitmaps")) {
        reduced.put("dirty-bitmaps", node.get("dirty-bitmaps"));
      }
      nodes.add(reduced);
    }
    return nodes;
  }
}
