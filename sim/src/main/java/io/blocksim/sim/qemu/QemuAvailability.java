package io.blocksim.sim.qemu;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether the real QEMU tools that {@link QemuBackend} drives are installed, so the runner can
 * report "not run: QEMU not installed" instead of failing.
 *
 * @param available all tools were found
 * @param reason what is missing (empty when available)
 */
public record QemuAvailability(boolean available, String reason) {
  /** The tools {@link QemuBackend} runs, looked up on the PATH. */
  public static final List<String> TOOLS =
      List.of("qemu-storage-daemon", "qemu-img", "qemu-io", "nbdcopy", "nbdinfo");

  /** Looks the tools up on the PATH (and in /usr/bin, where Debian installs them). */
  public static QemuAvailability check() {
    List<String> missing = new ArrayList<>();
    for (String tool : TOOLS) {
      if (find(tool) == null) {
        missing.add(tool);
      }
    }
    if (missing.isEmpty()) {
      return new QemuAvailability(true, "");
    }
    return new QemuAvailability(false,
        "QEMU not installed (missing: " + String.join(", ", missing) + ")");
  }

  /** Returns the executable's path, or null when it is not installed. */
  static Path find(String tool) {
    List<String> directories = new ArrayList<>();
    String path = System.getenv("PATH");
    if (path != null) {
      directories.addAll(List.of(path.split(File.pathSeparator)));
    }
    directories.add("/usr/bin");
    for (String directory : directories) {
      if (directory.isEmpty()) {
        continue;
      }
      Path candidate = Path.of(directory, tool);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    return null;
  }
}
