package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.qapi.Json;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bitmap counts of docs/qemu-behaviour.md §6.7 (iotest 257) on raw images: the test follows 257's
 * script (write groups, a backup with a cancel in pending, a blkdebug read error, or no failure,
 * then a recovery backup) and computes the expected bits as 257's EmulatedBitmap does, from the
 * write groups and the rules of §6.6, not from any engine output.
 */
class BitmapSyncBackupTest {
  private static final long SIZE = 64 * World.MIB;
  private static final long G = World.CLUSTER;
  /** 257's write groups: {pattern, offset, length}. */
  private static final long[][][] GROUPS = {
    {{0x49, 0x0000000, G}, {0x6c, 0x0100000, G}, {0x6f, 0x2000000, G}, {0x76, 0x3ff0000, G}},
    {{0x65, 0x0000000, G}, {0x77, 0x00f8000, G}, {0x72, 0x2008000, G}, {0x69, 0x3fe0000, G}},
    {{0x74, 0x0010000, G}, {0x69, 0x00e8000, G}, {0x6e, 0x2018000, G},
        {0x67, 0x3fe0000, 2 * G}},
    {{0xaa, 0x0010000, 3 * G}, {0xbb, 0x00d8000, G}, {0xcc, 0x2028000, G},
        {0xdd, 0x3fc0000, G}},
  };

  static Stream<Arguments> cases() {
    Stream.Builder<Arguments> cases = Stream.builder();
    for (String mode : List.of("never", "on-success", "always")) {
      for (String failure : List.of("simulated", "intermediate", "none")) {
        cases.add(Arguments.of("bitmap", mode, failure));
      }
    }
    for (String mode : List.of("on-success", "always")) {
      for (String failure : List.of("simulated", "intermediate", "none")) {
        cases.add(Arguments.of("full", mode, failure));
      }
    }
    return cases.build();
  }

  private static TreeSet<Long> bits(int group) {
    TreeSet<Long> bits = new TreeSet<>();
    for (long[] pattern : GROUPS[group]) {
      for (long b = pattern[1] / G; b <= (pattern[1] + pattern[2] - 1) / G; b++) {
        bits.add(b);
      }
    }
    return bits;
  }

  private static void writeGroup(World world, String node, int group) {
    for (long[] pattern : GROUPS[group]) {
      assertThat(world.write(node, pattern[1], pattern[2], (int) pattern[0])).isZero();
    }
  }

  @ParameterizedTest(name = "sync={0} bitmap-mode={1} failure={2}")
  @MethodSource("cases")
  void bitmapCountsFollowTheModeTable(String sync, String mode, String failure)
      throws Exception {
    World world = new World().image("img", SIZE).image("t1", SIZE).image("t2", SIZE);
    Map<String, Object> blkdebug = null;
    if (failure.equals("intermediate")) {
      blkdebug = Json.object(
          "set-state", List.of(
              Json.object("event", "flush_to_disk", "state", 1, "new_state", 2),
              Json.object("event", "read_aio", "state", 2, "new_state", 3)),
          "inject-error", List.of(Json.object("event", "read_aio", "errno", 5, "state", 3,
              "immediately", false, "once", true)));
    }
    world.addRaw("drive0", "img", blkdebug);
    world.addRaw("target1", "t1", null);
    world.addRaw("target2", "t2", null);
    writeGroup(world, "drive0", 0);
    world.qmp("block-dirty-bitmap-add", "node", "drive0", "name", "bitmap0", "granularity", G);
    writeGroup(world, "drive0", 1);
    TreeSet<Long> expected = bits(1);
    assertThat(world.clusters("drive0", "bitmap0")).isEqualTo(expected.size());
    if (failure.equals("intermediate")) {
      world.flush("drive0");
    }

    world.qmp("blockdev-backup", "job-id", "backup_1", "device", "drive0", "target", "target1",
        "sync", sync, "bitmap", "bitmap0", "bitmap-mode", mode, "auto-finalize", false,
        "filter-node-name", "backup-top", "x-perf", Json.object("max-workers", 1));
    world.scheduler.runUntilIdle();
    if (!failure.equals("intermediate")) {
      assertThat(world.engine.jobs().find("backup_1").status()).isEqualTo(JobStatus.PENDING);
      writeGroup(world, "backup-top", 2);
      List<DirtyBitmap> sourceBitmaps = world.node("drive0").bitmaps();
      // 7.2 lists the copy bitmap, the successor, then the frozen bitmap on the source.
      assertThat(sourceBitmaps).hasSize(3);
      assertThat(sourceBitmaps.get(0).recording()).isFalse();
      assertThat(sourceBitmaps.get(1).countBytes() / G).isEqualTo(bits(2).size());
      assertThat(sourceBitmaps.get(2).busy()).isTrue();
      assertThat(sourceBitmaps.get(2).countBytes() / G).isEqualTo(expected.size());
      List<DirtyBitmap> filterBitmaps = world.node("backup-top").bitmaps();
      assertThat(filterBitmaps.get(0).countBytes()).isEqualTo(SIZE);
      assertThat(filterBitmaps.get(1).countBytes() / G).isEqualTo(bits(2).size());
      if ((mode.equals("on-success") && failure.equals("none")) || mode.equals("always")) {
        expected.clear();
      }
      expected.addAll(bits(2));
      world.qmp(failure.equals("simulated") ? "job-cancel" : "job-finalize", "id", "backup_1");
      assertThat(world.lastEvent(failure.equals("simulated") ? "BLOCK_JOB_CANCELLED"
          : "BLOCK_JOB_COMPLETED")).containsEntry("len", bits(1).size() * G * 1L
              + (sync.equals("full") ? SIZE - bits(1).size() * G : 0));
    } else {
      assertThat(world.lastEvent("BLOCK_JOB_ERROR")).isEqualTo(Json.object("device",
          "backup_1", "operation", "read", "action", "report"));
      // The second data read fails: bitmap sync copied the first dirty cluster; full sync also
      // wrote the zero run up to the second dirty cluster (§6.7).
      long copiedClusters = sync.equals("full") ? expected.higher(expected.first()) : 1;
      assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).containsEntry("offset",
          copiedClusters * G).containsEntry("error", "Input/output error");
      if (mode.equals("always")) {
        expected.remove(expected.first());
        if (sync.equals("full")) {
          long failBit = expected.first();
          expected.clear();
          for (long b = failBit; b < SIZE / G; b++) {
            expected.add(b);
          }
        }
      }
    }
    world.scheduler.runUntilIdle();
    assertThat(world.node("drive0").bitmaps()).hasSize(1);
    assertThat(world.bitmap("drive0", "bitmap0").busy()).isFalse();
    assertThat(world.bitmap("drive0", "bitmap0").recording()).isTrue();
    assertThat(world.clusters("drive0", "bitmap0")).isEqualTo(expected.size());

    writeGroup(world, "drive0", 3);
    expected.addAll(bits(3));
    assertThat(world.clusters("drive0", "bitmap0")).isEqualTo(expected.size());
    world.qmp("blockdev-backup", "job-id", "backup_2", "device", "drive0", "target", "target2",
        "sync", "bitmap", "bitmap", "bitmap0", "bitmap-mode", mode, "auto-finalize", false,
        "filter-node-name", "backup-top", "x-perf", Json.object("max-workers", 1));
    world.scheduler.runUntilIdle();
    world.qmp("job-finalize", "id", "backup_2");
    assertThat(world.lastEvent("BLOCK_JOB_COMPLETED")).containsEntry("device", "backup_2")
        .containsEntry("len", expected.size() * G).containsEntry("offset", expected.size() * G);
    if (!mode.equals("never")) {
      expected.clear();
    }
    assertThat(world.clusters("drive0", "bitmap0")).isEqualTo(expected.size());
  }
}
