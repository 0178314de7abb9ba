package io.blocksim.model.graph;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.check.Check;
import io.blocksim.model.check.InvariantViolation;
import io.blocksim.model.graph.BlockNode;
import java.util.List;

/**
 * The reference rule for requests that carry the write-unchanged flag (copy-on-read population,
 * stream): the guest-visible data of the node does not change, so no dirty bitmap of that node
 * may change either (docs/qemu-behaviour.md §2.4, §8). The block layer takes a snapshot before such a
 * request and checks it afterwards; a change is a violated invariant, which the scenario runner
 * reports at the step where it happened (exit code 3, with the seed and the replay command).
 *
 * <p>This is what catches {@code bug:write-unchanged-dirties}: under that variant a population
 * write dirties the node's enabled bitmaps.
 */
public final class WriteUnchangedCheck {
  /** The bitmaps of a node and their dirty byte counts before a request. */
  public record Snapshot(BlockNode node, List<DirtyBitmap> bitmaps, long[] counts) {}

  private WriteUnchangedCheck() {}

  public static Snapshot before(BlockNode node) {
    List<DirtyBitmap> bitmaps = List.copyOf(node.bitmaps());
    long[] counts = new long[bitmaps.size()];
    for (int i = 0; i < counts.length; i++) {
      counts[i] = bitmaps.get(i).countBytes();
    }
    return new Snapshot(node, bitmaps, counts);
  }

  /** Throws InvariantViolation if a bitmap of the node changed since the snapshot. */
  public static void after(Snapshot snapshot, long offset, long length) {
    for (int i = 0; i < snapshot.counts().length; i++) {
      DirtyBitmap bitmap = snapshot.bitmaps().get(i);
      long now = bitmap.countBytes();
      Check.that(now == snapshot.counts()[i], "a write-unchanged request on node '%s' (offset %d,"
          + " length %d) changed bitmap '%s' from %d to %d dirty bytes; the guest-visible data"
          + " did not change, so no bitmap may", snapshot.node().name(), offset, length,
          bitmap.name() == null ? "" : bitmap.name(), snapshot.counts()[i], now);
    }
  }
}
