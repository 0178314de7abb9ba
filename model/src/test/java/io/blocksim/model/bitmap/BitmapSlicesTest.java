package io.blocksim.model.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import org.junit.jupiter.api.Test;

/**
 * Unit tests for {@link BitmapSlices} (proposal:bitmap-slices, docs/variants.md). Goal: a saved
 * slice is what a backup covered, the retention bounds the slices kept, force-cycle drops the
 * oldest, ids never repeat, and a backup from slice K sees slices K.. only. Method: drive a
 * bitmap through backups as BackupJob does (successor, write, abdicate, save the released
 * parent) with writes at known clusters, and compare counts with the clusters written.
 */
class BitmapSlicesTest {
  private static final long DISK = 1L << 20;
  private static final long CLUSTER = 65536;

  /** One successful backup of b: the frozen bits become a slice, b keeps the writes since. */
  private static DirtyBitmap backup(DirtyBitmap b, long writeDuringJob) {
    DirtyBitmap successor = b.createSuccessor();
    if (writeDuringJob >= 0) {
      successor.setDirty(writeDuringJob, CLUSTER);
    }
    DirtyBitmap.Handover handover = b.abdicate();
    handover.survivor().slices().save(handover.released());
    return handover.survivor();
  }

  @Test
  void slicesFollowTheSurvivorAndHoldWhatEachBackupCovered() {
    DirtyBitmap b = new DirtyBitmap("b0", DISK, CLUSTER);
    b.slicesCreating().setRetention(2, false);
    b.setDirty(0, CLUSTER);
    b = backup(b, 5 * CLUSTER);
    b.setDirty(CLUSTER, 2 * CLUSTER);
    b = backup(b, -1);

    assertThat(b.name()).isEqualTo("b0");
    assertThat(b.slices().slices()).extracting(BitmapSlices.Slice::id).containsExactly(1, 2);
    // slice 1: cluster 0; slice 2: clusters 1, 2 and 5 (written while backup 1 ran).
    assertThat(b.slices().slice(1).bits().countBytes()).isEqualTo(CLUSTER);
    assertThat(b.slices().slice(2).bits().countBytes()).isEqualTo(3 * CLUSTER);
    assertThat(b.countBytes()).isZero();
    assertThat(b.slices().full()).isTrue();

    DirtyBitmap copy = new DirtyBitmap(null, DISK, CLUSTER);
    b.setDirty(7 * CLUSTER, CLUSTER);
    copy.mergeFrom(b, false);
    b.slices().mergeFrom(2, copy);
    assertThat(copy.countBytes()).as("slice 2 and the active bitmap").isEqualTo(4 * CLUSTER);
  }

  @Test
  void savingPastTheRetentionNeedsForceCycleWhichDropsTheOldest() {
    DirtyBitmap b = new DirtyBitmap("b0", DISK, CLUSTER);
    b.slicesCreating().setRetention(1, false);
    b.setDirty(0, CLUSTER);
    DirtyBitmap afterFirst = backup(b, -1);
    afterFirst.setDirty(CLUSTER, CLUSTER);
    assertThatThrownBy(() -> backup(afterFirst, -1)).isInstanceOf(InvariantViolation.class);

    DirtyBitmap c = new DirtyBitmap("c0", DISK, CLUSTER);
    c.slicesCreating().setRetention(1, true);
    c.setDirty(0, CLUSTER);
    c = backup(c, -1);
    c.setDirty(CLUSTER, 3 * CLUSTER);
    c = backup(c, -1);
    assertThat(c.slices().slices()).extracting(BitmapSlices.Slice::id).containsExactly(2);
    assertThat(c.slices().slice(2).bits().countBytes()).isEqualTo(3 * CLUSTER);
    assertThat(c.slices().dropped()).isEqualTo(1);
  }

  @Test
  void loweringTheRetentionWithForceCycleDropsTheOldestSlices() {
    DirtyBitmap b = new DirtyBitmap("b0", DISK, CLUSTER);
    b.slicesCreating().setRetention(3, false);
    for (int i = 0; i < 3; i++) {
      b.setDirty(i * CLUSTER, CLUSTER);
      b = backup(b, -1);
    }
    assertThat(b.slices().setRetention(1, true)).isEqualTo(2);
    assertThat(b.slices().slices()).extracting(BitmapSlices.Slice::id).containsExactly(3);
    assertThat(b.slices().slice(1)).isNull();
  }
}
