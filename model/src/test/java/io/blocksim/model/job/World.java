package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** One engine with a test scheduler and in-memory host files, plus helpers for job tests. */
final class World {
  static final long MIB = 1024 * 1024;
  static final long CLUSTER = 65536;

  final TestScheduler scheduler = new TestScheduler();
  final MemoryStorage storage = new MemoryStorage();
  final Engine engine = new Engine(scheduler, storage, Set.of());

  /** Creates a raw image file of that size (sparse). */
  World image(String path, long size) throws HostIoException {
    storage.create(path).truncate(size);
    return this;
  }

  /** Executes a command that must succeed; returns its "return" value. */
  Object qmp(String command, Object... keysAndValues) {
    Map<String, Object> reply = engine.execute(command, Json.object(keysAndValues));
    assertThat(reply).as("reply to %s", command).containsKey("return");
    return reply.get("return");
  }

  /** Executes a command that must fail; returns its desc. */
  String qmpError(String command, Object... keysAndValues) {
    Map<String, Object> reply = engine.execute(command, Json.object(keysAndValues));
    assertThat(reply).as("reply to %s", command).containsKey("error");
    @SuppressWarnings("unchecked")
    Map<String, Object> error = (Map<String, Object>) reply.get("error");
    return (String) error.get("desc");
  }

  /** Adds node-name over a raw format over a file (with blkdebug rules if given). */
  void addRaw(String nodeName, String file, Map<String, Object> blkdebug) {
    Map<String, Object> fileOptions = Json.object("driver", "file", "filename", file);
    Object child = fileOptions;
    if (blkdebug != null) {
      Map<String, Object> debug = Json.object("driver", "blkdebug", "image", fileOptions);
      debug.putAll(blkdebug);
      child = debug;
    }
    qmp("blockdev-add", "node-name", nodeName, "driver", "raw", "file", child);
  }

  BlockNode node(String name) {
    BlockNode node = engine.graph().find(name);
    assertThat(node).as("node %s", name).isNotNull();
    return node;
  }

  /** Writes a pattern byte through the node; returns the error errno or 0. */
  int write(String node, long offset, long length, int pattern) {
    byte[] buf = new byte[(int) length];
    Arrays.fill(buf, (byte) pattern);
    try {
      BlockIo.write(node(node), offset, buf, 0, (int) length, 0);
      return 0;
    } catch (HostIoException e) {
      return e.errno();
    }
  }

  void flush(String node) throws HostIoException {
    BlockIo.flush(node(node));
  }

  DirtyBitmap bitmap(String node, String name) {
    DirtyBitmap bitmap = node(node).bitmap(name);
    assertThat(bitmap).as("bitmap %s on %s", name, node).isNotNull();
    return bitmap;
  }

  /** Returns the dirty cluster count of a 64 KiB-granularity bitmap. */
  long clusters(String node, String name) {
    return bitmap(node, name).countBytes() / CLUSTER;
  }

  /** Returns the events since the start, compacted: "JOB_STATUS_CHANGE j1 created" etc. */
  List<String> jobEvents() {
    return jobEvents(engine);
  }

  /** The job events of an engine since its start: "id status", "device EVENT". */
  static List<String> jobEvents(Engine engine) {
    List<String> out = new ArrayList<>();
    for (QmpEvent e : engine.events()) {
      Map<String, Object> d = e.data();
      switch (e.event()) {
        case "JOB_STATUS_CHANGE" -> out.add(d.get("id") + " " + d.get("status"));
        case "BLOCK_JOB_ERROR" -> out.add(d.get("device") + " ERROR " + d.get("operation") + " "
            + d.get("action"));
        case "BLOCK_JOB_PENDING" -> out.add(d.get("id") + " PENDING");
        default -> out.add(d.get("device") + " " + e.event().replace("BLOCK_JOB_", ""));
      }
    }
    return out;
  }

  /** Returns the data of the last event with that name. */
  Map<String, Object> lastEvent(String name) {
    return lastEvent(engine, name);
  }

  /** Returns the data of an engine's last event with that name. */
  static Map<String, Object> lastEvent(Engine engine, String name) {
    Map<String, Object> found = null;
    for (QmpEvent e : engine.events()) {
      if (e.event().equals(name)) {
        found = e.data();
      }
    }
    assertThat(found).as("event %s", name).isNotNull();
    return found;
  }
}
