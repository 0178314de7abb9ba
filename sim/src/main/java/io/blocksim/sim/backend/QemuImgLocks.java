package io.blocksim.sim.backend;

import static io.blocksim.model.graph.FileLocks.ALL;
import static io.blocksim.model.graph.FileLocks.CONSISTENT_READ;
import static io.blocksim.model.graph.FileLocks.RESIZE;
import static io.blocksim.model.graph.FileLocks.WRITE;
import static io.blocksim.model.graph.FileLocks.WRITE_UNCHANGED;

import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.FileLocks;
import io.blocksim.model.graph.FileLocks.Held;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import io.blocksim.sim.scenario.ImgCommandLine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The image locks a qemu-img sub-command meets on files the daemon's nodes hold
 * (docs/qemu-behaviour.md §21.6). qemu-img opens each image through a BlockBackend
 * (blk_new_open: consistent read unless BDRV_O_NO_IO, write when read-write, resize for
 * {@code resize}; sharing everything, or only consistent read and write-unchanged for {@code
 * convert}'s sources, BDRV_O_NO_SHARE; everything with {@code -U}, force-share); the format's
 * children add theirs (qcow2's metadata child takes consistent read, and write and resize when
 * writable, and shares neither write nor resize; a backing file is opened read-only, sharing per
 * bdrv_default_perms_for_cow). Each file node then tests the other process's lock bytes
 * (raw_check_lock_bytes): first a permission it wants that the daemon does not share ({@code
 * Failed to get "write" lock}), then one it does not share that the daemon takes ({@code Failed
 * to get shared "write" lock}), bits in the order consistent read, write, write unchanged,
 * resize; the hint {@code Is another process using the image [FILE]?} follows. The files are
 * tested in the order qemu-img opens them: the image's file, its data file, then each backing
 * file (the message nesting {@code Could not open backing file: }).
 */
final class QemuImgLocks {
  private QemuImgLocks() {}

  /** One BlockBackend qemu-img opens. */
  private record Open(String path, String format, int perm, int shared, boolean backing,
      boolean forceShare, boolean writable, String prefix) {
    Open(String path, String format, int perm, int shared, boolean backing, boolean forceShare,
        boolean writable) {
      this(path, format, perm, shared, backing, forceShare, writable,
          "Could not open '" + path + "': ");
    }
  }

  /**
   * Returns qemu-img's failure when a file it opens is locked by the daemon ({@code held}), or
   * null when none is (or the command line is one the sub-command itself refuses first).
   */
  static ImgOutcome check(HostStorage storage, Function<String, Held> held, String verb,
      List<String> words) throws StepException {
    ImgCommandLine.Parsed p;
    try {
      List<String> all = new ArrayList<>(words);
      all.add(0, verb);
      p = ImgCommandLine.parse(all);
    } catch (IllegalArgumentException e) {
      return null;
    }
    List<String> ops = p.operands();
    boolean force = p.option("U") != null;
    String fmt = p.option("f");
    List<List<Open>> steps = new ArrayList<>();
    List<String> deferred = null;
    String base = null;
    int exit = 1;
    switch (verb) {
      case "info" -> {
        if (ops.isEmpty()) {
          return null;
        }
        // collect_image_info_list: each layer alone, BDRV_O_NO_BACKING | BDRV_O_NO_IO.
        if (p.option("backing-chain") != null) {
          List<ImageChain.Layer> layers;
          try {
            layers = ImageChain.layers(storage, ops.get(0), fmt);
          } catch (ImageChain.ChainError | HostIoException e) {
            return null;
          }
          for (ImageChain.Layer layer : layers) {
            steps.add(List.of(new Open(layer.path(), layer.format(), 0, ALL, false, force,
                false)));
          }
        } else {
          steps.add(List.of(new Open(ops.get(0), fmt, 0, ALL, false, force, false)));
        }
      }
      case "check" -> {
        if (ops.isEmpty()) {
          return null;
        }
        boolean rw = p.option("r") != null;
        steps.add(List.of(new Open(ops.get(0), fmt, CONSISTENT_READ | (rw ? WRITE : 0), ALL,
            true, force, rw)));
      }
      case "compare" -> {
        if (ops.size() != 2) {
          return null;
        }
        exit = 2;
        steps.add(List.of(new Open(ops.get(0), fmt, CONSISTENT_READ, ALL, true, force, false)));
        steps.add(List.of(new Open(ops.get(1), p.option("F"), CONSISTENT_READ, ALL, true, force,
            false)));
      }
      case "convert" -> {
        if (ops.size() < 2) {
          return null;
        }
        for (String source : ops.subList(0, ops.size() - 1)) {
          steps.add(List.of(new Open(source, fmt, CONSISTENT_READ,
              CONSISTENT_READ | WRITE_UNCHANGED, true, force, false)));
        }
        String target = ops.get(ops.size() - 1);
        if (p.option("n") != null) {
          steps.add(List.of(new Open(target, p.option("O"), CONSISTENT_READ | WRITE, ALL, true,
              false, true)));
        } else if (storage.exists(target)) {
          // img_convert opens the sources first, then creates the target (raw_co_create).
          String failure = createFailure(held, target);
          if (failure != null) {
            deferred = List.of("qemu-img: " + target + ": error while converting "
                + (p.option("O") == null ? "raw" : p.option("O")) + ": " + failure,
                hint(target));
          }
        }
      }
      case "bitmap" -> {
        if (ops.isEmpty()) {
          return null;
        }
        steps.add(List.of(new Open(ops.get(0), fmt, CONSISTENT_READ | WRITE, ALL, false, false,
            true)));
        String source = p.option("b");
        if (source != null) {
          steps.add(List.of(new Open(source, p.option("F"), CONSISTENT_READ, ALL, false, false,
              false)));
        }
      }
      case "commit" -> {
        if (ops.size() != 1) {
          return null;
        }
        steps.add(List.of(new Open(ops.get(0), fmt, CONSISTENT_READ | WRITE, ALL, true, false,
            true)));
        base = p.option("b") == null ? "" : p.option("b");
      }
      case "amend" -> {
        if (ops.size() != 1) {
          return null;
        }
        steps.add(List.of(new Open(ops.get(0), fmt, CONSISTENT_READ | WRITE, ALL, true, false,
            true)));
      }
      case "resize" -> {
        if (ops.size() != 1) {
          return null;
        }
        steps.add(List.of(new Open(ops.get(0), fmt, CONSISTENT_READ | WRITE | RESIZE, ALL, true,
            false, true)));
      }
      case "rebase" -> {
        if (ops.size() != 1) {
          return null;
        }
        boolean unsafe = p.option("u") != null;
        steps.add(List.of(new Open(ops.get(0), fmt, CONSISTENT_READ | WRITE, ALL, !unsafe,
            false, true)));
        String newBacking = p.option("b");
        if (!unsafe && newBacking != null && !newBacking.isEmpty()) {
          String path = Path.of(ops.get(0)).resolveSibling(newBacking).normalize().toString();
          steps.add(List.of(new Open(path, p.option("F"), CONSISTENT_READ, ALL, true, force,
              false, "Could not open new backing file '" + newBacking + "': ")));
        }
      }
      default -> {
        return null;
      }
    }
    for (List<Open> step : steps) {
      for (Open open : step) {
        List<String> failure = open(storage, held, open);
        if (failure != null) {
          return new ImgOutcome(failure, exit);
        }
      }
    }
    if (base != null) {
      // commit_active_start reopens the base read-write: its qcow2 file now takes write and
      // resize (bdrv_reopen_set_read_only); the error has no prefix.
      List<ImageChain.Layer> layers;
      try {
        layers = ImageChain.layers(storage, ops.get(0), fmt);
      } catch (ImageChain.ChainError | HostIoException e) {
        return null;
      }
      for (int i = 1; i < layers.size(); i++) {
        ImageChain.Layer layer = layers.get(i);
        boolean isBase = base.isEmpty() ? i == 1
            : Path.of(layer.path()).normalize().equals(Path.of(base).normalize());
        if (isBase && layer.format().equals("qcow2")) {
          String failure = test(held.apply(layer.path()), layer.path(),
              CONSISTENT_READ | WRITE | RESIZE, ALL & ~(WRITE | RESIZE));
          if (failure != null) {
            return new ImgOutcome(List.of("qemu-img: " + failure, hint(layer.path())), 1);
          }
        }
      }
    }
    return deferred == null ? null : new ImgOutcome(deferred, exit);
  }

  static String hint(String file) {
    return "Is another process using the image [" + file + "]?";
  }

  /**
   * raw_co_create (create, and convert's new target): the file is locked taking write and
   * resize and sharing all but resize before anything is written; QEMU's message, or null.
   */
  static String createFailure(Function<String, Held> held, String target)
      throws StepException {
    return test(held.apply(target), target, WRITE | RESIZE, ALL & ~RESIZE);
  }

  /** The lines qemu-img prints when one of the files of {@code open} is locked, or null. */
  private static List<String> open(HostStorage storage, Function<String, Held> held, Open open)
      throws StepException {
    List<ImageChain.Layer> layers;
    try {
      layers = ImageChain.layers(storage, open.path(), open.format(), open.backing());
    } catch (ImageChain.ChainError | HostIoException e) {
      return null; // The sub-command reports the missing file.
    }
    int nodePerm = open.perm();
    int nodeShared = open.forceShare() ? ALL : open.shared();
    String prefix = "qemu-img: " + open.prefix();
    for (int i = 0; i < layers.size(); i++) {
      ImageChain.Layer layer = layers.get(i);
      boolean writable = i == 0 && open.writable();
      if (i > 0) {
        // bdrv_default_perms_for_cow, from the layer above.
        int above = nodeShared;
        nodePerm &= CONSISTENT_READ;
        nodeShared = open.forceShare() ? ALL : ((above & WRITE) != 0 ? WRITE | RESIZE : 0)
            | CONSISTENT_READ | WRITE_UNCHANGED;
        prefix += "Could not open backing file: ";
      }
      boolean noIo = (open.perm() & CONSISTENT_READ) == 0;
      List<String[]> files = new ArrayList<>();
      if (layer.format().equals("qcow2")) {
        String dataFile = dataFile(storage, layer.path());
        int perm = nodePerm | (noIo ? 0 : CONSISTENT_READ) | (writable ? WRITE | RESIZE : 0);
        int shared = nodeShared & ~(WRITE | RESIZE);
        if (dataFile == null) {
          perm = data(perm);
        }
        files.add(new String[] {layer.path(), Integer.toString(perm),
            Integer.toString(open.forceShare() ? ALL : shared)});
        if (dataFile != null) {
          files.add(new String[] {dataFile, Integer.toString(data(nodePerm)),
              Integer.toString(open.forceShare() ? ALL : nodeShared & ~RESIZE)});
        }
      } else {
        files.add(new String[] {layer.path(), Integer.toString(nodePerm),
            Integer.toString(nodeShared)});
      }
      for (String[] file : files) {
        String failure = test(held.apply(file[0]), file[0], Integer.parseInt(file[1]),
            Integer.parseInt(file[2]));
        if (failure != null) {
          return List.of(prefix + failure, hint(file[0]));
        }
      }
    }
    return null;
  }

  /** bdrv_default_perms_for_storage's data child: write-unchanged needs write, write resize. */
  private static int data(int perm) {
    if ((perm & WRITE_UNCHANGED) != 0) {
      perm |= WRITE;
    }
    if ((perm & WRITE) != 0) {
      perm |= RESIZE;
    }
    return perm;
  }

  private static String dataFile(HostStorage storage, String image) {
    try {
      Qcow2Image.DataFileInfo info = Qcow2Image.dataFileInfo(storage.open(image), true);
      if (!info.hasDataFile() || info.dataFileName() == null) {
        return null;
      }
      return Path.of(image).resolveSibling(info.dataFileName()).normalize().toString();
    } catch (HostIoException | RuntimeException e) {
      return null;
    }
  }

  /** raw_check_lock_bytes against the daemon's bytes: QEMU's message, or null. */
  private static String test(Held held, String file, int perm, int shared)
      throws StepException {
    if (held.unmodelled() != null) {
      throw new StepException("img: the image locks that " + held.unmodelled() + " holds on '"
          + file + "' are not modelled");
    }
    for (int bit = 1; bit <= ALL; bit <<= 1) {
      if ((perm & bit) != 0 && (held.unshared() & bit) != 0) {
        return "Failed to get \"" + FileLocks.permName(bit) + "\" lock";
      }
    }
    for (int bit = 1; bit <= ALL; bit <<= 1) {
      if ((shared & bit) == 0 && (held.perm() & bit) != 0) {
        return "Failed to get shared \"" + FileLocks.permName(bit) + "\" lock";
      }
    }
    return null;
  }
}
