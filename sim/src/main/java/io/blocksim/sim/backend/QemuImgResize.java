package io.blocksim.sim.backend;

import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code qemu-img resize [-f FMT] [-q] [--shrink] FILE [+|-]SIZE} (qemu-img.c img_resize): the
 * image is opened read-write (its persistent bitmaps loaded) and truncated by the engine's
 * {@code block_resize}, which grows or shrinks its dirty bitmaps with it; closing stores them
 * with the new size.
 */
final class QemuImgResize {
  private QemuImgResize() {}

  static ImgOutcome run(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    if (words.size() < 2) {
      // img_resize: argc < 3 before the size is taken off the end.
      return new ImgOutcome(List.of("qemu-img: Not enough arguments",
          "Try 'qemu-img --help' for more information"), 1);
    }
    String format = null;
    boolean shrink = false;
    boolean quiet = false;
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "-f" -> format = QemuImg.arg(words, ++i, w);
        case "-q" -> quiet = true;
        case "--shrink" -> shrink = true;
        case "--" -> positional.addAll(words.subList(i + 1, words.size()));
        default -> {
          if (w.startsWith("-") && positional.isEmpty()) {
            throw new StepException("img resize: option '" + w
                + "' is not supported by the simulator");
          }
          positional.add(w);
        }
      }
      if (w.equals("--")) {
        break;
      }
    }
    if (positional.size() != 2) {
      return new ImgOutcome(List.of("qemu-img: Expecting image file name and size",
          "Try 'qemu-img --help' for more information"), 1);
    }
    String filename = positional.get(0);
    String size = positional.get(1);
    int relative = size.startsWith("+") ? 1 : size.startsWith("-") ? -1 : 0;
    long n = QemuImg.optionSize(relative == 0 ? size : size.substring(1), "size",
        "qemu-img: ");
    List<ImageChain.Layer> layers;
    try {
      layers = ImageChain.layers(storage, filename, format, false);
    } catch (ImageChain.ChainError e) {
      return error(e.getMessage());
    }
    List<String> out = new ArrayList<>();
    if (format == null && layers.get(0).format().equals("raw")) {
      out.add("WARNING: Image format was not specified for '" + filename
          + "' and probing guessed raw.");
      out.add("         Automatically detecting the format is dangerous for raw images, "
          + "write operations on block 0 will be restricted.");
      out.add("         Specify the 'raw' format explicitly to remove the restrictions.");
    }
    try (ImageChain chain = ImageChain.open(storage, layers, Set.of(0))) {
      long current = chain.node(0).length();
      long total = relative == 0 ? n : current + n * relative;
      if (total <= 0) {
        out.add("qemu-img: New image size must be positive");
        return new ImgOutcome(out, 1);
      }
      if (total < current && !shrink) {
        out.add("qemu-img: Use the --shrink option to perform a shrink operation.");
        out.add("qemu-img: warning: Shrinking an image will delete all data beyond the "
            + "shrunken image's end. Before performing such an operation, make sure there is "
            + "no important data there.");
        return new ImgOutcome(out, 1);
      }
      Map<String, Object> reply = chain.engine().execute("block_resize",
          Json.object("node-name", ImageChain.name(0), "size", total));
      if (reply.containsKey("error")) {
        Map<?, ?> err = (Map<?, ?>) reply.get("error");
        if ("CommandNotFound".equals(err.get("class"))) {
          throw new StepException("img resize: the engine has no block_resize yet");
        }
        out.addAll(List.of(("qemu-img: " + withHint(String.valueOf(err.get("desc"))))
            .split("\n")));
        return new ImgOutcome(out, 1);
      }
    } catch (ImageChain.ChainError e) {
      out.add("qemu-img: " + e.getMessage());
      return new ImgOutcome(out, 1);
    }
    if (!quiet) {
      out.add("Image resized.");
    }
    return new ImgOutcome(out, 0);
  }

  /**
   * The hint bdrv_dirty_bitmap_check appends to "Bitmap 'B' is inconsistent and cannot be
   * used", which qemu-img prints (error_report_err) and QMP drops.
   */
  static String withHint(String desc) {
    return desc.endsWith("is inconsistent and cannot be used")
        ? desc + "\nTry block-dirty-bitmap-remove to delete this bitmap from disk" : desc;
  }

  private static ImgOutcome error(String message) {
    return new ImgOutcome(List.of("qemu-img: " + message), 1);
  }
}
