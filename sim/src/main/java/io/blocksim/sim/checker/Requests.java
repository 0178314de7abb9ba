package io.blocksim.sim.checker;

import io.blocksim.sim.guest.QemuIoCommand;
import java.util.Arrays;

/** What a guest request does to a node's contents, as the checkers predict it. */
final class Requests {
  private Requests() {}

  /** Parses an io step's command, or null if qemu-io refused it. */
  static QemuIoCommand parse(String command) {
    try {
      return QemuIoCommand.parse(command);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * Returns what the node should read after the request: a write's range holds its pattern (qemu-io
   * writes 0xcd without -P) or zeroes, a discard's range reads as before or as zeroes (QEMU may
   * ignore a discard, or drop only whole clusters). Returns null for a failed write or discard,
   * whose effect is unknown; a refused request (out of range) changes nothing.
   */
  static byte[] applied(byte[] before, byte[] now, QemuIoCommand io, boolean succeeded) {
    if (!succeeded) {
      return io.offset() < 0 || io.offset() + io.length() > before.length ? before : null;
    }
    byte[] expected = before.clone();
    int from = (int) io.offset();
    int to = (int) Math.min(before.length, io.offset() + io.length());
    if (io.kind() == QemuIoCommand.Kind.WRITE) {
      byte fill = io.zeroes() ? 0 : (byte) (io.pattern() == null ? 0xcd : io.pattern());
      Arrays.fill(expected, from, to, fill);
    } else if (io.kind() == QemuIoCommand.Kind.DISCARD) {
      for (int i = from; i < to; i++) {
        if (now[i] == 0) {
          expected[i] = 0;
        }
      }
    }
    return expected;
  }

  static String describe(Action action) {
    if (action instanceof Action.Qmp q) {
      return q.command();
    }
    if (action instanceof Action.Io io) {
      return "io '" + io.command() + "' on " + io.node();
    }
    if (action instanceof Action.Crash c) {
      return c.power() ? "a power loss" : "a process crash";
    }
    if (action instanceof Action.Img img) {
      return "qemu-img " + img.command();
    }
    return "time passing";
  }
}
