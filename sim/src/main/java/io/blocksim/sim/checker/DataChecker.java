package io.blocksim.sim.checker;

import io.blocksim.model.graph.BlockNode;
import io.blocksim.sim.guest.QemuIoCommand;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Data: nothing but the guest changes what a node reads. Between two actions every named node
 * reads the same, unless a guest request wrote it (or a node below it), or a job writes it (a
 * backup's or mirror's target, a commit's base and the nodes above it up to the top) — so a
 * backup's copy-before-write, a stream's copy-on-read population, a mirror's or commit's
 * completion leave every device's data as it was. A guest write itself must land: the written
 * range reads the pattern (or zeroes) afterwards, a discard reads as before or as zeroes.
 */
final class DataChecker implements Checker {
  /** The last contents seen of each named node, by name. */
  private final Map<String, Seen> seen = new LinkedHashMap<>();

  private record Seen(BlockNode node, byte[] content) {}

  @Override
  public String name() {
    return "data";
  }

  @Override
  public void after(Action action, World world) {
    if (action instanceof Action.Crash || action instanceof Action.Img) {
      seen.clear();
    } else {
      BlockNode guestTarget = null;
      QemuIoCommand io = null;
      if (action instanceof Action.Io a) {
        io = Requests.parse(a.command());
        guestTarget = io == null || io.kind() == QemuIoCommand.Kind.READ
            || io.kind() == QemuIoCommand.Kind.FLUSH ? null : world.engine().graph().find(a.node());
      }
      for (BlockNode node : world.guestNodes()) {
        Seen before = seen.get(node.name());
        if (before == null || before.node() != node || world.jobMayChange(node)) {
          continue;
        }
        byte[] now = world.content(node);
        if (now == null || before.content() == null || now.length != before.content().length
            || (now == before.content() && action instanceof Action.Time)) {
          continue; // Unreadable, resized, or read at the same version as before.
        }
        if (guestTarget != null && node != guestTarget && World.reaches(node, guestTarget)) {
          continue; // A node above the written one: it reads the write where it does not cover it.
        }
        byte[] expected = before.content();
        if (node == guestTarget) {
          expected = Requests.applied(expected, now, io,
              ((Action.Io) action).outcome().error() == null);
          if (expected == null) {
            continue; // A failed request may have written part of its range.
          }
        }
        int at = Arrays.mismatch(expected, now);
        if (at >= 0) {
          world.fail("node '%s' reads 0x%02x at offset %d after %s, but read 0x%02x before and"
              + " %s", node.name(), now[at] & 0xff, at, Requests.describe(action),
              before.content()[at] & 0xff, node == guestTarget ? "the request did not write there"
                  : "no guest request and no job writes it");
        }
      }
    }
    Map<String, Seen> next = new LinkedHashMap<>();
    for (BlockNode node : world.guestNodes()) {
      next.put(node.name(), new Seen(node, world.content(node)));
    }
    seen.clear();
    seen.putAll(next);
  }
}
