package io.blocksim.sim.backend;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.guest.QemuIoCommand;
import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code qemu-img convert [-f FMT] [-O FMT] [-n] [-o cluster_size=N] [--bitmaps
 * [--skip-broken-bitmaps]] SRC DST} (qemu-img.c img_convert) with one source: the guest-visible
 * contents of the source chain are copied into a new image (or the existing one with -n), then
 * with --bitmaps every persistent bitmap of the source's top layer is added to the target
 * (granularity and enabled state kept) and filled by a merge (convert_copy_bitmaps).
 */
final class QemuImgConvert {
  private QemuImgConvert() {}

  static ImgOutcome run(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    String format = null;
    String outFormat = "raw";
    boolean skipCreate = false;
    boolean bitmaps = false;
    boolean skipBroken = false;
    boolean quiet = false;
    Long clusterSize = null;
    List<String> files = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "-f" -> format = QemuImg.arg(words, ++i, w);
        case "-O" -> outFormat = QemuImg.arg(words, ++i, w);
        case "-n" -> skipCreate = true;
        case "-q" -> quiet = true;
        case "-p", "-U", "--force-share" -> { }
        case "--bitmaps" -> bitmaps = true;
        case "--skip-broken-bitmaps" -> skipBroken = true;
        case "-o" -> {
          for (String option : QemuImg.arg(words, ++i, w).split(",")) {
            String[] kv = option.split("=", 2);
            if (!kv[0].equals("cluster_size") || kv.length != 2) {
              throw new StepException("img convert: option '" + option
                  + "' is not supported by the simulator");
            }
            clusterSize = QemuIoCommand.parseNumber(kv[1], "size");
          }
        }
        default -> {
          if (w.startsWith("-")) {
            throw new StepException("img convert: option '" + w
                + "' is not supported by the simulator");
          }
          files.add(w);
        }
      }
    }
    if (!outFormat.equals("raw") && !outFormat.equals("qcow2")) {
      throw new StepException("img convert: output format '" + outFormat
          + "' is not supported by the simulator");
    }
    if (skipBroken && !bitmaps) {
      return error("Use of --skip-broken-bitmaps requires --bitmaps");
    }
    if (files.size() < 2) {
      return error("Expecting image file name");
    }
    if (files.size() > 2) {
      throw new StepException("img convert: only one source image is supported by the simulator");
    }
    String source = files.get(0);
    String target = files.get(1);
    List<ImageChain.Layer> layers;
    try {
      layers = ImageChain.layers(storage, source, format);
    } catch (ImageChain.ChainError e) {
      return error(e.getMessage());
    }
    List<String> out = new ArrayList<>();
    try (ImageChain src = ImageChain.open(storage, layers, Set.of())) {
      BlockNode top = src.node(0);
      if (bitmaps) {
        ImgOutcome refused = checkBitmaps(top, skipBroken);
        if (refused != null) {
          return refused;
        }
      }
      if (!skipCreate) {
        Images.create(storage, new ImageSpec(target, outFormat, top.length(), null, null,
            clusterSize, Map.of()));
      } else if (!storage.exists(target)) {
        return error("Could not open '" + target + "': Could not open '" + target
            + "': No such file or directory");
      }
      List<ImageChain.Layer> targetLayers = List.of(
          new ImageChain.Layer(target, outFormat, null, null));
      try (ImageChain dst = ImageChain.open(storage, targetLayers, Set.of(0), true)) {
        BlockNode targetNode = dst.node(0);
        if (bitmaps && !(targetNode.driver() instanceof Qcow2Driver)) {
          return error("Format driver '" + outFormat + "' does not support bitmaps");
        }
        copy(top, targetNode, !skipCreate);
        if (bitmaps && !copyBitmaps(src, dst, skipBroken, out)) {
          return new ImgOutcome(out, 1);
        }
      }
    } catch (ImageChain.ChainError e) {
      return error(e.getMessage());
    }
    return new ImgOutcome(quiet ? List.of() : out, 0);
  }

  /** convert_check_bitmaps. */
  private static ImgOutcome checkBitmaps(BlockNode top, boolean skipBroken) {
    if (!(top.driver() instanceof Qcow2Driver)) {
      return error("Source lacks bitmap support");
    }
    for (DirtyBitmap b : top.bitmaps()) {
      if (b.persistent() && !skipBroken && b.inconsistent()) {
        return new ImgOutcome(List.of("qemu-img: Cannot copy inconsistent bitmap '" + b.name()
            + "'", "Try --skip-broken-bitmaps, or use 'qemu-img bitmap --remove' to delete it"),
            1);
      }
    }
    return null;
  }

  /**
   * The copy: cluster by cluster (64 KiB for raw), what the source chain reads as zeroes is left
   * out of a new image and written as zeroes into an existing one; everything else is written.
   */
  private static void copy(BlockNode source, BlockNode target, boolean targetIsNew)
      throws HostIoException {
    long step = target.driver() instanceof Qcow2Driver q ? q.clusterSize() : 65536;
    long length = Math.min(source.length(), target.length());
    for (long at = 0; at < length; at += step) {
      int n = (int) Math.min(step, length - at);
      BlockStatus status = BlockIo.blockStatusAbove(source, at, n);
      boolean zero = status.zero() && !status.data() && status.lengthBytes() >= n;
      byte[] data = zero ? null : BlockIo.read(source, at, n);
      if (data != null && isZero(data)) {
        zero = true;
      }
      if (zero) {
        if (!targetIsNew) {
          BlockIo.writeZeroes(target, at, n, RequestFlags.NONE);
        }
        continue;
      }
      BlockIo.write(target, at, data, 0, n, RequestFlags.NONE);
    }
  }

  private static boolean isZero(byte[] data) {
    for (byte b : data) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  /** convert_copy_bitmaps, in the source's bitmap list order; false after a failure. */
  private static boolean copyBitmaps(ImageChain src, ImageChain dst, boolean skipBroken,
      List<String> out) {
    for (DirtyBitmap b : new ArrayList<>(src.node(0).bitmaps())) {
      if (!b.persistent()) {
        continue;
      }
      if (skipBroken && b.inconsistent()) {
        out.add("qemu-img: warning: Skipping inconsistent bitmap '" + b.name() + "'");
        continue;
      }
      Map<String, Object> reply = dst.engine().execute("block-dirty-bitmap-add",
          Json.object("node", ImageChain.name(0), "name", b.name(), "granularity",
              b.granularityBytes(), "persistent", true, "disabled", !b.enabled()));
      if (reply.containsKey("error")) {
        out.add("qemu-img: Failed to create bitmap " + b.name() + ": " + desc(reply));
        return false;
      }
      // do_dirty_bitmap_merge across the two processes' nodes: the source's bits into the target.
      DirtyBitmap target = dst.node(0).bitmap(b.name());
      target.mergeFrom(b, false);
    }
    return true;
  }

  private static String desc(Map<String, Object> reply) {
    return String.valueOf(((Map<?, ?>) reply.get("error")).get("desc"));
  }

  private static ImgOutcome error(String message) {
    return new ImgOutcome(List.of("qemu-img: " + message), 1);
  }
}
