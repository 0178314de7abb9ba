package io.blocksim.sim.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.qemu.QemuBackend;
import io.blocksim.sim.port.Backend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: images made by the real tools open in blocksim with the bitmaps real QEMU sees. Method:
 * build an image with qemu-img bitmap and qemu-io (which records its writes in the enabled
 * bitmaps and stores them on exit), import it into the fake disk, open it in the simulator and
 * in a real qemu-storage-daemon, and compare every bitmap's BlockDirtyInfo and sha256.
 */
class ImportRoundTripTest {
  @TempDir Path temp;

  @Test
  void bitmapsOfARealImageLoadAsInQemu() throws Exception {
    QemuAvailability availability = QemuAvailability.check();
    Assumptions.assumeTrue(availability.available(), availability.reason());
    Path made = temp.resolve("made");
    Files.createDirectories(made);
    QemuTools.runOrFail(made, "qemu-img", "create", "-q", "-f", "qcow2", "img.qcow2", "64M");
    QemuTools.runOrFail(made, "qemu-img", "bitmap", "--add", "img.qcow2", "b0");
    QemuTools.runOrFail(made, "qemu-io", "-f", "qcow2", "-c", "write -P1 0 64k", "-c",
        "write -P2 5M 1M", "img.qcow2");
    QemuTools.runOrFail(made, "qemu-img", "bitmap", "--add", "--disable", "-g", "4k",
        "img.qcow2", "b1");
    QemuTools.runOrFail(made, "qemu-img", "bitmap", "--add", "-g", "1M", "img.qcow2", "b2");
    QemuTools.runOrFail(made, "qemu-io", "-f", "qcow2", "-c", "write -P3 9M 4k", "img.qcow2");
    Path image = made.resolve("img.qcow2");

    Map<String, Object> sim;
    try (SimBackend backend = new SimBackend(0, Set.of())) {
      backend.disk().importFrom(image, "img.qcow2");
      sim = bitmaps(backend);
    }
    Map<String, Object> real;
    Path scratch = temp.resolve("qsd");
    try (QemuBackend backend = new QemuBackend(scratch, false, line -> { })) {
      Files.copy(image, scratch.resolve("img.qcow2"));
      real = bitmaps(backend);
    }

    assertThat(sim).hasSize(3).isEqualTo(real);
  }

  /** Opens img.qcow2 as node d; returns each bitmap's query entry and sha256, by name. */
  private static Map<String, Object> bitmaps(Backend backend) throws Exception {
    Map<String, Object> reply = backend.qmp("blockdev-add", Json.object("node-name", "d",
        "driver", "qcow2", "file", Json.object("driver", "file", "filename", "img.qcow2")));
    assertThat(reply).containsKey("return");
    List<?> nodes = (List<?>) backend.qmp("query-named-block-nodes", new LinkedHashMap<>())
        .get("return");
    Map<String, Object> result = new LinkedHashMap<>();
    for (Object n : nodes) {
      Map<?, ?> node = (Map<?, ?>) n;
      if (!"d".equals(node.get("node-name"))) {
        continue;
      }
      for (Object b : (List<?>) node.get("dirty-bitmaps")) {
        Map<?, ?> bitmap = (Map<?, ?>) b;
        String name = (String) bitmap.get("name");
        Map<?, ?> sha = (Map<?, ?>) backend.qmp("x-debug-block-dirty-bitmap-sha256",
            Json.object("node", "d", "name", name)).get("return");
        List<Object> entry = new ArrayList<>();
        entry.add(normalize(bitmap));
        entry.add(sha.get("sha256"));
        result.put(name, entry);
      }
    }
    return result;
  }

  private static Map<String, Object> normalize(Map<?, ?> bitmap) {
    Map<String, Object> m = new java.util.TreeMap<>();
    for (Map.Entry<?, ?> e : bitmap.entrySet()) {
      Object v = e.getValue();
      m.put((String) e.getKey(), v instanceof Number n ? (Object) n.longValue() : v);
    }
    return m;
  }
}
