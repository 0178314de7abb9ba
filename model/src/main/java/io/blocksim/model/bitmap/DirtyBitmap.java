package io.blocksim.model.bitmap;

import io.blocksim.model.check.Check;
import java.nio.charset.StandardCharsets;

/**
 * QEMU 7.2's BdrvDirtyBitmap (block/dirty-bitmap.c): an optional name, the {@link HBitmap}, the
 * size in bytes, the flags, and an optional anonymous successor.
 *
 * <p>The node owns its list of bitmaps; this class only tells it what to change. QEMU prepends
 * every new bitmap, a successor included, so the caller adds the result of {@link
 * #createSuccessor()} at the head of its list, and after {@link #abdicate()} or {@link #reclaim()}
 * removes {@link Handover#released()} from the list, leaving {@link Handover#survivor()} where it
 * is. That reproduces QEMU's order: an abdicated successor keeps its own (newer) position under
 * the parent's name, and a reclaimed parent keeps its position.
 *
 * <p>Failures a QMP user can cause are returned as QEMU's desc text (or null when fine) so that the
 * caller can wrap them in a GenericError; violated preconditions that QEMU asserts are {@link
 * Check} failures.
 */
public final class DirtyBitmap {
  /** BDRV_BITMAP_BUSY: refuse a busy bitmap. */
  public static final int CHECK_BUSY = 1;
  /** BDRV_BITMAP_RO: refuse a readonly bitmap. */
  public static final int CHECK_READONLY = 2;
  /** BDRV_BITMAP_INCONSISTENT: refuse an inconsistent bitmap. */
  public static final int CHECK_INCONSISTENT = 4;
  /** BDRV_BITMAP_DEFAULT: busy, readonly, inconsistent. */
  public static final int CHECK_DEFAULT = CHECK_BUSY | CHECK_READONLY | CHECK_INCONSISTENT;
  /** BDRV_BITMAP_ALLOW_RO: busy, inconsistent. */
  public static final int CHECK_ALLOW_RO = CHECK_BUSY | CHECK_INCONSISTENT;
  /** BDRV_BITMAP_MAX_NAME_SIZE, in bytes of the name's UTF-8 form. */
  public static final int MAX_NAME_BYTES = 1023;
  /** QEMU's smallest dirty-bitmap granularity (BDRV_SECTOR_SIZE). */
  public static final long MIN_GRANULARITY_BYTES = 512;

  private String name;
  private HBitmap bitmap;
  private long sizeBytes;
  private boolean disabled;
  private boolean busy;
  private boolean readonly;
  private boolean persistent;
  private boolean inconsistent;
  private boolean skipStore;
  private DirtyBitmap successor;
  /** proposal:bitmap-slices: the past points in time this named bitmap keeps, or null. */
  private BitmapSlices slices;

  /**
   * The outcome of {@link #abdicate()} or {@link #reclaim()}: survivor stays in the node's list
   * (at its own position), released must be removed from it.
   */
  public record Handover(DirtyBitmap survivor, DirtyBitmap released) {}

  /**
   * Creates an enabled, clean bitmap as bdrv_create_dirty_bitmap does; name null means anonymous.
   * The caller checks the name (empty, duplicate, too long) and the granularity first.
   */
  public DirtyBitmap(String name, long sizeBytes, long granularityBytes) {
    Check.that(name == null || !name.isEmpty(), "dirty bitmap: name is empty");
    Check.that(sizeBytes >= 0, "dirty bitmap '%s': size (%d) is negative", name, sizeBytes);
    Check.that(
        isValidGranularity(granularityBytes),
        "dirty bitmap '%s': granularity (%d) is not a power of 2 >= 512",
        name,
        granularityBytes);
    this.name = name;
    this.sizeBytes = sizeBytes;
    this.bitmap = new HBitmap(sizeBytes, Long.numberOfTrailingZeros(granularityBytes));
  }

  // ---------------------------------------------------------------- static helpers

  /** Returns whether QMP accepts that granularity: a power of 2 and at least 512. */
  public static boolean isValidGranularity(long granularityBytes) {
    return granularityBytes >= MIN_GRANULARITY_BYTES
        && Long.bitCount(granularityBytes) == 1
        && granularityBytes <= 1L << 31;
  }

  /** Returns whether the name is longer than QEMU allows (1023 bytes of UTF-8). */
  public static boolean isNameTooLong(String name) {
    return name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES;
  }

  /**
   * Returns the default granularity for a node whose format has that cluster size (0 or less if it
   * has none): the cluster size clamped to [4096, 65536], else 65536.
   */
  public static long defaultGranularityBytes(long clusterSizeBytes) {
    if (clusterSizeBytes <= 0) {
      return 65536;
    }
    return Math.min(65536, Math.max(4096, clusterSizeBytes));
  }

  // ---------------------------------------------------------------- state

  /** Returns the name, or null for an anonymous bitmap. */
  public String name() {
    return name;
  }

  /** Returns whether the bitmap is anonymous (internal, not addressable from QMP). */
  public boolean isAnonymous() {
    return name == null;
  }

  /** Returns the bit array; callers must not replace or resize it behind this object's back. */
  public HBitmap hbitmap() {
    return bitmap;
  }

  /** Returns the size of the node in bytes when the bitmap was created or last truncated. */
  public long sizeBytes() {
    return sizeBytes;
  }

  /** Returns the granularity in bytes. */
  public long granularityBytes() {
    return bitmap.granularityBytes();
  }

  /** Returns the dirty count in bytes as QMP reports it. */
  public long countBytes() {
    return bitmap.countBytes();
  }

  /** Returns whether the bitmap is enabled, i.e. receives writes itself. */
  public boolean enabled() {
    return !disabled;
  }

  /** Returns the disabled flag. */
  public boolean disabled() {
    return disabled;
  }

  /** Sets the disabled flag (block-dirty-bitmap-enable/-disable, transaction abort). */
  public void setDisabled(boolean disabled) {
    this.disabled = disabled;
  }

  /** Returns the busy flag. */
  public boolean busy() {
    return busy;
  }

  /** Sets the busy flag (remove inside a transaction, migration). */
  public void setBusy(boolean busy) {
    this.busy = busy;
  }

  /** Returns the readonly flag. */
  public boolean readonly() {
    return readonly;
  }

  /** Sets the readonly flag (image opened read-only or inactivated). */
  public void setReadonly(boolean readonly) {
    this.readonly = readonly;
  }

  /** Returns the persistent flag. */
  public boolean persistent() {
    return persistent;
  }

  /** Sets the persistent flag. */
  public void setPersistent(boolean persistent) {
    this.persistent = persistent;
  }

  /** Returns the inconsistent flag. */
  public boolean inconsistent() {
    return inconsistent;
  }

  /** Marks a persistent bitmap inconsistent and disabled (bdrv_dirty_bitmap_set_inconsistent). */
  public void setInconsistent() {
    Check.that(persistent, "dirty bitmap '%s': only a persistent bitmap can be inconsistent", name);
    inconsistent = true;
    disabled = true;
  }

  /** Returns the skip-store flag. */
  public boolean skipStore() {
    return skipStore;
  }

  /** Sets the skip-store flag (pending remove, migration). */
  public void setSkipStore(boolean skipStore) {
    this.skipStore = skipStore;
  }

  /** Returns persistent and not skip-store, as bdrv_dirty_bitmap_get_persistence does. */
  public boolean persistenceForStore() {
    return persistent && !skipStore;
  }

  /** Returns the successor, or null. */
  public DirtyBitmap successor() {
    return successor;
  }

  /** Returns whether a successor is installed. */
  /** proposal:bitmap-slices: the bitmap's slices, or null when it keeps none. */
  public BitmapSlices slices() {
    return slices;
  }

  /** proposal:bitmap-slices: the slices, created on first use (block-dirty-bitmap-set-retention). */
  public BitmapSlices slicesCreating() {
    if (slices == null) {
      slices = new BitmapSlices();
    }
    return slices;
  }

  public boolean hasSuccessor() {
    return successor != null;
  }

  /** Returns QMP's recording: enabled, or frozen with an enabled successor. */
  public boolean recording() {
    return !disabled || (successor != null && !successor.disabled);
  }

  // ---------------------------------------------------------------- checks

  /**
   * Returns QEMU's error text for the first failing check among flags (busy, then readonly, then
   * inconsistent, as bdrv_dirty_bitmap_check), or null when the bitmap may be used.
   */
  public String checkUsable(int flags) {
    Check.that((flags & ~CHECK_DEFAULT) == 0, "dirty bitmap check: unknown flags %d", flags);
    if ((flags & CHECK_BUSY) != 0 && busy) {
      return "Bitmap '" + displayName() + "' is currently in use by another operation and cannot"
          + " be used";
    }
    if ((flags & CHECK_READONLY) != 0 && readonly) {
      return "Bitmap '" + displayName() + "' is readonly and cannot be modified";
    }
    if ((flags & CHECK_INCONSISTENT) != 0 && inconsistent) {
      return "Bitmap '" + displayName() + "' is inconsistent and cannot be used";
    }
    return null;
  }

  /**
   * Returns the error of bdrv_merge_dirty_bitmap for merging source into this (DEFAULT checks on
   * this, ALLOW_RO checks on source, equal sizes), or null when the merge may proceed.
   */
  public String checkMergeFrom(DirtyBitmap source) {
    return checkMergeFrom(source, false, false);
  }

  /**
   * As {@link #checkMergeFrom(DirtyBitmap)}, with two historical variants switched by the caller:
   * {@code busySourceAllowed} checks the source for inconsistency only ({@code
   * bug:merge-busy-source}, before "block/dirty-bitmaps: disallow busy bitmaps as merge source"),
   * {@code sameGranularityOnly} refuses sources of another granularity as hbitmap_can_merge did
   * ({@code bug:merge-granularity-refused}, before "hbitmap: enable merging across
   * granularities").
   */
  public String checkMergeFrom(DirtyBitmap source, boolean busySourceAllowed,
      boolean sameGranularityOnly) {
    String error = checkUsable(CHECK_DEFAULT);
    if (error == null) {
      error = source.checkUsable(busySourceAllowed ? CHECK_INCONSISTENT : CHECK_ALLOW_RO);
    }
    if (error == null && sameGranularityOnly
        && source.granularityBytes() != granularityBytes()) {
      error = "Bitmaps are incompatible and can't be merged";
    }
    if (error == null && source.sizeBytes != sizeBytes) {
      error =
          "Bitmaps are of different sizes (destination size is "
              + sizeBytes
              + ", source size is "
              + source.sizeBytes
              + ") and can't be merged";
    }
    return error;
  }

  /** Returns the error of bdrv_dirty_bitmap_create_successor, or null when it may proceed. */
  public String checkCreateSuccessor() {
    String error = checkUsable(CHECK_BUSY);
    if (error == null && successor != null) {
      error = "Cannot create a successor for a bitmap that already has one";
    }
    return error;
  }

  // ---------------------------------------------------------------- content

  /** Marks [offsetBytes, offsetBytes + lengthBytes) dirty, rounding outward to granules. */
  public void setDirty(long offsetBytes, long lengthBytes) {
    Check.that(!readonly, "dirty bitmap '%s': set on a readonly bitmap", name);
    bitmap.set(offsetBytes, lengthBytes);
  }

  /** Clears the granule-aligned range [offsetBytes, offsetBytes + lengthBytes). */
  public void resetDirty(long offsetBytes, long lengthBytes) {
    Check.that(!readonly, "dirty bitmap '%s': reset on a readonly bitmap", name);
    bitmap.reset(offsetBytes, lengthBytes);
  }

  /** Clears every bit (block-dirty-bitmap-clear outside a transaction). */
  public void clear() {
    Check.that(!readonly, "dirty bitmap '%s': clear on a readonly bitmap", name);
    bitmap.resetAll();
  }

  /** Swaps in a clean bit array and returns the old one, for a transaction's clear action. */
  public HBitmap clearKeepingBackup() {
    Check.that(!readonly, "dirty bitmap '%s': clear on a readonly bitmap", name);
    HBitmap backup = bitmap;
    bitmap = new HBitmap(sizeBytes, backup.granularityLog2());
    return backup;
  }

  /** Puts back a bit array saved by a clear or merge (bdrv_restore_dirty_bitmap). */
  public void restore(HBitmap backup) {
    Check.that(!readonly, "dirty bitmap '%s': restore on a readonly bitmap", name);
    Check.that(
        backup.granularityLog2() == bitmap.granularityLog2(),
        "dirty bitmap '%s': backup granularity 2^%d != 2^%d",
        name,
        backup.granularityLog2(),
        bitmap.granularityLog2());
    bitmap = backup;
  }

  /**
   * Computes this |= source (bdrv_dirty_bitmap_merge_internal). With keepBackup the old bit array
   * is returned, untouched, and the result lives in a new one; otherwise returns null. The caller
   * runs {@link #checkMergeFrom} first.
   */
  public HBitmap mergeFrom(DirtyBitmap source, boolean keepBackup) {
    return mergeFrom(source, keepBackup, false);
  }

  /**
   * As {@link #mergeFrom(DirtyBitmap, boolean)}; {@code emptySourceReturnsEarly} switches on
   * {@code bug:merge-empty-source-clears} in the merge that builds a fresh result.
   */
  public HBitmap mergeFrom(DirtyBitmap source, boolean keepBackup,
      boolean emptySourceReturnsEarly) {
    Check.that(!readonly, "dirty bitmap '%s': merge into a readonly bitmap", name);
    Check.that(!inconsistent, "dirty bitmap '%s': merge into an inconsistent bitmap", name);
    Check.that(!source.inconsistent, "dirty bitmap '%s': merge from an inconsistent one", name);
    if (!keepBackup) {
      bitmap.mergeFrom(source.bitmap);
      return null;
    }
    HBitmap backup = bitmap;
    bitmap = new HBitmap(sizeBytes, backup.granularityLog2());
    // As in QEMU, a bitmap merged into itself reads the new (empty) array as its source.
    HBitmap.merge(backup, source == this ? bitmap : source.bitmap, bitmap,
        emptySourceReturnsEarly);
    return backup;
  }

  /** Resizes to the node's new length (bdrv_dirty_bitmap_truncate); never busy or frozen. */
  public void truncate(long newSizeBytes) {
    if (busy) {
      // bdrv_dirty_bitmap_truncate asserts it: an active commit growing a base whose bitmap an
      // export holds aborts QEMU 7.2 (docs/qemu-behaviour.md §22.3).
      throw new io.blocksim.model.check.QemuAbort("bdrv_dirty_bitmap_truncate: Assertion"
          + " `!bdrv_dirty_bitmap_busy(bitmap)' failed (bitmap '" + name + "')");
    }
    Check.that(successor == null, "dirty bitmap '%s': truncate with a successor", name);
    bitmap.truncate(newSizeBytes);
    sizeBytes = newSizeBytes;
  }

  /** Returns the hex SHA-256 of the bit array as x-debug-block-dirty-bitmap-sha256 reports it. */
  public String sha256Hex() {
    return bitmap.sha256Hex();
  }

  // ---------------------------------------------------------------- successors

  /**
   * Freezes this bitmap behind a new anonymous successor of the same granularity and size, and
   * returns that successor, which the caller prepends to the node's list. The successor is enabled
   * iff this was; this becomes disabled and busy. The caller runs {@link #checkCreateSuccessor()}
   * first.
   */
  public DirtyBitmap createSuccessor() {
    String error = checkCreateSuccessor();
    Check.that(error == null, "dirty bitmap '%s': create successor: %s", name, error);
    DirtyBitmap child = new DirtyBitmap(null, sizeBytes, granularityBytes());
    child.disabled = disabled;
    disabled = true;
    successor = child;
    busy = true;
    return child;
  }

  /** Enables the successor (bdrv_dirty_bitmap_enable_successor). */
  public void enableSuccessor() {
    Check.that(successor != null, "dirty bitmap '%s': no successor to enable", name);
    successor.disabled = false;
  }

  /**
   * Hands the name and persistence over to the successor and releases this bitmap
   * (bdrv_dirty_bitmap_abdicate). The successor survives at its own list position.
   */
  public Handover abdicate() {
    Check.that(successor != null, "dirty bitmap '%s': abdicate without a successor", name);
    DirtyBitmap heir = successor;
    heir.name = name;
    heir.persistent = persistent;
    heir.slices = slices;
    name = null;
    persistent = false;
    slices = null;
    busy = false;
    successor = null;
    return new Handover(heir, this);
  }

  /**
   * Merges the successor back into this bitmap and releases it (bdrv_reclaim_dirty_bitmap): this
   * takes the successor's enabled state, is no longer busy, and keeps its list position.
   */
  public Handover reclaim() {
    Check.that(successor != null, "dirty bitmap '%s': reclaim without a successor", name);
    DirtyBitmap child = successor;
    bitmap.mergeFrom(child.bitmap);
    disabled = child.disabled;
    busy = false;
    successor = null;
    Check.that(!child.busy, "dirty bitmap '%s': released successor is busy", name);
    Check.that(!child.hasSuccessor(), "dirty bitmap '%s': released successor has one", name);
    return new Handover(this, child);
  }

  @Override
  public String toString() {
    return "DirtyBitmap["
        + (name == null ? "(anonymous)" : "'" + name + "'")
        + ", size="
        + sizeBytes
        + ", granularity="
        + granularityBytes()
        + ", count="
        + countBytes()
        + (disabled ? ", disabled" : "")
        + (busy ? ", busy" : "")
        + (readonly ? ", readonly" : "")
        + (persistent ? ", persistent" : "")
        + (inconsistent ? ", inconsistent" : "")
        + (successor != null ? ", frozen" : "")
        + "]";
  }

  /** Returns the name as glibc's printf shows it, "(null)" for an anonymous bitmap. */
  private String displayName() {
    return name == null ? "(null)" : name;
  }
}
