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
 * {@code qemu-img convert [-f FMT] [-O FMT] [-n] [-B BACKING -F FMT] [-o
 * cluster_size=N,backing_file=B,backing_fmt=F] [--bitmaps [--skip-broken-bitmaps]] SRC DST} (qemu-img.c img_convert) with one source: the
 * guest-visible contents of the source chain are copied into a new image (or the existing one
 * with -n), then with --bitmaps every persistent bitmap of the source's top layer is added to the
 * target (granularity and enabled state kept) and filled by a merge (convert_copy_bitmaps). With
 * -B the new target gets that backing file and only the source's top layer is copied
 * ({@link #copyAboveBacking}).
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
    String backing = null;
    String backingFormat = null;
    String optionBacking = null;
    String optionBackingFormat = null;
    List<String> createOptions = new ArrayList<>();
    List<String> files = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "-f" -> format = QemuImg.arg(words, ++i, w);
        case "-O" -> outFormat = QemuImg.arg(words, ++i, w);
        case "-n" -> skipCreate = true;
        case "-B" -> backing = QemuImg.arg(words, ++i, w);
        case "-F" -> backingFormat = QemuImg.arg(words, ++i, w);
        case "-q" -> quiet = true;
        case "-p", "-U", "--force-share" -> { }
        case "--bitmaps" -> bitmaps = true;
        case "--skip-broken-bitmaps" -> skipBroken = true;
        case "-o" -> {
          for (String option : QemuImg.arg(words, ++i, w).split(",")) {
            String[] kv = option.split("=", 2);
            if (kv.length != 2 || !List.of("cluster_size", "backing_file", "backing_fmt")
                .contains(kv[0])) {
              throw new StepException("img convert: option '" + option
                  + "' is not supported by the simulator");
            }
            createOptions.add(kv[0]);
            switch (kv[0]) {
              case "cluster_size" -> clusterSize = QemuIoCommand.parseNumber(kv[1], "size");
              case "backing_file" -> optionBacking = kv[1];
              default -> optionBackingFormat = kv[1];
            }
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
    if (skipCreate && !createOptions.isEmpty()) {
      return error("-o has no effect when skipping image creation");
    }
    if (files.size() < 2) {
      return error("Expecting image file name");
    }
    if (files.size() > 2) {
      throw new StepException("img convert: only one source image is supported by the simulator");
    }
    if (skipCreate && (backing != null || backingFormat != null)) {
      throw new StepException("img convert: -B/-F with -n is not supported by the simulator");
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
      // The -o options are parsed against the format's create options, then
      // add_old_style_options adds -B and -F (they win over -o), then the backing format check
      // (img_convert, before the bitmaps).
      if (outFormat.equals("raw") && !createOptions.isEmpty()) {
        return error("Invalid parameter '" + createOptions.get(0) + "'");
      }
      if (outFormat.equals("raw") && backing != null) {
        return error("Backing file not supported for file format 'raw'");
      }
      if (outFormat.equals("raw") && backingFormat != null) {
        return error("Backing file format not supported for file format 'raw'");
      }
      backing = backing != null ? backing : optionBacking;
      backingFormat = backingFormat != null ? backingFormat : optionBackingFormat;
      if (backing != null && backingFormat == null) {
        return error("Use of backing file requires explicit backing format");
      }
      if (bitmaps) {
        ImgOutcome refused = checkBitmaps(top, skipBroken);
        if (refused != null) {
          return refused;
        }
      }
      if (backingFormat != null && backing == null) {
        // qcow2_co_create refuses it; bdrv_create leaves no file behind.
        return error(target + ": error while converting qcow2: Backing format cannot be used "
            + "without backing file");
      }
      if (!skipCreate) {
        Images.create(storage, new ImageSpec(target, outFormat, top.length(), backing,
            backingFormat, clusterSize, Map.of()));
      } else if (!storage.exists(target)) {
        return error("Could not open '" + target + "': Could not open '" + target
            + "': No such file or directory");
      }
      List<ImageChain.Layer> targetLayers = backing == null
          ? List.of(new ImageChain.Layer(target, outFormat, null, null))
          : ImageChain.layers(storage, target, outFormat);
      try (ImageChain dst = ImageChain.open(storage, targetLayers, Set.of(0), true)) {
        BlockNode targetNode = dst.node(0);
        if (bitmaps && !(targetNode.driver() instanceof Qcow2Driver)) {
          return error("Format driver '" + outFormat + "' does not support bitmaps");
        }
        if (backing != null) {
          copyAboveBacking(top, targetNode, dst.node(1).length());
        } else {
          copy(top, targetNode, !skipCreate);
        }
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

  /**
   * The copy into a new target with a backing file (convert_iteration_sectors, convert_co_write):
   * block status is asked of the source's top layer only (above its own backing file, not
   * compared with the target's). A run the top layer does not allocate is left unallocated in
   * the target (BLK_BACKING_FILE); a zero run (a zero cluster, or unallocated with no layer
   * below or starting past its end) is written as zeroes while it lies within the target's
   * backing file and left out past its end; data is written, all-zero data as zeroes
   * (is_allocated_sectors_min), wherever. Writes go cluster by cluster of the target.
   */
  private static void copyAboveBacking(BlockNode top, BlockNode target, long backingLength)
      throws HostIoException {
    long step = target.driver() instanceof Qcow2Driver q ? q.clusterSize() : 65536;
    long length = Math.min(top.length(), target.length());
    BlockNode below = BlockIo.cowChild(top);
    long at = 0;
    while (at < length) {
      // One status for the whole run, split only at the end of the target's backing file.
      long end = at < backingLength ? Math.min(length, backingLength) : length;
      BlockStatus status = BlockIo.blockStatus(top, at, end - at);
      long runEnd = at + Math.max(1, Math.min(status.lengthBytes(), end - at));
      boolean zero = status.zero();
      boolean data = status.data();
      if (!zero && !data && !status.allocated() && (below == null || at >= below.length())) {
        // bdrv_co_block_status: an unallocated run reads as zeroes when nothing is below, or
        // when it starts past the end of the layer below (the run is not cut there).
        zero = true;
      }
      for (long p = at; p < runEnd && (zero || data); ) {
        long q = Math.min(runEnd, (p / step + 1) * step);
        int n = (int) (q - p);
        if (zero) {
          if (p < backingLength) {
            BlockIo.writeZeroes(target, p, n, RequestFlags.MAY_UNMAP);
          }
        } else {
          byte[] bytes = BlockIo.read(top, p, n);
          if (isZero(bytes)) {
            BlockIo.writeZeroes(target, p, n, RequestFlags.MAY_UNMAP);
          } else {
            BlockIo.write(target, p, bytes, 0, n, RequestFlags.NONE);
          }
        }
        p = q;
      }
      at = runEnd;
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
