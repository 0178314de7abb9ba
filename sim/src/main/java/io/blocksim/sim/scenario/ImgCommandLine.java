package io.blocksim.sim.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads an {@code img:} step's qemu-img command line as qemu-img 7.2 reads it ({@code
 * getopt_long} with each sub-command's option string from qemu-img.c), to find every file it
 * names: the operands, {@code -b} and the {@code backing_file}/{@code data_file} creation
 * options. Only the sub-commands img: runs are accepted (create, compare, rebase, bitmap,
 * check, info, commit, convert, resize, amend), with their options; {@code --object} and
 * {@code --image-opts}, which would open files through option strings, are refused.
 */
public final class ImgCommandLine {
  static final String HINT =
      "img: takes qemu-img create, compare, rebase, bitmap, check, info, commit, convert,"
          + " resize or amend with their options,"
          + " naming files relative to the scratch directory";

  /**
   * The files a command names, in order; its options in order (a short option by its letter,
   * a long one by the letter of its short form when it has one, else by its name; the value or
   * null); and its operands.
   */
  public record Parsed(String subCommand, List<String> files, List<Option> options,
      List<String> operands) {
    /** Returns the value of the last given option {@code name}, or null. */
    public String option(String name) {
      String value = null;
      for (Option o : options) {
        if (o.name().equals(name)) {
          value = o.value() == null ? "" : o.value();
        }
      }
      return value;
    }
  }

  /** One option as given. */
  public record Option(String name, String value) {}

  /**
   * One sub-command: its short options (getopt syntax, {@code :} after an option that takes a
   * value), its long options (name to value-taking), which options name a file, and how many
   * leading operands are files (-1: all; create's second is the size, bitmap's the bitmap).
   */
  private record Syntax(String shortOptions, Map<String, Boolean> longOptions,
      Set<String> fileOptions, int fileOperands) {}

  private static final Map<String, Syntax> SUB_COMMANDS =
      Map.ofEntries(
          Map.entry("commit", new Syntax("f:ht:b:dpqr:", Map.of("help", false), Set.of("b"),
              -1)),
          Map.entry("convert", new Syntax("hf:O:B:CcF:o:l:S:pt:T:qnm:WUr:", Map.of("help", false,
              "salvage", false, "target-is-zero", false, "bitmaps", false,
              "skip-broken-bitmaps", false, "force-share", false), Set.of("B"), -1)),
          Map.entry("resize", new Syntax("f:hq", Map.of("help", false, "preallocation", true,
              "shrink", false), Set.of(), 1)),
          Map.entry("amend", new Syntax("ho:f:t:pq", Map.of("help", false, "force", false),
              Set.of(), -1)),
          Map.entry(
"create", new Syntax("F:b:f:ho:qu", Map.of("help", false), Set.of("b"), 1)),
          Map.entry("check", new Syntax("hf:r:T:qU", Map.of("help", false, "format", true,
              "repair", true, "output", true, "force-share", false), Set.of(), -1)),
          Map.entry("compare", new Syntax("hf:F:T:pqsU", Map.of("help", false, "force-share",
              false), Set.of(), -1)),
          Map.entry("info", new Syntax("f:hU", Map.of("help", false, "format", true, "output",
              true, "backing-chain", false, "force-share", false), Set.of(), -1)),
          Map.entry("rebase", new Syntax("hf:F:b:upt:T:qU", Map.of("help", false,
              "force-share", false), Set.of("b"), -1)),
          Map.entry("bitmap", new Syntax("b:f:F:g:h", Map.of("help", false, "add", false,
              "remove", false, "clear", false, "enable", false, "disable", false, "merge", true,
              "granularity", true, "source-file", true, "source-format", true),
              Set.of("b", "source-file"), 1)));

  /** Long options of the long form of short ones: {@code --granularity} is {@code -g}. */
  private static final Map<String, String> LONG_TO_SHORT =
      Map.of("format", "f", "granularity", "g", "source-file", "b", "source-format", "F",
          "force-share", "U", "repair", "r", "help", "h");

  /** Creation options ({@code -o}) whose value is a file name. */
  private static final Set<String> FILE_CREATE_OPTIONS = Set.of("backing_file", "data_file");

  private ImgCommandLine() {}

  /** Parses the words; throws IllegalArgumentException naming what is not accepted. */
  public static Parsed parse(List<String> words) {
    List<String> rest = new ArrayList<>(words);
    if (!rest.isEmpty() && rest.get(0).equals("qemu-img")) {
      rest.remove(0);
    }
    if (rest.isEmpty()) {
      throw new IllegalArgumentException("empty qemu-img command");
    }
    String sub = rest.remove(0);
    if (sub.equals("resize") && !rest.isEmpty()) {
      // img_resize takes the size off the end before getopt, so "-1M" is no option.
      rest.remove(rest.size() - 1);
    }
    Syntax syntax = SUB_COMMANDS.get(sub);
    if (syntax == null) {
      throw new IllegalArgumentException(
          sub.startsWith("-")
              ? "qemu-img options before the sub-command ('" + sub + "') are not accepted"
              : "'qemu-img " + sub + "' is not a sub-command that img: runs");
    }
    List<String> files = new ArrayList<>();
    List<String> operands = new ArrayList<>();
    List<Option> options = new ArrayList<>();
    for (int i = 0; i < rest.size(); i++) {
      String word = rest.get(i);
      if (word.equals("--")) {
        operands.addAll(rest.subList(i + 1, rest.size()));
        break;
      }
      if (word.startsWith("--")) {
        String name = word.substring(2);
        String value = null;
        int eq = name.indexOf('=');
        if (eq >= 0) {
          value = name.substring(eq + 1);
          name = name.substring(0, eq);
        }
        String option = longOption(sub, syntax, name);
        boolean takesValue = syntax.longOptions().get(option);
        if (takesValue && value == null) {
          if (++i >= rest.size()) {
            throw new IllegalArgumentException("option '--" + option + "' needs a value");
          }
          value = rest.get(i);
        } else if (!takesValue && value != null) {
          throw new IllegalArgumentException("option '--" + option + "' takes no value");
        }
        String shortForm = LONG_TO_SHORT.get(option);
        options.add(new Option(shortForm != null ? shortForm : option, value));
        if (syntax.fileOptions().contains(option)
            || (shortForm != null && syntax.fileOptions().contains(shortForm))) {
          files.add(value);
        }
        continue;
      }
      if (word.startsWith("-") && word.length() > 1) {
        for (int j = 1; j < word.length(); j++) {
          char c = word.charAt(j);
          int at = syntax.shortOptions().indexOf(c);
          if (c == ':' || at < 0) {
            throw new IllegalArgumentException(
                "'qemu-img " + sub + "' has no option '-" + c + "' that img: accepts");
          }
          boolean takesValue = at + 1 < syntax.shortOptions().length()
              && syntax.shortOptions().charAt(at + 1) == ':';
          if (!takesValue) {
            options.add(new Option(String.valueOf(c), null));
            continue;
          }
          String value;
          if (j + 1 < word.length()) {
            value = word.substring(j + 1);
          } else if (++i < rest.size()) {
            value = rest.get(i);
          } else {
            throw new IllegalArgumentException("option '-" + c + "' needs a value");
          }
          options.add(new Option(String.valueOf(c), value));
          if (syntax.fileOptions().contains(String.valueOf(c))
              && !(sub.equals("rebase") && value.isEmpty())) {
            // rebase -b '' names no file: it drops the backing file.
            files.add(value);
          } else if (c == 'o') {
            files.addAll(createOptionFiles(value));
          }
          break;
        }
        continue;
      }
      operands.add(word);
    }
    int fileOperands = syntax.fileOperands() < 0 ? operands.size() : syntax.fileOperands();
    files.addAll(operands.subList(0, Math.min(fileOperands, operands.size())));
    return new Parsed(sub, List.copyOf(files), List.copyOf(options), List.copyOf(operands));
  }

  /** Returns the long option a (possibly abbreviated) name means, as getopt_long matches. */
  private static String longOption(String sub, Syntax syntax, String name) {
    if (name.equals("object") || name.equals("image-opts")) {
      throw new IllegalArgumentException(
          "qemu-img's '--" + name + "' is not accepted in img: (it opens files by option"
              + " strings)");
    }
    if (syntax.longOptions().containsKey(name)) {
      return name;
    }
    List<String> candidates =
        syntax.longOptions().keySet().stream().filter(o -> o.startsWith(name)).sorted().toList();
    if (candidates.size() == 1 && !name.isEmpty()) {
      return candidates.get(0);
    }
    throw new IllegalArgumentException(
        candidates.isEmpty()
            ? "'qemu-img " + sub + "' has no option '--" + name + "' that img: accepts"
            : "option '--" + name + "' is ambiguous: " + String.join(", ", candidates));
  }

  /**
   * Returns the file names in a {@code -o} list ({@code key=value,...}, {@code ,,} writing a
   * comma, as QemuOpts reads it).
   */
  static List<String> createOptionFiles(String options) {
    List<String> files = new ArrayList<>();
    StringBuilder item = new StringBuilder();
    List<String> items = new ArrayList<>();
    for (int i = 0; i < options.length(); i++) {
      char c = options.charAt(i);
      if (c == ',' && i + 1 < options.length() && options.charAt(i + 1) == ',') {
        item.append(',');
        i++;
      } else if (c == ',') {
        items.add(item.toString());
        item.setLength(0);
      } else {
        item.append(c);
      }
    }
    items.add(item.toString());
    for (String kv : items) {
      int eq = kv.indexOf('=');
      if (eq >= 0 && FILE_CREATE_OPTIONS.contains(kv.substring(0, eq).replace('-', '_'))) {
        files.add(kv.substring(eq + 1));
      }
    }
    return files;
  }
}
