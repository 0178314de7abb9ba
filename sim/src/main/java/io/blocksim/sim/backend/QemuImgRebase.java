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
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * {@code qemu-img rebase [-u] -b BACKING [-F FMT] FILE} (qemu-img.c img_rebase). The unsafe rebase
 * only rewrites the backing file name (and format) in the qcow2 header. The safe one first copies
 * into the image, with ordinary writes that its enabled bitmaps record, every run of sectors the
 * image does not allocate and where the old backing chain and the new backing file differ.
 */
final class QemuImgRebase {
  /** img_rebase copies in buffers of IO_BUF_SIZE bytes and compares sector by sector. */
  private static final long IO_BUF_SIZE = 2 * 1024 * 1024;
  private static final int SECTOR = 512;

  private QemuImgRebase() {}

  static ImgOutcome run(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    boolean unsafe = false;
    String backing = null;
    String backingFormat = null;
    String format = null;
    List<String> files = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "-u" -> unsafe = true;
        case "-b" -> backing = value(words, ++i, w);
        case "-F" -> backingFormat = value(words, ++i, w);
        case "-f" -> format = value(words, ++i, w);
        default -> files.add(w);
      }
    }
    if (files.size() != 1) {
      throw new StepException("img rebase takes one image file");
    }
    if (backing != null && backing.isEmpty()) {
      backing = null;
    }
    if (backing != null && backingFormat == null) {
      backingFormat = Images.probeFormat(storage, backing);
    }
    List<ImageChain.Layer> layers;
    try {
      // The unsafe mode opens the image without its backing chain.
      layers = ImageChain.layers(storage, files.get(0), format, !unsafe);
    } catch (ImageChain.ChainError e) {
      return new ImgOutcome(List.of("qemu-img: " + e.getMessage()), 1);
    }
    if (backing != null && !unsafe && !storage.exists(backing)) {
      return new ImgOutcome(List.of("qemu-img: Could not open new backing file '" + backing
          + "': Could not open '" + backing + "': No such file or directory"), 1);
    }
    try (ImageChain chain = ImageChain.open(storage, layers, Set.of(0))) {
      if (!unsafe) {
        copyDifferences(storage, chain, backing, backingFormat);
      }
      if (!(chain.node(0).driver() instanceof Qcow2Driver qcow2)) {
        throw new StepException("img rebase: only qcow2 images have a backing file");
      }
      qcow2.image().changeBackingFile(backing, backing == null ? null : backingFormat);
    } catch (ImageChain.ChainError e) {
      return new ImgOutcome(List.of("qemu-img: " + e.getMessage()), 1);
    }
    return new ImgOutcome(List.of(), 0);
  }

  /** The copy loop of a safe rebase. */
  private static void copyDifferences(HostStorage storage, ImageChain chain, String backing,
      String backingFormat) throws HostIoException {
    ImageReader newBacking = backing == null ? null
        : ImageReader.open(storage, backing, backingFormat);
    {
      BlockNode image = chain.node(0);
      BlockNode oldBacking = chain.layers().size() > 1 ? chain.node(1) : null;
      long size = image.length();
      long offset = 0;
      while (offset < size) {
        long n = Math.min(IO_BUF_SIZE, size - offset);
        BlockStatus status = BlockIo.blockStatus(image, offset, n);
        n = Math.min(n, status.lengthBytes());
        if (status.allocated()) {
          offset += n;
          continue;
        }
        byte[] old = readOrZero(oldBacking, offset, (int) n);
        byte[] fresh = newBacking == null ? new byte[(int) n]
            : readOrZero(newBacking.node(), offset, (int) n);
        for (int at = 0; at < n; ) {
          int run = sameRun(old, fresh, at, (int) n);
          if (!Arrays.equals(old, at, at + SECTOR, fresh, at, at + SECTOR)) {
            BlockIo.write(image, offset + at, old, at, run, RequestFlags.NONE);
          }
          at += run;
        }
        offset += n;
      }
    }
  }

  /** compare_buffers: how many sectors from at share the first one's same-or-different state. */
  private static int sameRun(byte[] a, byte[] b, int at, int end) {
    boolean differs = !Arrays.equals(a, at, at + SECTOR, b, at, at + SECTOR);
    int i = at + SECTOR;
    while (i < end && differs == !Arrays.equals(a, i, i + SECTOR, b, i, i + SECTOR)) {
      i += SECTOR;
    }
    return i - at;
  }

  /** Reads a backing node's range; past its end (or without a node) the range reads zeroes. */
  private static byte[] readOrZero(BlockNode node, long offset, int n) throws HostIoException {
    byte[] buf = new byte[n];
    if (node != null && offset < node.length()) {
      int part = (int) Math.min(n, node.length() - offset);
      BlockIo.read(node, offset, buf, 0, part);
    }
    return buf;
  }

  private static String value(List<String> words, int i, String option) throws StepException {
    if (i >= words.size()) {
      throw new StepException("img rebase: option " + option + " needs a value");
    }
    return words.get(i);
  }
}
