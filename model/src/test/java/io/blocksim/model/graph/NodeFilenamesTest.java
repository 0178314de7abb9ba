package io.blocksim.model.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NodeFilenamesTest {
  /**
   * The key order QEMU 7.2 printed for a blkdebug node's json: filename (qemu-storage-daemon,
   * scenarios/backup/job-flows.yaml [case=drive]) and for a qcow2 node with a backing override.
   */
  @Test
  void qdictOrderIsQemusHashBucketOrder() {
    Map<String, Object> opts = new LinkedHashMap<>();
    opts.put("driver", "blkdebug");
    opts.put("inject-error.0.event", "read_aio");
    opts.put("inject-error.0.once", true);
    opts.put("image", Map.of("driver", "file", "filename", "disk2.raw"));
    assertEquals(List.of("inject-error.0.once", "image", "driver", "inject-error.0.event"),
        List.copyOf(NodeFilenames.qdictOrder(opts).keySet()));

    Map<String, Object> qcow2 = new LinkedHashMap<>();
    qcow2.put("file", null);
    qcow2.put("driver", "qcow2");
    qcow2.put("backing", null);
    assertEquals(List.of("backing", "driver", "file"),
        List.copyOf(NodeFilenames.qdictOrder(qcow2).keySet()));
  }

  @Test
  void jsonIsQobjectToJsonsCompactForm() {
    Map<String, Object> opts = new LinkedHashMap<>();
    opts.put("backing", null);
    opts.put("n", 5L);
    opts.put("s", "a\"b");
    assertEquals("{\"backing\": null, \"n\": 5, \"s\": \"a\\\"b\"}", NodeFilenames.toJson(opts));
  }

  /** The option QEMU 7.2 named for a json: backing name opened without backing (qemu-img info). */
  @Test
  void firstFlattenedKeyIsQemusChoice() {
    Map<String, Object> backing = new LinkedHashMap<>();
    backing.put("driver", "qcow2");
    backing.put("file", Map.of("driver", "file", "filename", "base.qcow2"));
    assertEquals("backing.driver", NodeFilenames.firstFlattenedKey("backing", backing));
  }

  @Test
  void jsonFilenameRoundTrips() {
    String name = "json:{\"backing\": null, \"driver\": \"qcow2\", \"file\": {\"driver\": "
        + "\"file\", \"filename\": \"a b.qcow2\"}}";
    Map<String, Object> parsed = io.blocksim.model.qapi.JsonFilename.options(name);
    assertEquals("json:" + NodeFilenames.toJson(parsed), name);
    assertEquals(null, io.blocksim.model.qapi.JsonFilename.options("json:{\"a\": "));
  }
}
