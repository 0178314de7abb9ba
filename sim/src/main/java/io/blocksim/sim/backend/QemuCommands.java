package io.blocksim.sim.backend;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The QMP commands of QEMU 7.2's qemu-storage-daemon (its {@code query-commands} reply, kept in
 * {@code qemu-7.2-commands.txt}), to tell a command blocksim does not model from one QEMU does
 * not have: the first gets a message saying so, the second keeps QEMU's own "has not been found".
 */
public final class QemuCommands {
  private static final Set<String> NAMES = load();

  private QemuCommands() {}

  /** Returns the commands of QEMU 7.2's qemu-storage-daemon, sorted. */
  public static Set<String> names() {
    return NAMES;
  }

  /** Returns the commands the simulator models: those its engine does not answer as unknown. */
  public static List<String> modelled() {
    List<String> modelled = new ArrayList<>();
    for (String name : NAMES) {
      SimBackend probe = new SimBackend(0, Set.of());
      Map<String, Object> reply = probe.engine().execute(name, new LinkedHashMap<>());
      if (!isCommandNotFound(reply)) {
        modelled.add(name);
      }
    }
    return modelled;
  }

  /**
   * Returns the block drivers the simulator models: those blockdev-add does not refuse as an
   * unknown driver (probed with each driver of QEMU 7.2's BlockdevDriver enum that blocksim
   * could plausibly model).
   */
  public static List<String> drivers() {
    List<String> drivers = new ArrayList<>();
    for (String driver : List.of("blkdebug", "blklogwrites", "blkreplay", "blkverify",
        "compress", "copy-before-write", "copy-on-read", "file", "host_device", "luks", "nbd",
        "null-aio", "null-co", "preallocate", "qcow", "qcow2", "qed", "quorum", "raw",
        "snapshot-access", "throttle", "vdi", "vhdx", "vmdk", "vpc", "vvfat")) {
      SimBackend probe = new SimBackend(0, Set.of());
      Map<String, Object> args = new LinkedHashMap<>();
      args.put("driver", driver);
      args.put("node-name", "probe");
      Object error = probe.engine().execute("blockdev-add", args).get("error");
      String desc = error instanceof Map<?, ?> e ? String.valueOf(e.get("desc")) : "";
      if (!desc.contains("'driver'") || !desc.contains("does not accept value")) {
        drivers.add(driver);
      }
    }
    return drivers;
  }

  /**
   * Returns the reply with the message for a QEMU 7.2 command that blocksim does not model, or
   * the reply unchanged.
   */
  static Map<String, Object> explain(String command, Map<String, Object> reply) {
    if (!isCommandNotFound(reply) || !NAMES.contains(command)) {
      return reply;
    }
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("class", "CommandNotFound");
    error.put("desc", "The command " + command + " is a QEMU 7.2 command that blocksim does"
        + " not model ('blocksim models' lists those it does)");
    Map<String, Object> explained = new LinkedHashMap<>();
    explained.put("error", error);
    return explained;
  }

  private static boolean isCommandNotFound(Map<String, Object> reply) {
    return reply.get("error") instanceof Map<?, ?> error
        && "CommandNotFound".equals(error.get("class"));
  }

  private static Set<String> load() {
    try (InputStream in = QemuCommands.class.getResourceAsStream("qemu-7.2-commands.txt")) {
      Set<String> names = new TreeSet<>();
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!line.isBlank() && !line.startsWith("#")) {
          names.add(line.strip());
        }
      }
      return java.util.Collections.unmodifiableSet(names);
    } catch (IOException | NullPointerException e) {
      throw new IllegalStateException("qemu-7.2-commands.txt is missing from the build", e);
    }
  }
}
