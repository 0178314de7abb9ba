package io.blocksim.sim.checker;

import io.blocksim.sim.port.Backend;
import java.util.Map;

/**
 * One thing a run did to the simulated world, as the checkers see it after it happened: a QMP
 * command with its reply, a qemu-io command with its outcome, time passing, a crash, a qemu-img
 * command.
 */
public sealed interface Action {
  /** A QMP command; {@code reply} is {@code {"return": ...}} or {@code {"error": ...}}. */
  record Qmp(String command, Map<String, Object> args, Map<String, Object> reply)
      implements Action {
    public boolean succeeded() {
      return !reply.containsKey("error");
    }
  }

  /** A qemu-io command on a node. */
  record Io(String node, String command, Backend.IoOutcome outcome) implements Action {}

  /** Virtual time passed (an advance, or a wait for an event). */
  record Time() implements Action {}

  /** The process died or the power went; {@code power} tells which. */
  record Crash(boolean power) implements Action {}

  /** A qemu-img command on image files (no node uses them). */
  record Img(String command) implements Action {
    /**
     * Whether the command only reads the files (info, or check without -r): the nodes and the
     * jobs of the running process are as they were.
     */
    public boolean readsOnly() {
      String[] words = command.trim().split("\\s+");
      return words[0].equals("info") || words[0].equals("check")
          && java.util.Arrays.stream(words).noneMatch(w -> w.equals("-r")
              || w.startsWith("--repair"));
    }
  }
}
