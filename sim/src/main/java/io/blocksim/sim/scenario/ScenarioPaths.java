package io.blocksim.sim.scenario;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.blocksim.sim.scenario.YamlNode.Entry;
import io.blocksim.sim.scenario.YamlNode.Kind;
import io.blocksim.sim.scenario.YamlNode.Mapping;
import io.blocksim.sim.scenario.YamlNode.Scalar;
import io.blocksim.sim.scenario.YamlNode.Sequence;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Keeps every file a scenario names inside its scratch directory (scenario-format.md, File):
 * image paths, file names in QMP arguments at any depth, the files of {@code img:} commands and
 * {@code json:} pseudo-filenames. Checked when the file is parsed, so neither backend (the
 * simulator or a real qemu-storage-daemon under {@code blocksim diff}) ever sees a name that
 * leaves the directory.
 *
 * <p>A name is refused when it is absolute, has a {@code ..} component, contains a NUL, or starts
 * with a protocol prefix ({@code file:/etc/passwd}, {@code nbd:...}: QEMU's {@code
 * path_has_protocol}, a colon before the first slash), except {@code json:}, whose options are
 * checked as QMP arguments are. Symbolic links cannot be seen here; the runtime refuses them.
 */
final class ScenarioPaths {
  static final String HINT =
      "paths are relative to the scenario's scratch directory and may not leave it";

  /**
   * QMP members (the last component of a dotted key, as {@code json:} filenames may flatten
   * them) that name a file when their value is a string, in every command, per QEMU 7.2's QAPI
   * schema: {@code filename} (file, host_device, blockdev-create), {@code snapshot-file}, {@code
   * backing-file} (block-stream, block-commit, change-backing-file, qcow2 creation), blkdebug's
   * {@code config}, a secret object's {@code file}, a FUSE export's {@code mountpoint}, vvfat's
   * and TLS credentials' {@code dir}, memory-backend-file's {@code mem-path}, rbd's {@code conf}
   * (a Ceph configuration file QEMU reads). The BlockdevRef
   * members ({@code file}, {@code backing}, {@code data-file}, {@code image}, {@code test},
   * {@code raw}, {@code log}) take a node name when they are a string: a well-formed node name
   * (a letter, then letters, digits, {@code -}, {@code .}, {@code _}) always passes the check,
   * so checking them too costs nothing and covers the places where they are file names.
   */
  static final Set<String> FILE_MEMBERS =
      Set.of(
          "filename", "snapshot-file", "backing-file", "config", "file", "backing", "data-file",
          "image", "test", "raw", "log", "mountpoint", "dir", "mem-path", "conf");

  /**
   * Members that name a file only in some commands: drive-backup's and drive-mirror's {@code
   * target} (blockdev-backup's is a node name, block-dirty-bitmap-merge's a bitmap name),
   * block-stream's {@code base} and block-commit's {@code top} and {@code base}, a character
   * device's {@code in}, {@code out}, {@code logfile} and {@code device} (the serial, parallel and
   * pipe backends open that file; chardev-add, chardev-change), qom-set's {@code value} (a
   * property such as a secret's {@code file}); a UNIX socket's {@code path} everywhere except the
   * qom-* commands, whose {@code path} is a QOM path.
   */
  private static final Map<String, Set<String>> FILE_MEMBERS_BY_COMMAND =
      Map.of(
          "drive-backup", Set.of("target"),
          "drive-mirror", Set.of("target"),
          "block-stream", Set.of("base"),
          "block-commit", Set.of("top", "base"),
          "chardev-add", Set.of("in", "out", "logfile", "device"),
          "chardev-change", Set.of("in", "out", "logfile", "device"),
          "qom-set", Set.of("value"));

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Problems problems;

  ScenarioPaths(Problems problems) {
    this.problems = problems;
  }

  /**
   * Returns what is wrong with a file name that QEMU would open or create, or null. {@code
   * strict} adds the checks for names that must name a file of the scratch directory (image
   * paths, qemu-img operands): not empty, not the directory itself.
   */
  static String problem(String path, boolean strict) {
    if (path.indexOf('\0') >= 0) {
      return "path '" + path.replace("\0", "\\0") + "' contains a NUL character";
    }
    if (path.startsWith("json:")) {
      return jsonProblem(path);
    }
    if (strict && path.isEmpty()) {
      return "a path must not be empty";
    }
    if (path.startsWith("/")) {
      return "path '" + path + "' is absolute";
    }
    int colon = path.indexOf(':');
    int slash = path.indexOf('/');
    if (colon >= 0 && (slash < 0 || colon < slash)) {
      return "path '" + path + "' starts with a protocol prefix ('" + path.substring(0, colon + 1)
          + "'), which QEMU would open instead of a file";
    }
    boolean namesSomething = false;
    for (String part : path.split("/", -1)) {
      if (part.equals("..")) {
        return "path '" + path + "' has a '..' component";
      }
      if (!part.isEmpty() && !part.equals(".")) {
        namesSomething = true;
      }
    }
    if (strict && !namesSomething) {
      return "path '" + path + "' names the scratch directory itself";
    }
    return null;
  }

  /** Checks the options of a {@code json:} pseudo-filename as QMP arguments are checked. */
  private static String jsonProblem(String path) {
    JsonNode options;
    try {
      options = JSON.readTree(path.substring("json:".length()));
    } catch (JsonProcessingException e) {
      return "'" + path + "' is not a valid json: pseudo-filename";
    }
    if (options == null || !options.isObject()) {
      return "'" + path + "' is not a valid json: pseudo-filename (it needs a JSON object)";
    }
    String problem = jsonMembersProblem(options);
    return problem == null ? null : problem + " (inside a json: pseudo-filename)";
  }

  private static String jsonMembersProblem(JsonNode node) {
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String problem = isFileMember("blockdev-add", e.getKey()) && e.getValue().isTextual()
            ? problem(e.getValue().asText(), false)
            : jsonMembersProblem(e.getValue());
        if (problem != null) {
          return problem;
        }
      }
    } else if (node.isArray()) {
      for (JsonNode item : node) {
        String problem = jsonMembersProblem(item);
        if (problem != null) {
          return problem;
        }
      }
    }
    return null;
  }

  /**
   * Whether a string that is no known file member still looks like an absolute path: QEMU has
   * more members that open files than any list here keeps up with (a driver's or an object's),
   * so a string that starts with a slash is refused wherever it is. The exceptions are QOM paths
   * (the qom-* commands' {@code path}) and members that QEMU only ever reads as a name (a bitmap
   * name may hold any character; an invalid node name or job id gets QEMU's own error), which
   * the file-member checks above have already seen where a command opens them as files.
   */
  private static boolean absoluteAnywhere(String command, String key, String value) {
    String member = key.substring(key.lastIndexOf('.') + 1);
    return value.startsWith("/") && !(command.startsWith("qom-") && member.equals("path"))
        && !NAME_MEMBERS.contains(member);
  }

  /** Members that are names, ids or node references, never files. */
  private static final Set<String> NAME_MEMBERS =
      Set.of("name", "node-name", "node", "job-id", "id", "bitmap", "bitmaps", "new-name");

  private static boolean isFileMember(String command, String key) {
    String member = key.substring(key.lastIndexOf('.') + 1);
    return FILE_MEMBERS.contains(member)
        || FILE_MEMBERS_BY_COMMAND.getOrDefault(command, Set.of()).contains(member)
        || (member.equals("path") && !command.startsWith("qom-"));
  }

  /** Checks a path the file names directly ({@code images:}); returns whether it is good. */
  boolean checkPath(YamlNode node, String path, String what) {
    String problem = problem(path, true);
    if (problem != null) {
      problems.add(node.location(), what + ": " + problem, HINT);
      return false;
    }
    return true;
  }

  /** Checks every file-naming member of a QMP command's arguments, at any depth. */
  void checkQmp(String command, Mapping args, String subject) {
    walk(command, args, "", subject);
  }

  private void walk(String command, YamlNode node, String keyPath, String subject) {
    if (node instanceof Mapping m) {
      for (Entry e : m.entries()) {
        String key = e.key().text();
        String inner = keyPath.isEmpty() ? key : keyPath + "." + key;
        if (e.value() instanceof Scalar s && s.kind() == Kind.STRING
            && isFileMember(command, key)) {
          String problem = problem(s.text(), false);
          if (problem != null) {
            problems.add(s.location(), "'" + inner + "' in " + subject + ": " + problem, HINT);
          }
        } else if (e.value() instanceof Scalar s && s.kind() == Kind.STRING
            && absoluteAnywhere(command, key, s.text())) {
          problems.add(s.location(), "'" + inner + "' in " + subject + ": path '" + s.text()
              + "' is absolute", HINT);
        } else if (key.equals("data") && m.get("type") instanceof Scalar type
            && command.equals("transaction")) {
          walk(type.text(), e.value(), inner, subject);  // A transaction action's arguments.
        } else {
          walk(command, e.value(), inner, subject);
        }
      }
    } else if (node instanceof Sequence seq) {
      for (int i = 0; i < seq.items().size(); i++) {
        String inner = keyPath + "[" + i + "]";
        if (seq.items().get(i) instanceof Scalar s && s.kind() == Kind.STRING) {
          // A list of file names (a member of a list type), or of anything else.
          String member = keyPath.replaceAll("\\[\\d+\\]$", "");
          String problem = isFileMember(command, member) ? problem(s.text(), false)
              : absoluteAnywhere(command, member, s.text())
                  ? "path '" + s.text() + "' is absolute" : null;
          if (problem != null) {
            problems.add(s.location(), "'" + inner + "' in " + subject + ": " + problem, HINT);
          }
        } else {
          walk(command, seq.items().get(i), inner, subject);
        }
      }
    }
  }

  /**
   * Checks the names of an {@code observe: images} or {@code expect: images-equal} list: node
   * names or image files.
   */
  void checkNames(YamlNode node, List<String> names, String what) {
    for (String name : names) {
      String problem = problem(name, false);
      if (problem != null) {
        problems.add(problems.locate(node.location(), name), what + ": " + problem, HINT);
      }
    }
  }

  /**
   * Checks a qemu-io command of an {@code io:} step: qemu-io's {@code open} would open a file of
   * its own (every other command acts on the exported node).
   */
  void checkIo(YamlNode node, String command, String what) {
    String verb = command.strip().split("\\s+", 2)[0];
    if (verb.equals("open") || verb.equals("o")) {  // "o" is qemu-io's short name of open.
      problems.add(
          node.location(),
          what + ": the qemu-io command 'open' is not allowed in a scenario",
          "io steps act on the node given with 'node:' (read, write, discard, flush)");
    }
  }

  /** Checks an {@code img:} command: its sub-command, options and every file it names. */
  void checkImg(YamlNode node, String command, String what) {
    ImgCommandLine.Parsed parsed;
    try {
      parsed = ImgCommandLine.parse(ShellWords.split(command));
    } catch (IllegalArgumentException e) {
      problems.add(node.location(), what + ": " + e.getMessage(), ImgCommandLine.HINT);
      return;
    }
    for (String file : parsed.files()) {
      String problem = problem(file, true);
      if (problem != null) {
        problems.add(problems.locate(node.location(), file), what + ": " + problem, HINT);
      }
    }
  }
}
