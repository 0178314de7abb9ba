package io.blocksim.sim.checker;

import io.blocksim.model.graph.BlockNode;
import io.blocksim.sim.guest.QemuIoCommand;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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

  private record Seen(BlockNode node, byte[] content, List<BlockNode> below) {}

  /**
   * Commands that give a node a new backing node (blockdev-snapshot's overlay gets the old top
   * below it, external_snapshot_commit; blockdev-reopen may change the backing option): a node
   * whose subtree such a command changed reads through its new backing file from then on.
   */
  private static final Set<String> REGRAPH = Set.of("blockdev-snapshot",
      "blockdev-snapshot-sync", "blockdev-reopen", "transaction");

  /** The nodes in a node's subtree, depth first (identity: a replaced node is a change). */
  private static List<BlockNode> below(BlockNode node) {
    List<BlockNode> out = new ArrayList<>();
    Map<BlockNode, Boolean> visited = new IdentityHashMap<>();
    collect(node, out, visited);
    return out;
  }

  private static void collect(BlockNode node, List<BlockNode> out,
      Map<BlockNode, Boolean> visited) {
    for (BlockNode child : node.children().values()) {
      if (child != null && visited.put(child, Boolean.TRUE) == null) {
        out.add(child);
        collect(child, out, visited);
      }
    }
  }

  @Override
  public String name() {
    return "data";
  }

  @Override
  public void after(Action action, World world) {
    if (action instanceof Action.Crash || action instanceof Action.Img
        || action instanceof Action.Qmp q && q.command().equals("block_resize")) {
      // A resize changes what a node reads without a guest write: a shrink cuts the data past
      // the new end, even where the length rounded up to a sector stays the same.
      seen.clear();
    } else {
      BlockNode guestTarget = null;
      QemuIoCommand io = null;
      List<BlockNode> copiedTo = new ArrayList<>();
      if (action instanceof Action.Io a) {
        io = Requests.parse(a.command());
        guestTarget = io == null || io.kind() == QemuIoCommand.Kind.READ
            || io.kind() == QemuIoCommand.Kind.FLUSH ? null : world.engine().graph().find(a.node());
        // A filter (copy-before-write, copy-on-read) passes the request to its file child: that
        // is the node the request writes (bdrv_co_pwritev_part down the filtered child).
        while (guestTarget != null && guestTarget.driver() != null
            && guestTarget.driver().isFilter() && guestTarget.primaryChild() != null) {
          if (guestTarget.driver().name().equals("copy-before-write")
              && guestTarget.child("target") != null) {
            // cbw_do_copy_before_write copies the old data to the target first.
            copiedTo.add(guestTarget.child("target"));
          }
          guestTarget = guestTarget.primaryChild();
        }
      }
      for (BlockNode node : world.guestNodes()) {
        Seen before = seen.get(node.name());
        if (before == null || before.node() != node || world.jobMayChange(node)) {
          continue;
        }
        if (action instanceof Action.Qmp q && REGRAPH.contains(q.command())
            && !below(node).equals(before.below())) {
          continue; // A new backing node: the node reads through it now.
        }
        byte[] now = world.content(node);
        if (now == null || before.content() == null || now.length != before.content().length
            || (now == before.content() && action instanceof Action.Time)) {
          continue; // Unreadable, resized, or read at the same version as before.
        }
        if (copiedTo.stream().anyMatch(t -> World.reaches(node, t))) {
          continue; // A copy-before-write target (or a node above it): the filter writes it.
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
      next.put(node.name(), new Seen(node, world.content(node), below(node)));
    }
    seen.clear();
    seen.putAll(next);
  }
}
