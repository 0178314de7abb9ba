package io.blocksim.sim.backend;

import io.blocksim.model.Engine;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.loop.NoTimeScheduler;
import java.util.Map;
import java.util.Set;

/**
 * Reads an image file the way {@code qemu-img} does: a private, read-only engine opens it with its
 * probed format and its backing chain, apart from the scenario's process.
 */
final class ImageReader {
  private final Engine engine;
  private final BlockNode node;

  private ImageReader(Engine engine, BlockNode node) {
    this.engine = engine;
    this.node = node;
  }

  static ImageReader open(HostStorage storage, String path) throws HostIoException {
    return open(storage, path, null);
  }

  /** Opens with the given format, or the probed one when it is null. */
  static ImageReader open(HostStorage storage, String path, String givenFormat)
      throws HostIoException {
    Engine engine = new Engine(NoTimeScheduler.INSTANCE, storage, Set.of());
    String format = givenFormat != null ? givenFormat : Images.probeFormat(storage, path);
    Map<String, Object> args = Json.object("driver", format, "node-name", "image",
        "read-only", true, "file", Json.object("driver", "file", "filename", path));
    Map<String, Object> reply = engine.execute("blockdev-add", args);
    if (reply.containsKey("error")) {
      throw new HostIoException(HostIoException.EINVAL, Json.compact(reply.get("error")));
    }
    return new ImageReader(engine, engine.graph().find("image"));
  }

  Engine engine() {
    return engine;
  }

  BlockNode node() {
    return node;
  }

  long length() {
    return node.length();
  }

  void read(long offset, byte[] data) throws HostIoException {
    BlockIo.read(node, offset, data, 0, data.length);
  }

  /** Reads length bytes into the start of data. */
  void read(long offset, byte[] data, int length) throws HostIoException {
    BlockIo.read(node, offset, data, 0, length);
  }
}
