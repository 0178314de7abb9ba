package io.blocksim.sim.qemu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Moves file names between the scenario's view (relative to its scratch directory) and QEMU's
 * (absolute, because the daemon's working directory is not the scratch directory and must not
 * matter). Outgoing QMP arguments get absolute names; replies and events get the scratch prefix
 * removed again, so no absolute path reaches the runner's output.
 */
final class ScratchPaths {
  /**
   * Top-level members that are file names in specific commands ({@code filename} members are
   * file names wherever they occur). {@code backing-file} is deliberately absent: QEMU stores it
   * in the image header and resolves it relative to the image, so it stays as written.
   */
  private static final Map<String, Set<String>> FILE_MEMBERS_BY_COMMAND = Map.of(
      "drive-backup", Set.of("target"),
      "drive-mirror", Set.of("target"),
      "blockdev-snapshot-sync", Set.of("snapshot-file"));

  private final Path scratchDir;
  private final String prefix;

  ScratchPaths(Path scratchDir) {
    this.scratchDir = scratchDir.toAbsolutePath().normalize();
    this.prefix = this.scratchDir + "/";
  }

  Path scratchDir() {
    return scratchDir;
  }

  /** Returns the absolute form of a scenario path (already checked by the scenario parser). */
  Path resolve(String relativePath) {
    return scratchDir.resolve(relativePath).normalize();
  }

  /**
   * Refuses symbolic links in the scratch directory (scenario-format.md, File): the scenario
   * parser keeps names inside the directory, and a link would lead out of it again. Nothing a
   * scenario can do creates one, so finding one means the directory was tampered with.
   */
  void refuseSymbolicLinks() throws IOException {
    if (!Files.isDirectory(scratchDir, LinkOption.NOFOLLOW_LINKS)) {
      if (Files.isSymbolicLink(scratchDir)) {
        throw new IOException("the scratch directory " + scratchDir + " is a symbolic link");
      }
      return;
    }
    try (Stream<Path> walk = Files.walk(scratchDir)) {
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (Files.isSymbolicLink(p)) {
          throw new IOException("symbolic link '" + scratchDir.relativize(p)
              + "' in the scratch directory is refused");
        }
      }
    }
  }

  /** Returns a deep copy of the command's arguments with file names made absolute. */
  Map<String, Object> toQemu(String command, Map<String, Object> args) {
    if (args == null) {
      return null;
    }
    Map<String, Object> copy = new LinkedHashMap<>();
    Set<String> fileMembers = FILE_MEMBERS_BY_COMMAND.getOrDefault(command, Set.of());
    for (Map.Entry<String, Object> e : args.entrySet()) {
      Object value = e.getValue();
      if ((fileMembers.contains(e.getKey()) || e.getKey().equals("filename"))
          && value instanceof String name) {
        copy.put(e.getKey(), absolute(name));
      } else if (command.equals("transaction") && e.getKey().equals("actions")
          && value instanceof List<?> actions) {
        copy.put(e.getKey(), transactionActionsToQemu(actions));
      } else {
        copy.put(e.getKey(), filenamesToQemu(value));
      }
    }
    return copy;
  }

  /** Returns a deep copy of a reply or event value with the scratch prefix removed from strings. */
  Object fromQemu(Object value) {
    if (value instanceof String s) {
      if (s.equals(scratchDir.toString())) {
        return ".";
      }
      return s.replace(prefix, "");
    }
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> copy = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        copy.put((String) e.getKey(), fromQemu(e.getValue()));
      }
      return copy;
    }
    if (value instanceof List<?> list) {
      List<Object> copy = new ArrayList<>(list.size());
      for (Object item : list) {
        copy.add(fromQemu(item));
      }
      return copy;
    }
    return value;
  }

  /** Returns the text with the scratch prefix removed (for tool output and messages). */
  String fromQemu(String text) {
    return text.replace(prefix, "");
  }

  @SuppressWarnings("unchecked")
  private List<Object> transactionActionsToQemu(List<?> actions) {
    List<Object> copy = new ArrayList<>();
    for (Object action : actions) {
      if (action instanceof Map<?, ?> map && map.get("type") instanceof String type
          && map.get("data") instanceof Map<?, ?> data) {
        Map<String, Object> actionCopy = new LinkedHashMap<>((Map<String, Object>) map);
        actionCopy.put("data", toQemu(type, (Map<String, Object>) data));
        copy.add(actionCopy);
      } else {
        copy.add(filenamesToQemu(action));
      }
    }
    return copy;
  }

  private Object filenamesToQemu(Object value) {
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> copy = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        Object item = e.getValue();
        if ("filename".equals(e.getKey()) && item instanceof String name) {
          copy.put((String) e.getKey(), absolute(name));
        } else {
          copy.put((String) e.getKey(), filenamesToQemu(item));
        }
      }
      return copy;
    }
    if (value instanceof List<?> list) {
      List<Object> copy = new ArrayList<>(list.size());
      for (Object item : list) {
        copy.add(filenamesToQemu(item));
      }
      return copy;
    }
    return value;
  }

  /**
   * Returns the absolute name; names that are already absolute or carry a protocol prefix
   * ({@code nbd:...}, {@code json:...}) pass unchanged.
   */
  private String absolute(String name) {
    if (name.isEmpty() || name.startsWith("/") || name.matches("^[a-z+]+:.*")) {
      return name;
    }
    return resolve(name).toString();
  }
}
