package io.blocksim.model.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Unit tests for {@link DirtyBitmap}. Goal: flags, successor handling and error texts follow
 * QEMU 7.2's block/dirty-bitmap.c as described in docs/qemu-behaviour.md §2 and §3. Method: drive one
 * bitmap through each transition and compare with the documented outcome; a small list stands in
 * for the node's bitmap list to check the order QEMU shows in queries.
 */
class DirtyBitmapTest {
  private static final long DISK = 64L << 20;
  private static final long CLUSTER = 65536;

  private static DirtyBitmap bitmap(String name) {
    return new DirtyBitmap(name, DISK, CLUSTER);
  }

  // ---------------------------------------------------------------- state and recording

  @Test
  void newBitmapIsEnabledCleanAndRecording() {
    DirtyBitmap b0 = bitmap("b0");

    assertThat(b0.name()).isEqualTo("b0");
    assertThat(b0.enabled()).isTrue();
    assertThat(b0.recording()).isTrue();
    assertThat(b0.countBytes()).isZero();
    assertThat(b0.granularityBytes()).isEqualTo(CLUSTER);
    assertThat(b0.sizeBytes()).isEqualTo(DISK);
    assertThat(b0.busy() || b0.readonly() || b0.persistent() || b0.inconsistent()).isFalse();
  }

  @Test
  void disabledBitmapIsNotRecording() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setDisabled(true);

    assertThat(b0.recording()).isFalse();
  }

  @Test
  void constructorRejectsEmptyNameAndBadGranularity() {
    assertThatThrownBy(() -> new DirtyBitmap("", DISK, CLUSTER))
        .isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> new DirtyBitmap("b", DISK, 256))
        .isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(() -> new DirtyBitmap("b", DISK, 3 * 512))
        .isInstanceOf(InvariantViolation.class);
  }

  @Test
  void setDirtyCountsWholeGranules() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setDirty(1000, 1);
    b0.setDirty(CLUSTER * 3 - 1, 2);

    assertThat(b0.countBytes()).isEqualTo(3 * CLUSTER);
    b0.resetDirty(0, CLUSTER);
    assertThat(b0.countBytes()).isEqualTo(2 * CLUSTER);
    b0.clear();
    assertThat(b0.countBytes()).isZero();
  }

  @Test
  void writingAReadonlyBitmapIsABug() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setReadonly(true);

    assertThatThrownBy(() -> b0.setDirty(0, 1)).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(b0::clear).isInstanceOf(InvariantViolation.class);
  }

  @Test
  void inconsistentBitmapIsDisabledAndMustBePersistent() {
    DirtyBitmap b0 = bitmap("b0");
    assertThatThrownBy(b0::setInconsistent).isInstanceOf(InvariantViolation.class);
    b0.setPersistent(true);
    b0.setInconsistent();

    assertThat(b0.inconsistent()).isTrue();
    assertThat(b0.recording()).isFalse();
  }

  @Test
  void skipStoreHidesPersistenceFromTheStore() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setPersistent(true);
    assertThat(b0.persistenceForStore()).isTrue();
    b0.setSkipStore(true);

    assertThat(b0.persistenceForStore()).isFalse();
    assertThat(b0.persistent()).isTrue();
  }

  // ---------------------------------------------------------------- checks and their texts

  @Test
  void checksRunInQemuOrderBusyReadonlyInconsistent() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setPersistent(true);
    b0.setInconsistent();
    b0.setReadonly(true);
    b0.setBusy(true);

    assertThat(b0.checkUsable(DirtyBitmap.CHECK_DEFAULT))
        .isEqualTo("Bitmap 'b0' is currently in use by another operation and cannot be used");
    b0.setBusy(false);
    assertThat(b0.checkUsable(DirtyBitmap.CHECK_DEFAULT))
        .isEqualTo("Bitmap 'b0' is readonly and cannot be modified");
    assertThat(b0.checkUsable(DirtyBitmap.CHECK_ALLOW_RO))
        .isEqualTo("Bitmap 'b0' is inconsistent and cannot be used");
    assertThat(b0.checkUsable(DirtyBitmap.CHECK_BUSY | DirtyBitmap.CHECK_READONLY))
        .isEqualTo("Bitmap 'b0' is readonly and cannot be modified");
  }

  @Test
  void usableBitmapPassesEveryCheck() {
    assertThat(bitmap("b0").checkUsable(DirtyBitmap.CHECK_DEFAULT)).isNull();
  }

  @Test
  void mergeOfDifferentSizesReportsBothSizes() {
    DirtyBitmap target = new DirtyBitmap("t", 16L << 20, CLUSTER);
    DirtyBitmap source = new DirtyBitmap("s", 32L << 20, CLUSTER);

    assertThat(target.checkMergeFrom(source))
        .isEqualTo(
            "Bitmaps are of different sizes (destination size is 16777216, source size is"
                + " 33554432) and can't be merged");
  }

  @Test
  void mergeChecksTargetWithDefaultAndSourceWithAllowRo() {
    DirtyBitmap target = bitmap("t");
    DirtyBitmap source = bitmap("s");
    source.setReadonly(true);
    assertThat(target.checkMergeFrom(source)).isNull();

    target.setReadonly(true);
    assertThat(target.checkMergeFrom(source))
        .isEqualTo("Bitmap 't' is readonly and cannot be modified");
  }

  // ---------------------------------------------------------------- merge with backup

  @Test
  void mergeWithBackupKeepsTheOldContentForAbort() {
    DirtyBitmap target = bitmap("t");
    DirtyBitmap source = new DirtyBitmap("s", DISK, 4096);
    target.setDirty(0, 1);
    source.setDirty(CLUSTER * 2 + 4096, 1);
    HBitmap backup = target.mergeFrom(source, true);

    assertThat(target.countBytes()).isEqualTo(2 * CLUSTER);
    assertThat(backup.countBytes()).isEqualTo(CLUSTER);
    target.restore(backup);
    assertThat(target.countBytes()).isEqualTo(CLUSTER);
  }

  @Test
  void mergeWithoutBackupReturnsNull() {
    DirtyBitmap target = bitmap("t");
    DirtyBitmap source = bitmap("s");
    source.setDirty(0, 1);

    assertThat(target.mergeFrom(source, false)).isNull();
    assertThat(target.countBytes()).isEqualTo(CLUSTER);
  }

  @Test
  void mergeOfABitmapIntoItselfWithBackupKeepsItsContent() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setDirty(0, 3 * CLUSTER);
    HBitmap backup = b0.mergeFrom(b0, true);

    assertThat(b0.countBytes()).isEqualTo(3 * CLUSTER);
    assertThat(backup.countBytes()).isEqualTo(3 * CLUSTER);
    assertThat(b0.hbitmap()).isNotSameAs(backup);
  }

  @Test
  void clearKeepingBackupSwapsInAnEmptyArray() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setDirty(0, CLUSTER);
    HBitmap old = b0.clearKeepingBackup();

    assertThat(b0.countBytes()).isZero();
    assertThat(old.countBytes()).isEqualTo(CLUSTER);
    b0.restore(old);
    assertThat(b0.countBytes()).isEqualTo(CLUSTER);
  }

  // ---------------------------------------------------------------- successors

  @Test
  void createSuccessorFreezesTheParent() {
    DirtyBitmap parent = bitmap("b0");
    DirtyBitmap successor = parent.createSuccessor();

    assertThat(successor.isAnonymous()).isTrue();
    assertThat(successor.enabled()).isTrue();
    assertThat(successor.granularityBytes()).isEqualTo(CLUSTER);
    assertThat(successor.sizeBytes()).isEqualTo(DISK);
    assertThat(parent.disabled()).isTrue();
    assertThat(parent.busy()).isTrue();
    assertThat(parent.successor()).isSameAs(successor);
    assertThat(parent.recording()).isTrue();
  }

  @Test
  void successorOfADisabledParentIsDisabled() {
    DirtyBitmap parent = bitmap("b0");
    parent.setDisabled(true);
    DirtyBitmap successor = parent.createSuccessor();

    assertThat(successor.enabled()).isFalse();
    assertThat(parent.recording()).isFalse();
    parent.enableSuccessor();
    assertThat(parent.recording()).isTrue();
  }

  @Test
  void secondSuccessorIsRefusedWithQemuTexts() {
    DirtyBitmap parent = bitmap("b0");
    parent.createSuccessor();

    assertThat(parent.checkCreateSuccessor())
        .isEqualTo("Bitmap 'b0' is currently in use by another operation and cannot be used");
    parent.setBusy(false);
    assertThat(parent.checkCreateSuccessor())
        .isEqualTo("Cannot create a successor for a bitmap that already has one");
    assertThatThrownBy(parent::createSuccessor).isInstanceOf(InvariantViolation.class);
  }

  @Test
  void abdicateHandsNameAndPersistenceToTheSuccessor() {
    List<DirtyBitmap> nodeList = new ArrayList<>();
    DirtyBitmap other = bitmap("other");
    DirtyBitmap parent = bitmap("b0");
    nodeList.add(0, parent);
    nodeList.add(0, other);
    parent.setPersistent(true);
    parent.setDirty(0, CLUSTER);
    DirtyBitmap successor = parent.createSuccessor();
    nodeList.add(0, successor);
    successor.setDirty(CLUSTER * 5, 1);

    DirtyBitmap.Handover handover = parent.abdicate();
    nodeList.remove(handover.released());

    assertThat(handover.survivor()).isSameAs(successor);
    assertThat(handover.released()).isSameAs(parent);
    assertThat(successor.name()).isEqualTo("b0");
    assertThat(successor.persistent()).isTrue();
    assertThat(successor.busy()).isFalse();
    assertThat(successor.enabled()).isTrue();
    assertThat(successor.countBytes()).isEqualTo(CLUSTER);
    assertThat(parent.name()).isNull();
    assertThat(parent.persistent()).isFalse();
    // The named bitmap now sits at the successor's newer position, before 'other'.
    assertThat(nodeList).containsExactly(successor, other);
  }

  @Test
  void reclaimMergesTheSuccessorBackAndKeepsTheParentPosition() {
    List<DirtyBitmap> nodeList = new ArrayList<>();
    DirtyBitmap parent = bitmap("b0");
    nodeList.add(0, parent);
    DirtyBitmap other = bitmap("other");
    nodeList.add(0, other);
    parent.setDirty(0, CLUSTER);
    DirtyBitmap successor = parent.createSuccessor();
    nodeList.add(0, successor);
    successor.setDirty(CLUSTER * 5, 1);

    DirtyBitmap.Handover handover = parent.reclaim();
    nodeList.remove(handover.released());

    assertThat(handover.survivor()).isSameAs(parent);
    assertThat(handover.released()).isSameAs(successor);
    assertThat(parent.countBytes()).isEqualTo(2 * CLUSTER);
    assertThat(parent.busy()).isFalse();
    assertThat(parent.enabled()).isTrue();
    assertThat(parent.hasSuccessor()).isFalse();
    assertThat(nodeList).containsExactly(other, parent);
  }

  @Test
  void reclaimTakesTheSuccessorsEnabledState() {
    DirtyBitmap parent = bitmap("b0");
    parent.setDisabled(true);
    parent.createSuccessor();
    parent.reclaim();

    assertThat(parent.disabled()).isTrue();
  }

  @Test
  void abdicateOrReclaimWithoutSuccessorIsABug() {
    DirtyBitmap b0 = bitmap("b0");

    assertThatThrownBy(b0::abdicate).isInstanceOf(InvariantViolation.class);
    assertThatThrownBy(b0::reclaim).isInstanceOf(InvariantViolation.class);
  }

  // ---------------------------------------------------------------- misc

  @Test
  void truncateResizesAndIsRefusedWhileFrozen() {
    DirtyBitmap b0 = bitmap("b0");
    b0.setDirty(DISK - 1, 1);
    b0.truncate(DISK / 2);
    assertThat(b0.sizeBytes()).isEqualTo(DISK / 2);
    assertThat(b0.countBytes()).isZero();

    b0.createSuccessor();
    // A frozen bitmap is busy: QEMU 7.2's bdrv_dirty_bitmap_truncate asserts (qemu-behaviour
    // §22.3), so the engine stops as the process would.
    assertThatThrownBy(() -> b0.truncate(DISK))
        .isInstanceOf(io.blocksim.model.check.QemuAbort.class)
        .hasMessageContaining("!bdrv_dirty_bitmap_busy(bitmap)");
  }

  @Test
  void sha256OfACleanBitmapMatchesQemu() {
    assertThat(bitmap("b0").sha256Hex())
        .isEqualTo("38723a2e5e8a17aa7950dc008209944e898f69a7bd10a23c839d341e935fd5ca");
  }

  @Test
  void defaultGranularityClampsTheClusterSize() {
    assertThat(DirtyBitmap.defaultGranularityBytes(65536)).isEqualTo(65536);
    assertThat(DirtyBitmap.defaultGranularityBytes(512)).isEqualTo(4096);
    assertThat(DirtyBitmap.defaultGranularityBytes(2 << 20)).isEqualTo(65536);
    assertThat(DirtyBitmap.defaultGranularityBytes(0)).isEqualTo(65536);
  }

  @Test
  void granularityAndNameLimitsFollowQemu() {
    assertThat(DirtyBitmap.isValidGranularity(512)).isTrue();
    assertThat(DirtyBitmap.isValidGranularity(256)).isFalse();
    assertThat(DirtyBitmap.isValidGranularity(1536)).isFalse();
    assertThat(DirtyBitmap.isNameTooLong("x".repeat(1023))).isFalse();
    assertThat(DirtyBitmap.isNameTooLong("x".repeat(1024))).isTrue();
    assertThat(DirtyBitmap.isNameTooLong("é".repeat(512))).isTrue();
  }
}
