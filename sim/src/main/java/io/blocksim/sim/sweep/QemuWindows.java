package io.blocksim.sim.sweep;

import io.blocksim.sim.disk.DiskOp;
import io.blocksim.sim.disk.OpFate;
import java.util.List;

/**
 * Crash images that QEMU 7.2 itself leaves broken, told apart from the simulator's violations.
 * A sweep reports such a crash point as {@code qemu-window} with the window's name, and it does
 * not count as a violation; every rule is narrow (it needs the request pattern that opens the
 * window on the file whose image is broken, and the breakage the window causes), so an engine
 * that breaks an image some other way is still flagged.
 */
final class QemuWindows {
  private QemuWindows() {}

  /** Torn header: docs/qemu-behaviour.md §24.12. */
  static final String TORN_HEADER =
      "torn header (qcow2_update_header writes the header in one request of several sectors; "
          + "docs/qemu-behaviour.md §24.12)";

  /** Shrink before the caches: docs/qemu-behaviour.md §15.2. */
  static final String SHRINK_BEFORE_CACHES =
      "shrink before the metadata caches (qcow2_co_truncate truncates the file while freed "
          + "clusters' L2 entries are still in the cache; docs/qemu-behaviour.md §15.2)";

  private static final String BEYOND_END = "is referenced but lies beyond the end of the file";

  /**
   * Returns the window that explains every violation of crash point k, or null when one of them
   * is not explained. Violations start with the path of the image they concern.
   *
   * @param fates what the power cut did with each unflushed request
   * @param ops every request of the uncrashed run, in order (those after k are ignored)
   */
  static String explain(List<String> violations, long k, List<OpFate> fates, List<DiskOp> ops) {
    if (violations.isEmpty()) {
      return null;
    }
    String window = null;
    for (String violation : violations) {
      String path = violation.substring(0, Math.max(0, violation.indexOf(": ")));
      String found;
      if (tornHeader(path, fates)) {
        found = TORN_HEADER;
      } else if (onlyBeyondEnd(violation) && shrunkLast(path, k, ops)) {
        found = SHRINK_BEFORE_CACHES;
      } else {
        return null;
      }
      if (window != null && !window.equals(found)) {
        return null;
      }
      window = found;
    }
    return window;
  }

  /** The cut kept part of a multi-sector write at the start of the file: its header. */
  private static boolean tornHeader(String path, List<OpFate> fates) {
    for (OpFate fate : fates) {
      DiskOp op = fate.op();
      if (fate.fate() == OpFate.Fate.TORN && op.path().equals(path)
          && op.kind() == DiskOp.Kind.WRITE && op.offsetBytes() == 0) {
        return true;
      }
    }
    return false;
  }

  /** A qcow2 check whose every error is a cluster past the end of the file. */
  private static boolean onlyBeyondEnd(String violation) {
    int list = violation.indexOf('[');
    if (!violation.contains(": qcow2 check: ") || list < 0 || !violation.endsWith("]")) {
      return false;
    }
    for (String message : violation.substring(list + 1, violation.length() - 1).split(", ")) {
      if (!message.contains(BEYOND_END)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The file's last truncate up to op k shrank it. The window lasts until the freed clusters' L2
   * entries reach the file (the refcount cache is written first, flushed, then the L2 cache), and
   * afterwards no L2 entry refers past the end, so the breakage itself says whether it is open.
   */
  private static boolean shrunkLast(String path, long k, List<DiskOp> ops) {
    long end = 0;
    boolean shrunk = false;
    for (DiskOp op : ops) {
      if (op.sequence() > k) {
        break;
      }
      if (!op.path().equals(path) || op.kind() == DiskOp.Kind.FLUSH) {
        continue;
      }
      if (op.kind() == DiskOp.Kind.TRUNCATE) {
        shrunk = op.lengthBytes() < end;
        end = op.lengthBytes();
      } else {
        end = Math.max(end, op.offsetBytes() + op.lengthBytes());
      }
    }
    return shrunk;
  }
}
