package io.blocksim.sim.backend;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.qcow2.Qcow2Check;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.loop.NoTimeScheduler;
import io.blocksim.sim.disk.FakeDisk;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code qemu-img info}, {@code check} and {@code bitmap} on the fake disk, printing what
 * qemu-img 7.2 prints (qemu-img.c img_info, img_check, img_bitmap; block/qapi.c
 * bdrv_image_info_dump). Sizes on the host ({@code disk size}) are the fake disk's allocated
 * 4 KiB pages.
 */
final class QemuImgInfo {
  private QemuImgInfo() {}

  /** Options common to info and check: -f FMT, --output=FMT, -U, --force-share. */
  private record Common(String file, String format, boolean json) {}

  private static Common common(String verb, List<String> words, Set<String> flags)
      throws StepException {
    String format = null;
    String output = "human";
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (w.equals("-f")) {
        format = QemuImg.arg(words, ++i, w);
      } else if (w.equals("--output")) {
        output = QemuImg.arg(words, ++i, w);
      } else if (w.startsWith("--output=")) {
        output = w.substring("--output=".length());
      } else if (w.equals("-U") || w.equals("--force-share") || flags.contains(w)) {
        continue;
      } else if (w.startsWith("-")) {
        throw new StepException("img " + verb + ": option '" + w
            + "' is not supported by the simulator");
      } else {
        positional.add(w);
      }
    }
    if (positional.size() != 1) {
      throw new StepException("img " + verb + " takes one FILE");
    }
    if (!output.equals("human") && !output.equals("json")) {
      throw new StepException("img " + verb + ": --output=" + output + " is not supported");
    }
    return new Common(positional.get(0), format, output.equals("json"));
  }

  // ---------------------------------------------------------------- info

  /**
   * qemu-img info; with {@code --backing-chain} every image of the chain in turn (the backing
   * file's format probed), separated by a blank line, or a JSON list.
   */
  static ImgOutcome info(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    Common c = common("info", words, Set.of("--backing-chain"));
    if (!words.contains("--backing-chain")) {
      return describe(storage, c.file(), c.format(), c.json()).outcome();
    }
    List<String> out = new ArrayList<>();
    List<Object> list = new ArrayList<>();
    String path = c.file();
    String format = c.format();
    while (path != null) {
      Map<String, Object> spelled = io.blocksim.model.qapi.JsonFilename.options(path);
      if (spelled != null && spelled.get("backing") instanceof Map<?, ?>) {
        // collect_image_info_list opens each image with BDRV_O_NO_BACKING: a json: name that
        // spells a backing file leaves those options unused, which bdrv_open_inherit refuses.
        String driver = spelled.get("driver") instanceof String d ? d
            : format != null ? format : "raw";
        return new ImgOutcome(List.of("qemu-img: Could not open '" + path + "': Block format '"
            + driver + "' does not support the option '"
            + io.blocksim.model.graph.NodeFilenames.firstFlattenedKey("backing",
                spelled.get("backing")) + "'"), 1);
      }
      Description d = describe(storage, path, format, c.json());
      if (d.info() == null) {
        return d.outcome();
      }
      if (!out.isEmpty()) {
        out.add("");
      }
      out.addAll(d.outcome().lines());
      list.add(d.info());
      path = (String) d.info().get("backing-filename");
      format = (String) d.info().get("backing-filename-format");
    }
    return new ImgOutcome(c.json() ? List.of(qemuJson(list, 0).split("\n")) : out, 0);
  }

  /** One image's ImageInfo (null when it cannot be opened) and what info prints for it. */
  private record Description(Map<String, Object> info, ImgOutcome outcome) {}

  private static Description describe(HostStorage storage, String path, String givenFormat,
      boolean json) throws HostIoException {
    Common c = new Common(path, givenFormat, json);
    // A json: name (a backing file name QEMU wrote for a node over blkdebug, say) names the format
    // and, below any protocol wrappers, the host file.
    String hostPath = c.file();
    String spelledFormat = null;
    boolean wrapped = false;
    Map<String, Object> spelled = io.blocksim.model.qapi.JsonFilename.options(path);
    if (spelled != null) {
      spelledFormat = spelled.get("driver") instanceof String d ? d : null;
      JsonHostFile host = jsonHostFile(spelled.get("file"));
      if (host == null) {
        return new Description(null, new ImgOutcome(List.of("qemu-img: Could not open '" + path
            + "': json: file name not modelled by the simulator"), 1));
      }
      hostPath = host.path();
      wrapped = host.wrapped();
    }
    HostFile file = openFile(storage, hostPath);
    if (file == null) {
      return new Description(null, couldNotOpen(c.file()));
    }
    String format = c.format() != null ? c.format() : spelledFormat != null ? spelledFormat
        : Images.probeFormat(storage, c.file());
    // bdrv_get_allocated_file_size: a protocol node other than file (blkdebug) answers ENOTSUP,
    // which a format node's sum over its children passes up: "disk size: unavailable".
    Long actual = wrapped ? null : storage instanceof FakeDisk disk
        ? disk.pageCount(hostPath) * 4096L : file.length();
    Map<String, Object> info = new LinkedHashMap<>();
    Qcow2Image image = null;
    if (format.equals("qcow2")) {
      try {
        image = Qcow2Image.open(file, true);
      } catch (HostIoException e) {
        return new Description(null, new ImgOutcome(List.of("qemu-img: Could not open '"
            + c.file() + "': " + e.getMessage()), 1));
      }
      if (image.backingFileName() != null && image.backingFormat() != null) {
        info.put("backing-filename-format", image.backingFormat());
      }
    }
    // bdrv_getlength: total_sectors, the file's length rounded up to 512 for a raw image.
    long virtualSize = image != null ? image.virtualSize() : (file.length() + 511) / 512 * 512;
    info.put("virtual-size", virtualSize);
    info.put("filename", c.file());
    if (image != null) {
      info.put("cluster-size", image.clusterSize());
    }
    info.put("format", format);
    if (actual != null) {
      info.put("actual-size", actual);
    }
    List<Qcow2Image.BitmapEntry> bitmaps = List.of();
    if (image != null) {
      bitmaps = image.bitmapDirectory();
      Map<String, Object> data = new LinkedHashMap<>();
      boolean v3 = image.version() >= 3;
      data.put("compat", v3 ? "1.1" : "0.10");
      data.put("compression-type", "zlib");
      if (v3) {
        data.put("lazy-refcounts", false);
      }
      if (!bitmaps.isEmpty()) {
        List<Object> list = new ArrayList<>();
        for (Qcow2Image.BitmapEntry b : bitmaps) {
          Map<String, Object> m = new LinkedHashMap<>();
          m.put("flags", flags(b.flags()));
          m.put("name", b.name());
          m.put("granularity", b.granularityBytes());
          list.add(m);
        }
        data.put("bitmaps", list);
      }
      data.put("refcount-bits", image.refcountBits());
      if (image.dataFileName() != null) {
        data.put("data-file", image.dataFileName());
      }
      if (image.hasDataFile()) {
        data.put("data-file-raw", image.dataFileIsRaw());
      }
      if (v3) {
        data.put("corrupt", (image.incompatibleFeatures() & 2) != 0);
        data.put("extended-l2", false);
      }
      info.put("format-specific", Json.object("type", "qcow2", "data", data));
      if (image.backingFileName() != null) {
        info.put("full-backing-filename", image.backingFileName());
        info.put("backing-filename", image.backingFileName());
      }
    }
    info.put("dirty-flag", false);
    if (c.json()) {
      return new Description(info, new ImgOutcome(List.of(qemuJson(info, 0).split("\n")), 0));
    }
    List<String> out = new ArrayList<>();
    out.add("image: " + c.file());
    out.add("file format: " + format);
    out.add("virtual size: " + sizeToString(virtualSize) + " (" + virtualSize + " bytes)");
    out.add("disk size: " + (actual == null ? "unavailable" : sizeToString(actual)));
    if (image != null) {
      out.add("cluster_size: " + image.clusterSize());
      if (image.backingFileName() != null) {
        out.add("backing file: " + image.backingFileName());
        if (image.backingFormat() != null) {
          out.add("backing file format: " + image.backingFormat());
        }
      }
      out.add("Format specific information:");
      @SuppressWarnings("unchecked")
      Map<String, Object> data = (Map<String, Object>) ((Map<String, Object>)
          info.get("format-specific")).get("data");
      humanDump(data, 1, out);
    }
    return new Description(info, new ImgOutcome(out, 0));
  }

  private static List<Object> flags(int flags) {
    List<Object> list = new ArrayList<>();
    if ((flags & Qcow2Image.BitmapEntry.IN_USE) != 0) {
      list.add("in-use");
    }
    if ((flags & Qcow2Image.BitmapEntry.AUTO) != 0) {
      list.add("auto");
    }
    return list;
  }

  /** bdrv_image_info_specific_dump: keys with '-' shown with ' ', lists as [i]:. */
  private static void humanDump(Map<String, Object> map, int depth, List<String> out) {
    for (Map.Entry<String, Object> e : map.entrySet()) {
      String key = e.getKey().replace('-', ' ');
      dumpValue(key, e.getValue(), depth, out);
    }
  }

  @SuppressWarnings("unchecked")
  private static void dumpValue(String key, Object value, int depth, List<String> out) {
    String indent = "    ".repeat(depth);
    if (value instanceof Map<?, ?> m) {
      out.add(indent + key + ":");
      humanDump((Map<String, Object>) m, depth + 1, out);
    } else if (value instanceof List<?> list) {
      out.add(indent + key + ":");
      for (int i = 0; i < list.size(); i++) {
        dumpValue("[" + i + "]", list.get(i), depth + 1, out);
      }
    } else {
      out.add(indent + key + ": " + value);
    }
  }

  /** QEMU's qobject_to_json_pretty: 4 spaces, an empty list as "[", newline, "]". */
  static String qemuJson(Object value, int depth) {
    String indent = "    ".repeat(depth);
    String inner = "    ".repeat(depth + 1);
    if (value instanceof Map<?, ?> map) {
      StringBuilder b = new StringBuilder("{");
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        b.append(first ? "\n" : ",\n").append(inner).append(Json.compact(e.getKey()))
            .append(": ").append(qemuJson(e.getValue(), depth + 1));
        first = false;
      }
      return b.append('\n').append(indent).append('}').toString();
    }
    if (value instanceof List<?> list) {
      StringBuilder b = new StringBuilder("[");
      boolean first = true;
      for (Object element : list) {
        b.append(first ? "\n" : ",\n").append(inner).append(qemuJson(element, depth + 1));
        first = false;
      }
      return b.append('\n').append(indent).append(']').toString();
    }
    return Json.compact(value);
  }

  /** size_to_str: three significant digits with the binary unit that keeps the value < 1000. */
  static String sizeToString(long value) {
    String[] suffixes = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    double scaled = value / (1000.0 / 1024.0);
    int exponent = scaled == 0 ? 0 : Math.getExponent(scaled) + 1;
    int i = Math.max(0, (exponent - 1) / 10);
    double shown = (double) value / (1L << (i * 10));
    String number = new BigDecimal(shown).round(new MathContext(3, RoundingMode.HALF_EVEN))
        .stripTrailingZeros().toPlainString();
    return number + " " + suffixes[i] + "B";
  }

  // ---------------------------------------------------------------- check

  /**
   * qemu-img check (img_check): read-only, or with {@code -r leaks}/{@code -r all} read-write
   * (BDRV_O_CHECK | BDRV_O_RDWR: persistent bitmaps are loaded, so consistent ones are marked in
   * use and stored again at close, in-use ones stay in use). Messages of the check go to stderr
   * and come first; the repair report and the summary (stdout, suppressed by -q) follow.
   */
  static ImgOutcome check(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    List<String> rest = new ArrayList<>();
    String repair = null;
    boolean quiet = false;
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (w.equals("-r") || w.equals("--repair")) {
        repair = QemuImg.arg(words, ++i, w);
      } else if (w.startsWith("--repair=")) {
        repair = w.substring("--repair=".length());
      } else if (w.startsWith("-r") && !w.startsWith("--")) {
        repair = w.substring(2);
      } else if (w.equals("-q")) {
        quiet = true;
      } else {
        rest.add(w);
      }
    }
    if (repair != null && !repair.equals("leaks") && !repair.equals("all")) {
      return new ImgOutcome(List.of("qemu-img: Unknown option value for -r (expecting 'leaks' "
          + "or 'all'): " + repair, "Try 'qemu-img --help' for more information"), 1);
    }
    Common c = common("check", rest, Set.of());
    HostFile file = openFile(storage, c.file());
    if (file == null) {
      return couldNotOpen(c.file());
    }
    String format = c.format() != null ? c.format() : Images.probeFormat(storage, c.file());
    List<String> out = new ArrayList<>();
    if (repair != null && c.format() == null && format.equals("raw")) {
      out.addAll(probedRawWarning(c.file()));
    }
    if (!format.equals("qcow2")) {
      out.add("qemu-img: This image format does not support checks");
      return new ImgOutcome(out, 63);
    }
    try {
      Qcow2Image.open(file, true);
    } catch (HostIoException e) {
      return new ImgOutcome(List.of("qemu-img: Could not open '" + c.file() + "': "
          + e.getMessage()), 1);
    }
    List<String> stdout = new ArrayList<>();
    Qcow2Check.Result result;
    long leaksFixed = 0;
    if (repair == null) {
      result = Qcow2Check.check(file);
      out.addAll(result.messages());
    } else {
      List<ImageChain.Layer> layers;
      try {
        layers = ImageChain.layers(storage, c.file(), format);
      } catch (ImageChain.ChainError e) {
        return error(e.getMessage());
      }
      try (ImageChain chain = ImageChain.open(storage, layers, Set.of(0))) {
        Qcow2Image image = ((Qcow2Driver) chain.node(0).driver()).image();
        Qcow2Check.Result first = image.check(true);
        if (repair.equals("all") && (first.corruptions() > 0 || first.failure() != null)) {
          throw new StepException("img: qemu-img check -r all on an image with corruptions "
              + "(the refcount repair and rebuild of BDRV_FIX_ERRORS) is not supported by the "
              + "simulator");
        }
        out.addAll(first.messages());
        if (first.failure() != null) {
          out.add("qemu-img: Check failed: " + first.failure());
          return new ImgOutcome(out, 1);
        }
        result = first;
        leaksFixed = first.leaksFixed();
        if (leaksFixed > 0) {
          stdout.add("The following inconsistencies were found and repaired:");
          stdout.add("");
          stdout.add("    " + first.leaksFixed() + " leaked clusters");
          stdout.add("    0 corruptions");
          stdout.add("");
          stdout.add("Double checking the fixed image now...");
          result = image.check(false);
          out.addAll(result.messages());
        }
      } catch (ImageChain.ChainError e) {
        return error(e.getMessage());
      }
    }
    if (c.json()) {
      // QEMU prints the ImageCheck members in its QDict's hash order, as observed here.
      Map<String, Object> m = new LinkedHashMap<>();
      if (result.imageEndOffset() != 0) {
        m.put("image-end-offset", result.imageEndOffset());
      }
      if (result.totalClusters() != 0) {
        m.put("total-clusters", result.totalClusters());
      }
      if (result.corruptions() != 0) {
        m.put("corruptions", result.corruptions());
      }
      m.put("check-errors", result.checkErrors());
      if (result.leaks() != 0) {
        m.put("leaks", result.leaks());
      }
      if (leaksFixed != 0) {
        // Observed after "check-errors"/"leaks", before "allocated-clusters".
        m.put("leaks-fixed", leaksFixed);
      }
      if (result.allocatedClusters() != 0) {
        m.put("allocated-clusters", result.allocatedClusters());
      }
      m.put("filename", c.file());
      m.put("format", "qcow2");
      if (result.fragmentedClusters() != 0) {
        m.put("fragmented-clusters", result.fragmentedClusters());
      }
      if (result.compressedClusters() != 0) {
        m.put("compressed-clusters", result.compressedClusters());
      }
      stdout.clear();
      stdout.addAll(List.of(qemuJson(m, 0).split("\n")));
    } else {
      stdout.addAll(result.summary());
    }
    if (!quiet) {
      out.addAll(stdout);
    }
    return new ImgOutcome(out, result.exitCode());
  }

  /** What img_open prints when it probed a raw image it opens read-write. */
  static List<String> probedRawWarning(String filename) {
    return List.of("WARNING: Image format was not specified for '" + filename
        + "' and probing guessed raw.",
        "         Automatically detecting the format is dangerous for raw images, "
            + "write operations on block 0 will be restricted.",
        "         Specify the 'raw' format explicitly to remove the restrictions.");
  }

  // ---------------------------------------------------------------- bitmap

  /** qemu-img bitmap: the image opened read-write, QMP bitmap commands on it, then closed. */
  static ImgOutcome bitmap(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    List<String[]> actions = new ArrayList<>();
    String format = null;
    String sourceFile = null;
    String sourceFormat = null;
    Long granularity = null;
    boolean add = false;
    boolean merge = false;
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "--add" -> {
          actions.add(new String[] {"add"});
          add = true;
        }
        case "--remove" -> actions.add(new String[] {"remove"});
        case "--clear" -> actions.add(new String[] {"clear"});
        case "--enable" -> actions.add(new String[] {"enable"});
        case "--disable" -> actions.add(new String[] {"disable"});
        case "--merge" -> {
          actions.add(new String[] {"merge", QemuImg.arg(words, ++i, w)});
          merge = true;
        }
        case "-g", "--granularity" -> granularity = QemuImg.cvtnum(
            QemuImg.arg(words, ++i, w), "granularity");
        case "-b", "--source-file" -> sourceFile = QemuImg.arg(words, ++i, w);
        case "-F", "--source-format" -> sourceFormat = QemuImg.arg(words, ++i, w);
        case "-f" -> format = QemuImg.arg(words, ++i, w);
        default -> {
          if (w.startsWith("--merge=")) {
            actions.add(new String[] {"merge", w.substring("--merge=".length())});
            merge = true;
          } else if (w.startsWith("-")) {
            throw new StepException("img bitmap: option '" + w
                + "' is not supported by the simulator");
          } else {
            positional.add(w);
          }
        }
      }
    }
    if (actions.isEmpty()) {
      return error("Need at least one of --add, --remove, --clear, --enable, --disable, or "
          + "--merge");
    }
    if (granularity != null && granularity != 0 && !add) {
      return error("granularity only supported with --add");
    }
    if (sourceFormat != null && sourceFile == null) {
      return error("-F only supported with -b");
    }
    if (sourceFile != null && !merge) {
      return error("Merge bitmap source file only supported with --merge");
    }
    if (positional.size() != 2) {
      return error("Expecting filename and bitmap name");
    }
    String filename = positional.get(0);
    String name = positional.get(1);
    Engine engine = new Engine(NoTimeScheduler.INSTANCE, storage, Set.of());
    String node = "image";
    String openError = openNode(engine, storage, filename, format, node, false);
    if (openError != null) {
      return error(openError);
    }
    String sourceNode = node;
    if (sourceFile != null) {
      sourceNode = "source";
      openError = openNode(engine, storage, sourceFile, sourceFormat, sourceNode, true);
      if (openError != null) {
        closeAll(engine);
        return error(openError);
      }
    }
    List<String> out = new ArrayList<>();
    int exit = 0;
    for (String[] action : actions) {
      Map<String, Object> args = new LinkedHashMap<>();
      args.put("node", node);
      String command = "block-dirty-bitmap-" + action[0];
      if (action[0].equals("merge")) {
        args.put("target", name);
        args.put("bitmaps", List.of(Json.object("node", sourceNode, "name", action[1])));
      } else {
        args.put("name", name);
      }
      if (action[0].equals("add")) {
        if (granularity != null && granularity != 0) {
          args.put("granularity", granularity);
        }
        args.put("persistent", true);
      }
      Map<String, Object> reply = engine.execute(command, args);
      if (reply.containsKey("error")) {
        Map<?, ?> err = (Map<?, ?>) reply.get("error");
        out.addAll(List.of(("qemu-img: Operation " + action[0] + " on bitmap " + name
            + " failed: " + QemuImgResize.withHint(String.valueOf(err.get("desc"))))
            .split("\n")));
        exit = 1;
        break;
      }
    }
    closeAll(engine);
    return new ImgOutcome(out, exit);
  }

  private static String openNode(Engine engine, HostStorage storage, String filename,
      String format, String node, boolean readOnly) throws HostIoException {
    if (!storage.exists(filename)) {
      return "Could not open '" + filename + "': Could not open '" + filename
          + "': No such file or directory";
    }
    String driver = format != null ? format : Images.probeFormat(storage, filename);
    Map<String, Object> args = Json.object("driver", driver, "node-name", node,
        "read-only", readOnly, "file", Json.object("driver", "file", "filename", filename));
    if (driver.equals("qcow2")) {
      args.put("backing", null);
    }
    Map<String, Object> reply = engine.execute("blockdev-add", args);
    if (reply.containsKey("error")) {
      return "Could not open '" + filename + "': " + ((Map<?, ?>) reply.get("error"))
          .get("desc");
    }
    return null;
  }

  /** Closes every node, roots first, so qcow2 nodes store their persistent bitmaps. */
  static void closeAll(Engine engine) {
    BlockLayer layer = engine.layer();
    boolean closed = true;
    while (closed) {
      closed = false;
      for (BlockNode n : engine.graph().all()) {
        if (n.parents().isEmpty()) {
          layer.release(n);
          closed = true;
          break;
        }
      }
    }
  }

  private static ImgOutcome error(String message) {
    return new ImgOutcome(List.of("qemu-img: " + message), 1);
  }

  private static ImgOutcome couldNotOpen(String file) {
    return new ImgOutcome(List.of("qemu-img: Could not open '" + file + "': Could not open '"
        + file + "': No such file or directory"), 1);
  }

  /** The host file below a json: name's {@code file} options, and whether a protocol wraps it. */
  private record JsonHostFile(String path, boolean wrapped) {}

  /**
   * Follows {@code file} options down to a {@code file} driver's filename: through blkdebug's
   * {@code image} (options or a plain file name); null for anything else.
   */
  private static JsonHostFile jsonHostFile(Object file) {
    boolean wrapped = false;
    for (int depth = 0; depth < 8; depth++) {
      if (file instanceof String name) {
        return new JsonHostFile(name, wrapped);
      }
      if (!(file instanceof Map<?, ?> options)) {
        return null;
      }
      Object driver = options.get("driver");
      if ("file".equals(driver) && options.get("filename") instanceof String name) {
        return new JsonHostFile(name, wrapped);
      }
      if (!"blkdebug".equals(driver)) {
        return null;
      }
      wrapped = true;
      file = options.get("image");
    }
    return null;
  }

  private static HostFile openFile(HostStorage storage, String path) throws HostIoException {
    return storage.exists(path) ? storage.open(path) : null;
  }
}
