package io.blocksim.sim.qemu;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * qemu-io's output made comparable: timings filtered exactly as QEMU's iotests filter them
 * ({@code tests/qemu-iotests/common.filter} {@code _filter_qemu_io}), and the line that reports a
 * failed request picked out.
 */
final class QemuIoOutput {
  /** The iotests' regular expression for the statistics line, as in iotests.py's qemu_io_re. */
  private static final Pattern TIMINGS = Pattern.compile(
      "[0-9]* ops; [0-9/:. sec]* \\([0-9/.inf]* [EPTGMKiBbytes]*/sec and [0-9/.inf]* ops/sec\\)");
  private static final String TIMINGS_REPLACEMENT =
      "X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)";
  /** qemu-io's words for a failed request ("write failed: ...") or command ("qemu-io: ..."). */
  private static final Pattern FAILURE = Pattern.compile("(^[a-z_]+ failed: .*)|(^qemu-io: .*)");
  private static final String PATTERN_FAILURE = "Pattern verification failed";

  private QemuIoOutput() {}

  /** Returns the lines with the statistics filtered and the interactive prompt removed. */
  static List<String> filter(List<String> lines) {
    List<String> filtered = new ArrayList<>(lines.size());
    for (String line : lines) {
      String withoutPrompt = line.replace("qemu-io> ", "");
      filtered.add(TIMINGS.matcher(withoutPrompt).replaceAll(TIMINGS_REPLACEMENT));
    }
    return filtered;
  }

  /**
   * Returns the line naming the failure, or null if the command succeeded. A non-zero exit
   * without such a line is still a failure, named by the exit status.
   */
  static String failure(List<String> lines, int exitCode) {
    for (String line : lines) {
      if (line.startsWith(PATTERN_FAILURE)) {
        return PATTERN_FAILURE;  // As the simulator names it; the line itself stays in output.
      }
      if (FAILURE.matcher(line).matches()) {
        return line;
      }
    }
    return exitCode == 0 ? null : "qemu-io exited with status " + exitCode;
  }
}
