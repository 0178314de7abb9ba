package io.blocksim.sim.checker;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.guest.QemuIoCommand;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Bitmap coverage: every guest-visible change since a bitmap's last sync point is recorded in it
 * or in its successor. Each named bitmap keeps a reference: what its node read at the sync point
 * (when it was added, cleared or enabled; when a backup that used it ended and handed it over —
 * on success with on-success or always, and on failure with always — the reference becomes what
 * the source read when that backup started). After every action, a byte that reads differently
 * from the reference must lie in a dirty granule.
 *
 * <p>A bitmap records writes to its own node only: a guest write to a node below it, or a job
 * that changes a node below it (a commit's base), moves the reference with it.
 */
final class BitmapCoverageChecker implements Checker {
  private final Map<String, Tracked> tracked = new LinkedHashMap<>();
  /** What each backup job's source read when it started, by job id. */
  private final Map<String, byte[]> backupStarts = new LinkedHashMap<>();

  private static final class Tracked {
    final BlockNode node;
    byte[] reference;
    /** What the last check saw: contents, dirty counts. The same again needs no new check. */
    byte[] checkedContent;
    long checkedDirty = -1;

    Tracked(BlockNode node, byte[] reference) {
      this.node = node;
      this.reference = reference;
    }
  }

  @Override
  public String name() {
    return "bitmap-coverage";
  }

  @Override
  public void after(Action action, World world) {
    if (action instanceof Action.Crash || action instanceof Action.Img) {
      tracked.clear();
      backupStarts.clear();
      return;
    }
    noteBackupStarts(world);
    List<String> resets = resetsOf(action);
    applyBackupEnds(world);
    Set<String> written = world.jobWrittenNodes();
    BlockNode guestTarget = action instanceof Action.Io io ? writtenNode(io, world) : null;
    Map<String, Tracked> next = new LinkedHashMap<>();
    for (BlockNode node : world.guestNodes()) {
      byte[] now = null;
      for (DirtyBitmap bitmap : node.bitmaps()) {
        if (bitmap.isAnonymous() || bitmap.inconsistent()) {
          continue;
        }
        if (now == null) {
          now = world.content(node);
          if (now == null) {
            break;
          }
        }
        String key = node.name() + "/" + bitmap.name();
        Tracked t = tracked.get(key);
        boolean belowChanged = guestTarget != null && guestTarget != node
            && World.reaches(node, guestTarget);
        for (String w : written) {
          BlockNode writtenNode = world.engine().graph().find(w);
          belowChanged |= writtenNode != null && writtenNode != node
              && World.reaches(node, writtenNode);
        }
        // (A job writing the node itself goes through it, and dirties its bitmaps.)
        if (t == null || t.node != node || t.reference == null || !bitmap.recording()
            || resets.contains(key) || belowChanged || t.reference.length != now.length) {
          // A new sync point (or one we cannot see past): from now on, every change counts.
          t = new Tracked(node, bitmap.recording() ? now : null);
        } else {
          long dirty = bitmap.countBytes() * 31
              + (bitmap.successor() == null ? -1 : bitmap.successor().countBytes());
          if (now != t.checkedContent || dirty != t.checkedDirty) {
            check(world, node, bitmap, t.reference, now, action);
            t.checkedContent = now;
            t.checkedDirty = dirty;
          }
        }
        next.put(key, t);
      }
    }
    tracked.clear();
    tracked.putAll(next);
  }

  private static void check(World world, BlockNode node, DirtyBitmap bitmap, byte[] reference,
      byte[] now, Action action) {
    long granularity = bitmap.granularityBytes();
    DirtyBitmap successor = bitmap.successor();
    int from = 0;
    while (from < now.length) {
      int at = java.util.Arrays.mismatch(reference, from, now.length, now, from, now.length);
      if (at < 0) {
        return;
      }
      at += from;
      boolean dirty = bitmap.hbitmap().get(at)
          || (successor != null && successor.hbitmap().get(at));
      if (!dirty) {
        world.fail("bitmap '%s' on node '%s' (granularity %d) misses a change at offset %d"
            + " (reads 0x%02x, read 0x%02x at its last sync point), seen after %s",
            bitmap.name(), node.name(), granularity, at, now[at] & 0xff, reference[at] & 0xff,
            Requests.describe(action));
      }
      from = (int) Math.min(now.length, (at / granularity + 1) * granularity);
    }
  }

  /** The bitmaps (node/name) a successful command made a new sync point for. */
  private static List<String> resetsOf(Action action) {
    List<String> keys = new ArrayList<>();
    if (!(action instanceof Action.Qmp q) || !q.succeeded() || q.args() == null) {
      return keys;
    }
    if (q.command().equals("transaction") && q.args().get("actions") instanceof List<?> list) {
      for (Object item : list) {
        if (item instanceof Map<?, ?> a && a.get("data") instanceof Map<?, ?> data) {
          addReset(keys, String.valueOf(a.get("type")), data);
        }
      }
    } else {
      addReset(keys, q.command(), q.args());
    }
    return keys;
  }

  private static void addReset(List<String> keys, String command, Map<?, ?> args) {
    if (command.equals("block-dirty-bitmap-add") || command.equals("block-dirty-bitmap-clear")
        || command.equals("block-dirty-bitmap-enable")) {
      keys.add(args.get("node") + "/" + args.get("name"));
    }
  }

  private static BlockNode writtenNode(Action.Io io, World world) {
    QemuIoCommand parsed = Requests.parse(io.command());
    if (parsed == null || parsed.kind() == QemuIoCommand.Kind.READ
        || parsed.kind() == QemuIoCommand.Kind.FLUSH) {
      return null;
    }
    BlockNode node = world.engine().graph().find(io.node());
    // A filter (copy-before-write, copy-on-read) passes the write to its file child: the nodes
    // above that child (another overlay on the same backing file) read it without a write.
    while (node != null && node.driver() != null && node.driver().isFilter()
        && node.primaryChild() != null) {
      node = node.primaryChild();
    }
    return node;
  }

  private void noteBackupStarts(World world) {
    for (World.JobInfo job : world.jobs().values()) {
      if (job.type().equals("backup") && job.args().get("bitmap") instanceof String
          && !backupStarts.containsKey(job.id())) {
        BlockNode source = world.engine().graph().find(String.valueOf(job.args().get("device")));
        backupStarts.put(job.id(), source == null ? null : world.content(source));
      }
    }
  }

  /** A backup that ended handed its bitmap over: the reference moves to its start, per mode. */
  private void applyBackupEnds(World world) {
    for (QmpEvent event : world.newEvents()) {
      boolean completed = event.event().equals("BLOCK_JOB_COMPLETED");
      if (!completed && !event.event().equals("BLOCK_JOB_CANCELLED")) {
        continue;
      }
      String id = String.valueOf(event.data().get("device"));
      World.JobInfo job = world.jobs().get(id);
      byte[] start = backupStarts.remove(id);
      if (job == null || start == null) {
        continue;
      }
      boolean success = completed && !event.data().containsKey("error");
      String mode = Backups.bitmapMode(job.args());
      if ((success && !mode.equals("never")) || (!success && mode.equals("always"))) {
        Tracked t = tracked.get(job.args().get("device") + "/" + job.args().get("bitmap"));
        if (t != null && t.reference != null && t.reference.length == start.length) {
          t.reference = start;
          t.checkedContent = null;
        }
      }
    }
  }
}
