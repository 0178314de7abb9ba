package io.blocksim.sim.backend;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code qemu-img commit [-f FMT] [-b BASE] [-d] [-q] FILE} (qemu-img.c img_commit): the image is
 * opened read-write with its chain, an active commit (a mirror, commit_active_start) copies every
 * granule that a layer above the base allocates into the base with ordinary writes, so the base's
 * enabled persistent bitmaps record them; then the top is emptied (qcow2_make_empty, which
 * dirties no bitmap) unless {@code -d} or {@code -b} (which implies {@code -d}). Without {@code -b}
 * the base is the immediate backing file.
 */
final class QemuImgCommit {
  /** The mirror's granularity for a base without a cluster size (bdrv_get_cluster_size). */
  private static final long DEFAULT_GRANULARITY = 65536;

  private QemuImgCommit() {}

  static ImgOutcome run(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    String format = null;
    String base = null;
    boolean drop = false;
    boolean quiet = false;
    List<String> files = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "-f" -> format = QemuImg.arg(words, ++i, w);
        case "-b" -> {
          base = QemuImg.arg(words, ++i, w);
          drop = true;  // -b implies -d: the top keeps its data
        }
        case "-d" -> drop = true;
        case "-q" -> quiet = true;
        case "-p" -> { }
        default -> {
          if (w.startsWith("-")) {
            throw new StepException("img commit: option '" + w
                + "' is not supported by the simulator");
          }
          files.add(w);
        }
      }
    }
    if (files.size() != 1) {
      return error("Expecting one image file name");
    }
    String filename = files.get(0);
    List<ImageChain.Layer> layers;
    try {
      layers = ImageChain.layers(storage, filename, format);
    } catch (ImageChain.ChainError e) {
      return error(e.getMessage());
    }
    int baseIndex;
    if (base != null) {
      baseIndex = -1;
      for (int i = 1; i < layers.size(); i++) {
        if (layers.get(i).path().equals(base)) {
          baseIndex = i;
          break;
        }
      }
      if (baseIndex < 0) {
        return error("Did not find '" + base + "' in the backing chain of '" + filename + "'");
      }
    } else {
      if (layers.size() < 2) {
        return error("Image does not have a backing file");
      }
      baseIndex = 1;
    }
    // The base is reopened read-write by the job; the layers between stay read-only.
    ImageChain chain;
    try {
      // img_commit opens with BDRV_O_UNMAP: emptying the top punches holes into its file.
      chain = ImageChain.open(storage, layers, Set.of(0, baseIndex), true);
    } catch (ImageChain.ChainError e) {
      return error(e.getMessage());
    }
    try {
      BlockNode top = chain.node(0);
      BlockNode baseNode = chain.node(baseIndex);
      copy(top, chain.node(baseIndex - 1), baseNode);
      if (!drop && top.driver() instanceof Qcow2Driver qcow2) {
        qcow2.image().makeEmpty();
      }
    } catch (HostIoException e) {
      chain.close();
      return error(e.getMessage());
    }
    chain.close();
    return new ImgOutcome(quiet ? List.of() : List.of("Image committed."), 0);
  }

  /**
   * The mirror of commit_active_start: marks every granule that top..baseOverlay allocates, then
   * copies each one, writing zeroes where the chain reads zeroes without data.
   */
  private static void copy(BlockNode top, BlockNode baseOverlay, BlockNode base)
      throws HostIoException {
    long granularity = base.driver() instanceof Qcow2Driver q
        ? Math.min(65536, Math.max(4096, q.clusterSize())) : DEFAULT_GRANULARITY;
    long length = top.length();
    long offset = 0;
    while (offset < length) {
      BlockIo.Run run = BlockIo.allocatedAbove(top, baseOverlay, offset, length - offset);
      long end = offset + run.length();
      if (run.allocated()) {
        long start = offset / granularity * granularity;
        long stop = Math.min(length, (end + granularity - 1) / granularity * granularity);
        copyRange(top, base, start, stop, granularity);
        end = stop;
      }
      offset = end;
    }
  }

  private static void copyRange(BlockNode top, BlockNode base, long start, long stop,
      long granularity) throws HostIoException {
    for (long at = start; at < stop; at += granularity) {
      int n = (int) Math.min(granularity, stop - at);
      BlockStatus status = BlockIo.blockStatusAbove(top, at, n);
      // mirror_iteration: a run shorter than the granularity (the image's partial last
      // granule) is widened to a granularity and always copied, never written as zeroes.
      if (n == granularity && !status.data() && status.zero() && status.lengthBytes() >= n) {
        BlockIo.writeZeroes(base, at, n, RequestFlags.NONE);
      } else {
        byte[] data = BlockIo.read(top, at, n);
        BlockIo.write(base, at, data, 0, n, RequestFlags.NONE);
      }
    }
  }

  private static ImgOutcome error(String message) {
    return new ImgOutcome(List.of("qemu-img: " + message), 1);
  }
}
