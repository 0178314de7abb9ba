package io.blocksim.sim.backend;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.loop.NoTimeScheduler;
import io.blocksim.model.qapi.JsonFilename;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An image file and its backing chain opened in a private engine, as a qemu-img subcommand opens
 * them: one node per layer ({@code layer0} is the image named on the command line), each layer
 * read-write or read-only as the subcommand needs it. Closing stores persistent bitmaps.
 */
final class ImageChain implements AutoCloseable {
  /** One layer: its file, its format, and what its header names as backing file. */
  record Layer(String path, String format, String backing, String backingFormat) {}

  private final Engine engine;
  private final List<Layer> layers;

  private ImageChain(Engine engine, List<Layer> layers) {
    this.engine = engine;
    this.layers = layers;
  }

  /**
   * Reads the chain's layers from the image headers, top first; the error message qemu-img prints
   * (without its "qemu-img: " prefix) when a file is missing.
   */
  static List<Layer> layers(HostStorage storage, String path, String format)
      throws HostIoException, ChainError {
    return layers(storage, path, format, true);
  }

  /** The image alone ({@code followBacking} false), or with its chain. */
  static List<Layer> layers(HostStorage storage, String path, String format,
      boolean followBacking) throws HostIoException, ChainError {
    List<Layer> layers = new ArrayList<>();
    String current = path;
    String currentFormat = format;
    Map<String, Object> spelled = null;
    while (current != null || spelled != null) {
      if (current != null && JsonFilename.is(current)) {
        // A json: backing name (QEMU wrote a node's json: file name): its options name the
        // file and format, and a "backing" member replaces the header's backing file.
        spelled = JsonFilename.options(current);
        current = null;
      }
      boolean chainSpelled = false;
      Map<String, Object> nextSpelled = null;
      if (spelled != null) {
        Object file = spelled.get("file");
        if (!(file instanceof Map<?, ?> fileOptions)
            || !(fileOptions.get("filename") instanceof String name)) {
          throw new ChainError("Could not open '" + path + "': Could not open backing file: "
              + "json: file name without a file name (not modelled)");
        }
        current = name;
        if (spelled.get("driver") instanceof String driver) {
          currentFormat = driver;
        }
        if (spelled.containsKey("backing")) {
          chainSpelled = true;
          Object b = spelled.get("backing");
          @SuppressWarnings("unchecked")
          Map<String, Object> bm = b instanceof Map<?, ?> ? (Map<String, Object>) b : null;
          nextSpelled = bm;
        }
        spelled = null;
      }
      if (!storage.exists(current)) {
        if (layers.isEmpty()) {
          throw new ChainError("Could not open '" + current + "': Could not open '" + current
              + "': No such file or directory");
        }
        throw new ChainError("Could not open '" + path + "': Could not open backing file: "
            + "Could not open '" + current + "': No such file or directory");
      }
      String fmt = currentFormat != null ? currentFormat : Images.probeFormat(storage, current);
      String backing = null;
      String backingFormat = null;
      if (fmt.equals("qcow2")) {
        HostFile file = storage.open(current);
        Qcow2Image header = Qcow2Image.open(file, true);
        backing = header.backingFileName();
        backingFormat = header.backingFormat();
      }
      layers.add(new Layer(current, fmt, backing, backingFormat));
      if (chainSpelled) {
        current = null;
        spelled = followBacking ? nextSpelled : null;
        currentFormat = null;
      } else {
        current = followBacking ? backing : null;
        currentFormat = backingFormat;
      }
    }
    return layers;
  }

  /** Opens the layers bottom up; {@code writable} holds the indexes opened read-write. */
  static ImageChain open(HostStorage storage, List<Layer> layers, Set<Integer> writable)
      throws ChainError {
    return open(storage, layers, writable, false);
  }

  /** As above; {@code unmap} opens the top with discard=unmap too (BDRV_O_UNMAP). */
  static ImageChain open(HostStorage storage, List<Layer> layers, Set<Integer> writable,
      boolean unmap) throws ChainError {
    Engine engine = new Engine(NoTimeScheduler.INSTANCE, storage, Set.of());
    ImageChain chain = new ImageChain(engine, layers);
    for (int i = layers.size() - 1; i >= 0; i--) {
      Layer layer = layers.get(i);
      Map<String, Object> args = Json.object("driver", layer.format(), "node-name", name(i),
          "read-only", !writable.contains(i),
          "file", Json.object("driver", "file", "filename", layer.path()));
      if (unmap || i > 0) {
        // qemu-img opens the top with its flags (BDRV_O_UNMAP for commit, a sparse convert
        // target) and the backing files from the header, which default to discard=unmap
        // (bdrv_inherited_options).
        args.put("discard", "unmap");
      }
      if (layer.format().equals("qcow2")) {
        args.put("backing", i + 1 < layers.size() ? name(i + 1) : null);
      }
      Map<String, Object> reply = engine.execute("blockdev-add", args);
      if (reply.containsKey("error")) {
        chain.close();
        throw new ChainError("Could not open '" + layer.path() + "': "
            + ((Map<?, ?>) reply.get("error")).get("desc"));
      }
    }
    return chain;
  }

  static String name(int index) {
    return "layer" + index;
  }

  Engine engine() {
    return engine;
  }

  List<Layer> layers() {
    return layers;
  }

  BlockNode node(int index) {
    return engine.graph().find(name(index));
  }

  @Override
  public void close() {
    QemuImgInfo.closeAll(engine);
  }

  /** What qemu-img reports when it cannot open the chain. */
  static final class ChainError extends Exception {
    private static final long serialVersionUID = 1L;

    ChainError(String message) {
      super(message);
    }
  }
}
