package io.blocksim.model.bitmap;

import io.blocksim.model.check.Check;
import java.util.ArrayList;
import java.util.List;

/**
 * proposal:bitmap-slices (docs/variants.md): the past points in time a named bitmap keeps. Each
 * successful backup that syncs the bitmap saves what it covered (the frozen bitmap of its start)
 * as a disabled slice, newest last; the named bitmap itself stays the active slice. At most
 * {@link #retention()} slices are kept; a backup that would save one more is refused unless the
 * retention was set with force-cycle, which drops the oldest. Slice ids count the saved slices
 * of the bitmap from 1 and never repeat, so "slice K" names one point in time even after the
 * older ones were dropped. Not stored in a qcow2 image: the slices live as long as the bitmap
 * object in memory.
 */
public final class BitmapSlices {
  /** One saved slice: its id and the clusters written between its point and the next. */
  public record Slice(int id, DirtyBitmap bits) {}

  private int retention;
  private boolean forceCycle;
  private final List<Slice> slices = new ArrayList<>();
  private int nextId = 1;
  private int dropped;

  public int retention() {
    return retention;
  }

  public boolean forceCycle() {
    return forceCycle;
  }

  /** The slices, oldest first (read-only view). */
  public List<Slice> slices() {
    return List.copyOf(slices);
  }

  /** How many slices were dropped by force-cycle over the bitmap's life. */
  public int dropped() {
    return dropped;
  }

  /** Whether saving one more slice would exceed the retention. */
  public boolean full() {
    return retention > 0 && slices.size() >= retention;
  }

  /**
   * Sets the retention; the caller has refused a smaller retention than the slices kept unless
   * force-cycle. Returns how many of the oldest slices were dropped to fit.
   */
  public int setRetention(int newRetention, boolean newForceCycle) {
    Check.that(newRetention >= 0, "bitmap slices: negative retention %d", newRetention);
    Check.that(newForceCycle || slices.size() <= newRetention,
        "bitmap slices: %d slices exceed the retention %d without force-cycle", slices.size(),
        newRetention);
    retention = newRetention;
    forceCycle = newForceCycle;
    int drop = Math.max(0, slices.size() - newRetention);
    for (int i = 0; i < drop; i++) {
      slices.remove(0);
    }
    dropped += drop;
    return drop;
  }

  /**
   * Saves a disabled slice (the frozen bitmap a successful backup covered); a full retention
   * drops the oldest first, which only force-cycle allows (the backup was refused otherwise).
   */
  public void save(DirtyBitmap covered) {
    Check.that(retention > 0, "bitmap slices: save without a retention");
    Check.that(covered.disabled() && covered.isAnonymous() && !covered.busy(),
        "bitmap slices: a saved slice must be an anonymous, disabled, idle bitmap");
    if (full()) {
      Check.that(forceCycle, "bitmap slices: retention %d exceeded without force-cycle",
          retention);
      slices.remove(0);
      dropped++;
    }
    slices.add(new Slice(nextId++, covered));
  }

  /** The slice with that id, or null. */
  public Slice slice(int id) {
    for (Slice s : slices) {
      if (s.id() == id) {
        return s;
      }
    }
    return null;
  }

  /** Merges the slices from id on (oldest first) into target: what a backup from slice id adds. */
  public void mergeFrom(int fromId, DirtyBitmap target) {
    for (Slice s : slices) {
      if (s.id() >= fromId) {
        target.mergeFrom(s.bits(), false);
      }
    }
  }
}
