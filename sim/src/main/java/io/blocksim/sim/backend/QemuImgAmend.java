package io.blocksim.sim.backend;

import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code qemu-img amend [-f FMT] [-q] [--force] -o OPTIONS FILE} (qemu-img.c img_amend,
 * block/qcow2.c qcow2_amend_options): the image is opened read-write (its persistent bitmaps
 * loaded, stored again at close) and the options applied in qcow2_amend_options' order. What
 * blocksim does not model is refused by name: lazy refcounts, another refcount width, a new data
 * file name, dropping data_file_raw, encryption, and a downgrade that would have to convert zero
 * clusters. A downgrade with persistent bitmaps is QEMU's: docs/qemu-behaviour.md §21.2.
 */
final class QemuImgAmend {
  private QemuImgAmend() {}

  /** qcow2_amend_opts in their QemuOptsList order (QCOW_COMMON_OPTIONS after encrypt.*). */
  private static final List<String> AMEND_OPTIONS = List.of("encrypt.state", "encrypt.keyslot",
      "encrypt.old-secret", "encrypt.new-secret", "encrypt.iter-time", "size", "compat",
      "backing_file", "backing_fmt", "data_file", "data_file_raw", "lazy_refcounts",
      "refcount_bits");

  /** qcow2's creation options that are not amend options (qcow2_create_opts). */
  private static final Set<String> CREATE_ONLY = Set.of("cluster_size", "preallocation",
      "compression_type", "extended_l2", "encryption", "encrypt.format", "encrypt.key-secret",
      "encrypt.cipher-alg", "encrypt.cipher-mode", "encrypt.ivgen-alg", "encrypt.ivgen-hash-alg",
      "encrypt.hash-alg");

  /** print_amend_option_help for qcow2, as qemu-img 7.2 prints it. */
  private static final List<String> QCOW2_HELP = List.of(
      "Amend options for 'qcow2':",
      "  backing_file=<str>     - File name of a base image",
      "  backing_fmt=<str>      - Image format of the base image",
      "  compat=<str>           - Compatibility level (v2 [0.10] or v3 [1.1])",
      "  data_file=<str>        - File name of an external data file",
      "  data_file_raw=<bool (on/off)> - The external data file must stay valid as a raw image",
      "  encrypt.iter-time=<num> - Time to spend in PBKDF in milliseconds",
      "  encrypt.keyslot=<num>  - Select a single keyslot to modify explicitly",
      "  encrypt.new-secret=<str> - New secret to set in the matching keyslots. Empty string to"
          + " erase",
      "  encrypt.old-secret=<str> - Select all keyslots that match this password",
      "  encrypt.state=<str>    - Select new state of affected keyslots (active/inactive)",
      "  lazy_refcounts=<bool (on/off)> - Postpone refcount updates",
      "  refcount_bits=<num>    - Width of a reference count entry in bits",
      "  size=<size>            - Virtual disk size");

  static ImgOutcome run(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    String format = null;
    StringBuilder options = null;
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (w.equals("-o") || (w.startsWith("-o") && !w.startsWith("--"))) {
        String value = w.equals("-o") ? QemuImg.arg(words, ++i, w) : w.substring(2);
        // accumulate_options: several -o are joined with commas.
        options = options == null ? new StringBuilder(value) : options.append(',').append(value);
      } else if (w.equals("-f")) {
        format = QemuImg.arg(words, ++i, w);
      } else if (w.equals("-q") || w.equals("--force")) {
        // -q only silences the progress bar; --force only matters for encryption.
        continue;
      } else if (w.equals("--")) {
        positional.addAll(words.subList(i + 1, words.size()));
        break;
      } else if (w.startsWith("-") && w.length() > 1) {
        throw new StepException("img: qemu-img amend option '" + w
            + "' is not supported by the simulator");
      } else {
        positional.add(w);
      }
    }
    if (options == null) {
      return new ImgOutcome(List.of("qemu-img: Must specify options (-o)",
          "Try 'qemu-img --help' for more information"), 1);
    }
    List<String[]> items = items(options.toString());
    boolean help = items.stream().anyMatch(kv -> kv[0].equals("help") || kv[0].equals("?"));
    if (format != null && help) {
      return qcow2Help(format);
    }
    if (positional.size() != 1) {
      return error(List.of(), "Expecting one image file name");
    }
    String filename = positional.get(0);
    List<ImageChain.Layer> layers;
    try {
      layers = ImageChain.layers(storage, filename, format);
    } catch (ImageChain.ChainError e) {
      return error(List.of(), e.getMessage());
    }
    List<String> out = new ArrayList<>();
    String fmt = layers.get(0).format();
    if (format == null && fmt.equals("raw")) {
      out.addAll(QemuImgInfo.probedRawWarning(filename));
    }
    if (help) {
      return qcow2Help(fmt);
    }
    if (!fmt.equals("qcow2")) {
      return error(out, "Format driver '" + fmt + "' does not support option amendment");
    }
    Map<String, String> given = new LinkedHashMap<>();
    for (String[] kv : items) {
      if (!AMEND_OPTIONS.contains(kv[0])) {
        out.add("qemu-img: Invalid parameter '" + kv[0] + "'");
        if (items.stream().allMatch(o -> AMEND_OPTIONS.contains(o[0])
            || CREATE_ONLY.contains(o[0]))) {
          out.add("This option is only supported for image creation");
        }
        return new ImgOutcome(out, 1);
      }
      String problem = valueProblem(kv[0], kv[1]);
      if (problem != null) {
        out.addAll(List.of(problem.split("\n")));
        return new ImgOutcome(out, 1);
      }
      given.put(kv[0], kv[1]);
    }
    try (ImageChain chain = ImageChain.open(storage, layers, Set.of(0))) {
      String problem = amend(chain, given);
      if (problem != null) {
        out.addAll(List.of(problem.split("\n")));
        return new ImgOutcome(out, 1);
      }
    } catch (ImageChain.ChainError e) {
      return error(out, e.getMessage());
    }
    return new ImgOutcome(out, 0);
  }

  /** qcow2_amend_options on the open image; returns what qemu-img prints on failure, or null. */
  private static String amend(ImageChain chain, Map<String, String> given)
      throws StepException, HostIoException {
    Qcow2Image image = ((Qcow2Driver) chain.node(0).driver()).image();
    int oldVersion = image.version();
    int newVersion = oldVersion;
    int refcountBits = image.refcountBits();
    boolean lazy = (image.compatibleFeatures() & 1) != 0;
    boolean dataFileRaw = image.hasDataFile() && image.dataFileIsRaw();
    long newSize = 0;
    // The loop over the options, in qcow2_amend_opts' order: the first error wins.
    for (String name : AMEND_OPTIONS) {
      if (!given.containsKey(name)) {
        continue;
      }
      String value = given.get(name);
      switch (name) {
        case "encrypt.state", "encrypt.keyslot", "encrypt.old-secret", "encrypt.new-secret",
            "encrypt.iter-time" -> {
          return "qemu-img: Can't amend encryption options - encryption not present";
        }
        case "size" -> newSize = parseSize(value);
        case "compat" -> {
          if (value.equals("0.10") || value.equals("v2")) {
            newVersion = 2;
          } else if (value.equals("1.1") || value.equals("v3")) {
            newVersion = 3;
          } else {
            return "qemu-img: Unknown compatibility level " + value;
          }
        }
        case "data_file" -> {
          if (!image.hasDataFile()) {
            return "qemu-img: data-file can only be set for images that use an external data"
                + " file";
          }
          throw unsupported("data_file (a new external data file name)");
        }
        case "data_file_raw" -> {
          dataFileRaw = bool(value);
          if (dataFileRaw && !(image.hasDataFile() && image.dataFileIsRaw())) {
            return "qemu-img: data-file-raw cannot be set on existing images";
          }
        }
        case "lazy_refcounts" -> lazy = bool(value);
        case "refcount_bits" -> {
          long bits = Long.parseLong(value.trim());
          if (bits <= 0 || bits > 64 || Long.bitCount(bits) != 1) {
            return "qemu-img: Refcount width must be a power of two and may not exceed 64 bits";
          }
          refcountBits = (int) bits;
        }
        default -> {
          // backing_file and backing_fmt are compared after the header update.
        }
      }
    }
    if (newVersion > oldVersion) {
      image.amendVersion(newVersion);
    }
    if (refcountBits != image.refcountBits()) {
      if (newVersion < 3 && refcountBits != 16) {
        return "qemu-img: Refcount widths other than 16 bits require compatibility level 1.1 or"
            + " above (use compat=1.1 or greater)";
      }
      throw unsupported("refcount_bits=" + refcountBits
          + " (qcow2_change_refcount_order rewrites the refcount structures)");
    }
    if (image.hasDataFile() && image.dataFileIsRaw() && !dataFileRaw) {
      throw unsupported("data_file_raw=off on an image whose data file is raw");
    }
    image.rewriteHeader();
    String backingFile = given.get("backing_file");
    String backingFormat = given.get("backing_fmt");
    if ((backingFile != null || backingFormat != null)
        && (!java.util.Objects.equals(backingFile, image.backingFileName())
            || !java.util.Objects.equals(backingFormat, image.backingFormat()))) {
      return "qemu-img: Cannot amend the backing file\nYou can use 'qemu-img rebase' instead.";
    }
    boolean oldLazy = (image.compatibleFeatures() & 1) != 0;
    if (lazy != oldLazy) {
      if (lazy && newVersion < 3) {
        return "qemu-img: Lazy refcounts only supported with compatibility level 1.1 and above"
            + " (use compat=1.1 or greater)";
      }
      throw unsupported("lazy_refcounts=" + (lazy ? "on" : "off") + " (lazy refcounts)");
    }
    if (newSize != 0) {
      // blk_truncate(exact=true, PREALLOC_MODE_OFF): grows and shrinks alike.
      Map<String, Object> reply = chain.engine().execute("block_resize",
          Json.object("node-name", ImageChain.name(0), "size", newSize));
      if (reply.containsKey("error")) {
        return "qemu-img: " + QemuImgResize.withHint(
            String.valueOf(((Map<?, ?>) reply.get("error")).get("desc")));
      }
    }
    if (newVersion < oldVersion) {
      if (image.refcountBits() != 16) {
        return "qemu-img: compat=0.10 requires refcount_bits=16";
      }
      if (image.hasDataFile()) {
        return "qemu-img: Cannot downgrade an image with a data file";
      }
      // Persistent bitmaps do not stop it: qcow2_downgrade clears the autoclear bits, the
      // bitmaps extension stays and the close stores the bitmaps again, so every later open
      // ignores them with a warning (docs/qemu-behaviour.md §21.2).
      if (image.hasZeroClusters()) {
        throw unsupported("compat=0.10 on an image with zero clusters"
            + " (qcow2_expand_zero_clusters)");
      }
      image.amendVersion(newVersion);
    }
    return null;
  }

  private static StepException unsupported(String what) {
    return new StepException("img: qemu-img amend -o " + what
        + " is not supported by the simulator");
  }

  /** qemu_opts_do_parse's check of one value, or null when it parses. */
  private static String valueProblem(String name, String value) {
    switch (name) {
      case "lazy_refcounts", "data_file_raw" -> {
        if (!value.equals("on") && !value.equals("off")) {
          return "qemu-img: Parameter '" + name + "' expects 'on' or 'off'";
        }
      }
      case "refcount_bits", "encrypt.keyslot", "encrypt.iter-time" -> {
        if (!value.matches("[0-9]+")) {
          return "qemu-img: Parameter '" + name + "' expects a number";
        }
      }
      case "size" -> {
        try {
          parseSize(value);
        } catch (NumberFormatException e) {
          return "qemu-img: Parameter 'size' expects a non-negative number below 2^64\n"
              + "Optional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\n"
              + "and exabytes, respectively.";
        }
      }
      default -> {
        return null;
      }
    }
    return null;
  }

  /** parse_option_size for the values scenarios use: digits and one binary suffix. */
  private static long parseSize(String value) {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("([0-9]+)([kKMGTPE]?)").matcher(value);
    if (!m.matches()) {
      throw new NumberFormatException(value);
    }
    int shift = switch (m.group(2)) {
      case "k", "K" -> 10;
      case "M" -> 20;
      case "G" -> 30;
      case "T" -> 40;
      case "P" -> 50;
      case "E" -> 60;
      default -> 0;
    };
    return Math.multiplyExact(Long.parseLong(m.group(1)), 1L << shift);
  }

  private static boolean bool(String value) {
    return value.equals("on");
  }

  /** The {@code key=value} items of a QemuOpts string ({@code ,,} is a comma; a bare key is on). */
  private static List<String[]> items(String options) {
    List<String[]> items = new ArrayList<>();
    StringBuilder item = new StringBuilder();
    for (int i = 0; i <= options.length(); i++) {
      char c = i < options.length() ? options.charAt(i) : ',';
      if (c == ',' && i + 1 < options.length() && options.charAt(i + 1) == ',') {
        item.append(',');
        i++;
      } else if (c == ',') {
        String kv = item.toString();
        int eq = kv.indexOf('=');
        items.add(eq < 0 ? new String[] {kv, "on"}
            : new String[] {kv.substring(0, eq), kv.substring(eq + 1)});
        item.setLength(0);
      } else {
        item.append(c);
      }
    }
    return items;
  }

  private static ImgOutcome qcow2Help(String format) throws StepException {
    if (!format.equals("qcow2")) {
      throw new StepException("img: qemu-img amend help for format '" + format
          + "' is not supported by the simulator");
    }
    return new ImgOutcome(QCOW2_HELP, 0);
  }

  private static ImgOutcome error(List<String> before, String message) {
    List<String> out = new ArrayList<>(before);
    out.add("qemu-img: " + message);
    return new ImgOutcome(out, 1);
  }
}
