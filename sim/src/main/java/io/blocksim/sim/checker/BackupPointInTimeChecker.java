package io.blocksim.sim.checker;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.bitmap.HBitmap;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.qapi.QmpEvent;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Backup point in time. A backup that succeeds leaves its target reading what the source read
 * when the job started: everywhere for sync=full, on every granule its bitmap had dirty for
 * sync=bitmap. A backup that fails or is cancelled leaves the bitmap covering every cluster the
 * next backup needs: with bitmap-mode=always, a granule it no longer has dirty (of those it had
 * dirty, or of all for sync=full) must have reached the target as it was at the start; with
 * on-success or never, the bitmap keeps every granule it had (as never does on success).
 */
final class BackupPointInTimeChecker implements Checker {
  private final Map<String, Start> starts = new LinkedHashMap<>();

  /** A backup as it started: the source's contents, its bitmap's dirty granules then. */
  private record Start(String source, String target, byte[] content, String sync, String mode,
      String bitmap, HBitmap dirty, boolean[] targetWritten) {}

  @Override
  public String name() {
    return "backup-point-in-time";
  }

  @Override
  public void after(Action action, World world) {
    if (action instanceof Action.Crash
        || action instanceof Action.Img img && !img.readsOnly()) {
      starts.clear();
      return;
    }
    for (World.JobInfo job : world.jobs().values()) {
      if (job.type().equals("backup") && !starts.containsKey(job.id())) {
        starts.put(job.id(), startOf(job, world));
      }
    }
    if (action instanceof Action.Io io) {
      for (Start start : starts.values()) {
        if (start != null && start.target().equals(io.node())) {
          start.targetWritten()[0] = true; // The guest wrote the target: no claim on it.
        }
      }
    }
    for (QmpEvent event : world.newEvents()) {
      boolean completed = event.event().equals("BLOCK_JOB_COMPLETED");
      if (!completed && !event.event().equals("BLOCK_JOB_CANCELLED")) {
        continue;
      }
      String id = String.valueOf(event.data().get("device"));
      if (!starts.containsKey(id)) {
        continue;
      }
      Start start = starts.remove(id);
      if (start != null && !start.targetWritten()[0]) {
        ended(world, id, start, completed && !event.data().containsKey("error"));
      }
    }
  }

  private static Start startOf(World.JobInfo job, World world) {
    String source = String.valueOf(job.args().get("device"));
    String target = String.valueOf(job.args().get("target"));
    BlockNode node = world.engine().graph().find(source);
    if (node == null || world.engine().graph().find(target) == null) {
      return null;
    }
    byte[] content = world.content(node);
    if (content == null) {
      return null;
    }
    HBitmap dirty = null;
    String bitmapName = job.args().get("bitmap") instanceof String b ? b : null;
    if (bitmapName != null) {
      DirtyBitmap bitmap = node.bitmap(bitmapName);
      if (bitmap == null) {
        return null;
      }
      dirty = bitmap.hbitmap().copy();
    }
    return new Start(source, target, content, Backups.sync(job.args()),
        Backups.bitmapMode(job.args()), bitmapName, dirty, new boolean[1]);
  }

  private static void ended(World world, String id, Start start, boolean success) {
    BlockNode source = world.engine().graph().find(start.source());
    BlockNode target = world.engine().graph().find(start.target());
    DirtyBitmap bitmap = start.bitmap() == null || source == null ? null
        : source.bitmap(start.bitmap());
    if (success) {
      if (target != null && (start.sync().equals("full") || start.sync().equals("bitmap"))) {
        byte[] now = world.content(target);
        if (now != null && now.length == start.content().length) {
          HBitmap only = start.sync().equals("bitmap") ? start.dirty() : null;
          long at = firstDifference(start.content(), now, only);
          if (at >= 0) {
            world.fail("backup '%s' (sync=%s) succeeded, but target '%s' reads 0x%02x at offset"
                + " %d where source '%s' read 0x%02x when the job started", id, start.sync(),
                start.target(), now[(int) at] & 0xff, at, start.source(),
                start.content()[(int) at] & 0xff);
          }
        }
      }
      if (bitmap != null && start.mode().equals("never")) {
        keepsEveryGranule(world, id, start, bitmap, "succeeded");
      }
      return;
    }
    if (bitmap == null) {
      return;
    }
    if (!start.mode().equals("always")) {
      keepsEveryGranule(world, id, start, bitmap, "failed");
      return;
    }
    if (target == null || !(start.sync().equals("full") || start.sync().equals("bitmap"))) {
      return;
    }
    byte[] now = world.content(target);
    if (now == null || now.length != start.content().length) {
      return;
    }
    long granularity = bitmap.granularityBytes();
    for (long offset = 0; offset < now.length; offset += granularity) {
      boolean needed = start.sync().equals("full") || start.dirty().get(offset);
      if (!needed || bitmap.hbitmap().get(offset)) {
        continue;
      }
      int end = (int) Math.min(now.length, offset + granularity);
      int at = java.util.Arrays.mismatch(start.content(), (int) offset, end, now, (int) offset,
          end);
      if (at >= 0) {
        world.fail("backup '%s' (sync=%s, bitmap-mode=always) failed and bitmap '%s' dropped the"
            + " granule at offset %d, but target '%s' never got it: reads 0x%02x at offset %d"
            + " where the source read 0x%02x at the start; the next backup would miss it", id,
            start.sync(), start.bitmap(), offset, start.target(), now[(int) offset + at] & 0xff,
            offset + at, start.content()[(int) offset + at] & 0xff);
      }
    }
  }

  private static void keepsEveryGranule(World world, String id, Start start, DirtyBitmap bitmap,
      String how) {
    if (start.dirty() == null) {
      return;
    }
    long size = Math.min(start.dirty().origSizeBytes(), bitmap.sizeBytes());
    long granularity = start.dirty().granularityBytes();
    long offset = start.dirty().nextDirty(0, size);
    while (offset >= 0) {
      if (!bitmap.hbitmap().get(offset)) {
        world.fail("backup '%s' %s with bitmap-mode=%s, but bitmap '%s' lost the dirty granule"
            + " at offset %d that it had when the job started", id, how, start.mode(),
            start.bitmap(), offset);
      }
      long next = (offset / granularity + 1) * granularity;
      if (next >= size) {
        break;
      }
      offset = start.dirty().nextDirty(next, size - next);
    }
  }

  /** The first offset where a and b differ (within the dirty granules of only, if given). */
  private static long firstDifference(byte[] a, byte[] b, HBitmap only) {
    int from = 0;
    while (from < a.length) {
      int at = java.util.Arrays.mismatch(a, from, a.length, b, from, b.length);
      if (at < 0) {
        return -1;
      }
      at += from;
      if (only == null || only.get(at)) {
        return at;
      }
      long granularity = only.granularityBytes();
      from = (int) Math.min(a.length, (at / granularity + 1) * granularity);
    }
    return -1;
  }
}
