package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qcow2.Qcow2CreateOptions;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** An engine over in-memory qcow2 images with backing chains, for stream, commit and mirror. */
final class ChainWorld {
  static final long MIB = 1024 * 1024;
  static final long KIB = 1024;

  final TestScheduler scheduler = new TestScheduler();
  final MemoryStorage storage = new MemoryStorage();
  final Engine engine;

  ChainWorld(String... semantics) {
    engine = new Engine(scheduler, storage, Set.of(semantics));
  }

  /** Creates a qcow2 image file (64 KiB clusters) with an optional backing file name. */
  ChainWorld qcow2(String path, long size, String backing) throws HostIoException {
    Qcow2CreateOptions options = Qcow2CreateOptions.defaults();
    if (backing != null) {
      options = options.withBacking(backing, "qcow2");
    }
    Qcow2Image.create(storage.create(path), size, options);
    return this;
  }

  /** blockdev-add of a qcow2 node over that file, with an explicit backing node (or none). */
  ChainWorld add(String node, String path, String backingNode) {
    Map<String, Object> args = Json.object("node-name", node, "driver", "qcow2", "file",
        Json.object("driver", "file", "filename", path));
    args.put("backing", backingNode);
    Map<String, Object> reply = engine.execute("blockdev-add", args);
    assertThat(reply).as("blockdev-add %s", node).containsKey("return");
    return this;
  }

  Object qmp(String command, Object... keysAndValues) {
    Map<String, Object> reply = engine.execute(command, Json.object(keysAndValues));
    assertThat(reply).as("reply to %s", command).containsKey("return");
    return reply.get("return");
  }

  String qmpError(String command, Object... keysAndValues) {
    Map<String, Object> reply = engine.execute(command, Json.object(keysAndValues));
    assertThat(reply).as("reply to %s", command).containsKey("error");
    @SuppressWarnings("unchecked")
    Map<String, Object> error = (Map<String, Object>) reply.get("error");
    return (String) error.get("desc");
  }

  BlockNode node(String name) {
    BlockNode node = engine.graph().find(name);
    assertThat(node).as("node %s", name).isNotNull();
    return node;
  }

  void write(String node, long offset, long length, int pattern) throws HostIoException {
    byte[] buf = new byte[(int) length];
    Arrays.fill(buf, (byte) pattern);
    BlockIo.write(node(node), offset, buf, 0, (int) length, 0);
  }

  byte[] read(String node, long offset, long length) throws HostIoException {
    return BlockIo.read(node(node), offset, (int) length);
  }

  /** Asserts every byte of the range reads as that pattern through the node. */
  void assertPattern(String node, long offset, long length, int pattern) throws HostIoException {
    byte[] expected = new byte[(int) length];
    Arrays.fill(expected, (byte) pattern);
    assertThat(read(node, offset, length)).as("%s [%d, +%d)", node, offset, length)
        .isEqualTo(expected);
  }

  long count(String node, String bitmap) {
    return node(node).bitmap(bitmap).countBytes();
  }

  void addBitmap(String node, String name) {
    qmp("block-dirty-bitmap-add", "node", node, "name", name, "granularity", 65536);
  }

  /** The job events since the start: "id status", "device EVENT". */
  List<String> jobEvents() {
    return World.jobEvents(engine);
  }

  Map<String, Object> lastEvent(String name) {
    return World.lastEvent(engine, name);
  }

  /** Runs until the job reached that status (or fails after a virtual minute). */
  void runUntil(String jobId, String status) {
    for (int i = 0; i < 60_000; i++) {
      if (jobEvents().contains(jobId + " " + status)) {
        return;
      }
      scheduler.advance(1_000_000L);
    }
    throw new AssertionError("job " + jobId + " never reached " + status + ": " + jobEvents());
  }
}
