package io.blocksim.sim.backend;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.FileLocks;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.sim.guest.QemuIoCommand;
import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import io.blocksim.sim.scenario.ImgCommandLine;
import io.blocksim.sim.scenario.ShellWords;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The {@code qemu-img} subcommands of the {@code img:} step, on the fake disk, printing what
 * qemu-img 7.2 prints.
 */
final class QemuImg {
  private QemuImg() {}

  static ImgOutcome run(HostStorage storage, String command) throws StepException {
    return run(storage, command, false, path -> FileLocks.Held.NONE);
  }

  /**
   * As above; with qbm (proposal:qbm) {@code create -f qbm} makes a QBM image; {@code locks}
   * gives the image-lock bytes the daemon holds on a file (QemuImgLocks).
   */
  static ImgOutcome run(HostStorage storage, String command, boolean qbm,
      Function<String, FileLocks.Held> locks) throws StepException {
    List<String> words;
    try {
      // Split as the real-QEMU backend splits it, quotes and all.
      words = new ArrayList<>(ShellWords.split(command));
    } catch (IllegalArgumentException e) {
      throw new StepException("img: " + e.getMessage());
    }
    if (!words.isEmpty() && words.get(0).equals("qemu-img")) {
      words.remove(0);
    }
    String verb = words.isEmpty() ? "" : words.remove(0);
    try {
      numbersParsedBeforeOpen(verb, words);
      ImgOutcome locked = QemuImgLocks.check(storage, locks, verb, words);
      if (locked != null) {
        return locked;
      }
      return withOpenWarnings(openWarnings(storage, verb, words), switch (verb) {
        case "create" -> create(storage, words, qbm, locks);
        case "compare" -> compare(storage, words);
        case "rebase" -> QemuImgRebase.run(storage, words);
        case "commit" -> QemuImgCommit.run(storage, words);
        case "convert" -> QemuImgConvert.run(storage, words);
        case "resize" -> QemuImgResize.run(storage, words);
        case "amend" -> QemuImgAmend.run(storage, words);
        case "info" -> QemuImgInfo.info(storage, words);
        case "check" -> QemuImgInfo.check(storage, words);
        case "bitmap" -> QemuImgInfo.bitmap(storage, words);
        default -> throw new StepException("img: 'qemu-img " + verb
            + "' is not supported by the simulator yet");
      });
    } catch (HostIoException e) {
      return new ImgOutcome(List.of("qemu-img: " + e.getMessage()), 1);
    } catch (BadNumber e) {
      return new ImgOutcome(e.lines, 1);
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      // Words the models below do not read: refused as not modelled, never an internal error.
      throw new StepException("img: '" + command + "' is not supported by the simulator ("
          + e.getMessage() + ")");
    }
  }

  /**
   * The numbers qemu-img parses with its options, before it opens any image (so before an image
   * lock can fail it): bitmap's granularity (img_bitmap's getopt loop) and resize's size
   * (img_resize sets it in its QemuOpts before img_open). Each subcommand parses them again.
   */
  private static void numbersParsedBeforeOpen(String verb, List<String> words) {
    if (verb.equals("bitmap")) {
      for (int i = 0; i + 1 < words.size(); i++) {
        if (words.get(i).equals("-g") || words.get(i).equals("--granularity")) {
          cvtnum(words.get(i + 1), "granularity");
        }
      }
    } else if (verb.equals("resize") && words.size() >= 2) {
      String size = words.get(words.size() - 1);
      optionSize(size.startsWith("+") || size.startsWith("-") ? size.substring(1) : size, "size",
          "qemu-img: ");
    }
  }

  /** A number qemu-img refuses, with qemu-img's own lines (exit 1). */
  static final class BadNumber extends RuntimeException {
    final List<String> lines;

    BadNumber(List<String> lines) {
      super(lines.get(0));
      this.lines = lines;
    }
  }

  /**
   * Parses a number as qemu-img's cvtnum does for {@code what} ("image size" for create's size,
   * "granularity" for bitmap's), failing with its text: "Invalid image size specified. You may
   * use k, M, G, T, P or E suffixes for" and the kilobytes line (qemu-img.c, cvtnum_full).
   */
  static long cvtnum(String text, String what) {
    try {
      long n = QemuIoCommand.parseNumber(text, what);
      if (n >= 0) {
        return n;
      }
    } catch (IllegalArgumentException e) {
      // Below.
    }
    throw new BadNumber(List.of("qemu-img: Invalid " + what + " specified. You may use k, M, G,"
        + " T, P or E suffixes for", "qemu-img: kilobytes, megabytes, gigabytes, terabytes,"
        + " petabytes and exabytes."));
  }

  /**
   * Parses a size option as QemuOpts does (qemu-option.c, parse_option_size), failing with its
   * text; {@code prefix} is "qemu-img: " or "qemu-img: FILE: ".
   */
  static long optionSize(String text, String name, String prefix) {
    try {
      long n = QemuIoCommand.parseNumber(text == null ? "" : text, name);
      if (n >= 0) {
        return n;
      }
    } catch (IllegalArgumentException e) {
      // Below.
    }
    throw new BadNumber(List.of(prefix + "Parameter '" + name + "' expects a non-negative number"
        + " below 2^64", "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-,"
        + " peta-", "and exabytes, respectively."));
  }

  /**
   * What qcow2_read_extensions prints while opening each qcow2 image of the command whose
   * bitmaps extension has its autoclear bit clear (a v2 image always: docs/qemu-behaviour.md
   * §21.2): a warning and a hint, the hint without a newline. Modelled for the sub-commands that
   * open one image and its backing chain (info, check, amend, resize, bitmap's target); the
   * others open no image that could carry it in the bundled scenarios.
   */
  private static List<String> openWarnings(HostStorage storage, String verb, List<String> words)
      throws HostIoException {
    if (!List.of("info", "check", "amend", "resize", "bitmap").contains(verb)) {
      return List.of();
    }
    List<String> files;
    try {
      List<String> all = new ArrayList<>(words);
      all.add(0, verb);
      files = ImgCommandLine.parse(all).files();
    } catch (IllegalArgumentException e) {
      return List.of();
    }
    if (files.isEmpty()) {
      return List.of();
    }
    // bitmap names its -b source before the target among the files; the target is opened first.
    String image = verb.equals("bitmap") ? files.get(files.size() - 1) : files.get(0);
    List<String> layers = new ArrayList<>();
    try {
      for (ImageChain.Layer layer : ImageChain.layers(storage, image, null,
          !verb.equals("info") || words.contains("--backing-chain"))) {
        layers.add(layer.path());
      }
    } catch (ImageChain.ChainError | HostIoException e) {
      return List.of();
    }
    List<String> lines = new ArrayList<>();
    for (String path : layers) {
      if (!Images.probeFormat(storage, path).equals("qcow2")) {
        continue;
      }
      io.blocksim.model.driver.qcow2.Qcow2Image header;
      try {
        header = io.blocksim.model.driver.qcow2.Qcow2Image.open(storage.open(path), true);
      } catch (HostIoException e) {
        continue;
      }
      if (header.bitmapsDropped()) {
        lines.add(header.version() < 3
            ? "qemu-img: warning: This qcow2 v2 image contains bitmaps, but they may have been"
                + " modified by a program without persistent bitmap support; so now they must"
                + " all be considered inconsistent"
            : "qemu-img: warning: a program lacking bitmap support modified this file, so all"
                + " bitmaps are now considered inconsistent");
        lines.add(UNTERMINATED + "Some clusters may be leaked, run 'qemu-img check -r' on the"
            + " image file to fix.");
      }
    }
    return lines;
  }

  /** Marks a line printed without its newline (error_printf): the next line continues it. */
  private static final String UNTERMINATED = "\u0000";

  /** The open warnings first (stderr, at open), each unterminated line joined with the next. */
  private static ImgOutcome withOpenWarnings(List<String> warnings, ImgOutcome outcome) {
    if (warnings.isEmpty()) {
      return outcome;
    }
    List<String> all = new ArrayList<>(warnings);
    all.addAll(outcome.lines());
    List<String> lines = new ArrayList<>();
    String pending = null;
    for (String line : all) {
      String text = line.startsWith(UNTERMINATED) ? line.substring(1) : line;
      String joined = pending == null ? text : pending + text;
      pending = null;
      if (line.startsWith(UNTERMINATED)) {
        pending = joined;
      } else {
        lines.add(joined);
      }
    }
    if (pending != null) {
      lines.add(pending);
    }
    return new ImgOutcome(lines, outcome.exitCode());
  }

  private static ImgOutcome create(HostStorage storage, List<String> words, boolean qbm,
      Function<String, FileLocks.Held> locks) throws StepException, HostIoException {
    String format = "raw";
    String backing = null;
    String backingFormat = null;
    Long clusterSize = null;
    String compat = null;
    String dataFile = null;
    String dataFileRaw = null;
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "-f" -> format = arg(words, ++i, w);
        case "-b" -> backing = arg(words, ++i, w);
        case "-F" -> backingFormat = arg(words, ++i, w);
        case "-o" -> {
          for (String option : arg(words, ++i, w).split(",")) {
            String[] kv = option.split("=", 2);
            switch (kv[0]) {
              case "cluster_size" -> clusterSize = optionSize(kv.length > 1 ? kv[1] : null,
                  "cluster_size", "qemu-img: " + createTarget(words) + ": ");
              case "backing_file" -> backing = kv[1];
              case "backing_fmt" -> backingFormat = kv[1];
              case "data_file" -> dataFile = kv[1];
              case "data_file_raw" -> {
                if (!kv[1].equals("on") && !kv[1].equals("off")) {
                  throw new StepException("img create: data_file_raw=" + kv[1]
                      + " is not supported");
                }
                dataFileRaw = kv[1];
              }
              case "compat" -> {
                if (!kv[1].equals("0.10") && !kv[1].equals("1.1") && !kv[1].equals("v2")
                    && !kv[1].equals("v3")) {
                  throw new StepException("img create: compat=" + kv[1] + " is not supported");
                }
                compat = kv[1];
              }
              default -> throw new StepException("img create: option '" + kv[0]
                  + "' is not supported by the simulator");
            }
          }
        }
        default -> positional.add(w);
      }
    }
    if (positional.size() != 2 && (positional.size() != 1 || backing == null)) {
      throw new StepException("img create takes FILE SIZE, or FILE without a size with -b");
    }
    String path = positional.get(0);
    long size;
    if (positional.size() == 2) {
      size = cvtnum(positional.get(1), "image size");
    } else {
      // bdrv_img_create: no size, so the backing file's length (opened with force-share, so
      // a node's image locks do not matter), its name taken relative to the new image's.
      String full = java.nio.file.Path.of(path).resolveSibling(backing).normalize().toString();
      if (backingFormat == null || !storage.exists(full)) {
        throw new StepException("img create without a size: a backing file that is missing or"
            + " given without -F is not modelled");
      }
      size = ImageReader.open(storage, full, backingFormat).length();
    }
    if (backing != null && backingFormat == null) {
      return new ImgOutcome(List.of(
          "qemu-img: " + path + ": Backing file specified without backing format",
          "Detected format of " + Images.probeFormat(storage, backing) + "."), 1);
    }
    if (format.equals("qbm")) {
      if (!qbm) {
        return new ImgOutcome(List.of("qemu-img: " + path + ": Unknown file format 'qbm'"), 1);
      }
      if (backing != null || clusterSize != null || compat != null || dataFile != null
          || dataFileRaw != null) {
        throw new StepException("img create: -f qbm takes no options in the simulator");
      }
      QbmImages.create(storage, path, Images.roundUpToSector(size));
      return new ImgOutcome(List.of("Formatting '" + path + "', fmt=qbm size=" + size), 0);
    }
    if ((dataFile != null || dataFileRaw != null) && !format.equals("qcow2")) {
      throw new StepException("img create: data_file needs -f qcow2");
    }
    if ("on".equals(dataFileRaw) && dataFile == null) {
      return new ImgOutcome(List.of("qemu-img: " + path + ": data-file-raw requires data-file"),
          1);
    }
    if (dataFile != null && ("0.10".equals(compat) || "v2".equals(compat))) {
      return new ImgOutcome(List.of("qemu-img: " + path + ": External data files are only "
          + "supported with compatibility level 1.1 and above (use version=v3 or greater)"), 1);
    }
    if ("on".equals(dataFileRaw) && backing != null) {
      return new ImgOutcome(List.of("qemu-img: " + path + ": Backing file and data-file-raw "
          + "cannot be used at the same time"), 1);
    }
    Map<String, Object> options = new java.util.LinkedHashMap<>();
    if (compat != null) {
      options.put("compat", compat);
    }
    if (dataFile != null) {
      options.put(Images.DATA_FILE, dataFile);
      options.put(Images.DATA_FILE_RAW, "on".equals(dataFileRaw));
    }
    String locked = storage.exists(path) ? QemuImgLocks.createFailure(locks, path) : null;
    if (locked == null) {
      Images.create(storage, new ImageSpec(path, format, size, backing, backingFormat,
          clusterSize, options));
    }
    StringBuilder line = new StringBuilder("Formatting '" + path + "', fmt=" + format);
    if (format.equals("qcow2")) {
      line.append(" cluster_size=").append(clusterSize == null ? 65536 : clusterSize)
          .append(" extended_l2=off compression_type=zlib");
    }
    line.append(" size=").append(size);
    if (compat != null) {
      line.append(" compat=").append(compat);
    }
    if (backing != null) {
      line.append(" backing_file=").append(backing).append(" backing_fmt=").append(backingFormat);
    }
    if (dataFile != null) {
      line.append(" data_file=").append(dataFile);
    }
    if (dataFileRaw != null) {
      line.append(" data_file_raw=").append(dataFileRaw);
    }
    if (format.equals("qcow2")) {
      line.append(" lazy_refcounts=off refcount_bits=16");
    }
    if (locked != null) {
      // The Formatting line is flushed before raw_co_create meets the daemon's locks.
      return new ImgOutcome(List.of(line.toString(), "qemu-img: " + path + ": " + locked,
          QemuImgLocks.hint(path)), 1);
    }
    return new ImgOutcome(List.of(line.toString()), 0);
  }

  private static ImgOutcome compare(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    List<String> files = new ArrayList<>();
    for (String w : words) {
      if (!w.startsWith("-")) {
        files.add(w);
      }
    }
    if (files.size() != 2) {
      throw new StepException("img compare takes FILE1 FILE2");
    }
    ImageReader a = ImageReader.open(storage, files.get(0));
    ImageReader b = ImageReader.open(storage, files.get(1));
    List<String> lines = new ArrayList<>();
    if (a.length() != b.length()) {
      lines.add("Warning: Image size mismatch!");
    }
    long common = Math.min(a.length(), b.length());
    long offset = 0;
    // One pair of buffers for the whole comparison (a new pair per megabyte was zeroed for
    // nothing: every byte of it is read over).
    byte[] da = new byte[(int) Math.min(1 << 20, Math.max(common, 0))];
    byte[] db = new byte[da.length];
    while (offset < common) {
      // Like qemu-img compare, skip what both chains report as zero without reading it.
      BlockStatus sa = BlockIo.blockStatusAbove(a.node(), offset, common - offset);
      BlockStatus sb = BlockIo.blockStatusAbove(b.node(), offset, common - offset);
      long run = Math.min(sa.lengthBytes(), sb.lengthBytes());
      if (sa.zero() && sb.zero()) {
        offset += run;
        continue;
      }
      int chunk = (int) Math.min(1 << 20, run);
      a.read(offset, da, chunk);
      b.read(offset, db, chunk);
      int mismatch = Arrays.mismatch(da, 0, chunk, db, 0, chunk);
      if (mismatch >= 0) {
        lines.add("Content mismatch at offset " + (offset + (mismatch & ~511)) + "!");
        return new ImgOutcome(lines, 1);
      }
      offset += chunk;
    }
    ImageReader longer = a.length() > b.length() ? a : b;
    for (offset = common; offset < longer.length(); offset += 1 << 20) {
      int chunk = (int) Math.min(1 << 20, longer.length() - offset);
      byte[] data = new byte[chunk];
      longer.read(offset, data);
      for (int i = 0; i < chunk; i++) {
        if (data[i] != 0) {
          lines.add("Content mismatch at offset " + (offset + (i & ~511)) + "!");
          return new ImgOutcome(lines, 1);
        }
      }
    }
    lines.add("Images are identical.");
    return new ImgOutcome(lines, 0);
  }

  /** Returns the file a create command line names (its first operand), for error texts. */
  private static String createTarget(List<String> words) {
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (List.of("-f", "-b", "-F", "-o").contains(w)) {
        i++;
      } else if (!w.startsWith("-")) {
        return w;
      }
    }
    return "";
  }

  static String arg(List<String> words, int i, String option) throws StepException {
    if (i >= words.size()) {
      throw new StepException("img: option " + option + " needs a value");
    }
    return words.get(i);
  }
}
