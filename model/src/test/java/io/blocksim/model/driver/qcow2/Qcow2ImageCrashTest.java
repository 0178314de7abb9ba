package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Goal: a crash at any moment leaves an image that real {@code qemu-img check} finds free of
 * corruption (leaks are allowed), and data flushed by the guest survives. Method: log every
 * host request of a random guest workload; for many crash points, rebuild the file as the disk
 * could hold it (everything up to the last host flush, plus a random subset of the requests
 * after it, in order), run qemu-img check on it, then open it with the engine and compare every
 * sector that no request after the last guest flush touched with the reference model taken at
 * that flush.
 */
class Qcow2ImageCrashTest {
  static final int SIZE = 8 << 20;

  @TempDir Path dir;

  @BeforeAll
  static void needQemu() {
    assumeTrue(QemuTools.available(), "qemu-img / qemu-io not installed");
  }

  @ParameterizedTest
  @CsvSource({"65536, 3, 1", "4096, 3, 2", "512, 3, 3", "65536, 2, 4", "512, 2, 5"})
  void crashImagesHaveNoCorruptionAndKeepFlushedData(long clusterSize, int version, long seed)
      throws Exception {
    MemoryHostFile file = new MemoryHostFile();
    Qcow2Image.create(file, SIZE, Qcow2CreateOptions.defaults().withClusterSize(clusterSize)
        .withVersion(version));
    MemoryHostFile created = file.copy();
    Qcow2Image image = Qcow2Image.open(file, false);
    file.startLogging();

    SplittableRandom r = new SplittableRandom(seed);
    List<GuestOp> ops = Qcow2ImageQemuTest.randomOps(r, SIZE, 60);
    byte[] model = new byte[SIZE];
    // For each guest flush: the log position after it and the guest contents at that moment.
    List<Integer> flushLogPositions = new ArrayList<>(List.of(0));
    List<Integer> flushOpCounts = new ArrayList<>(List.of(0));
    List<byte[]> flushedModels = new ArrayList<>(List.of(model.clone()));
    // For each op: the log range it produced and the guest range it touched.
    List<int[]> opLogRanges = new ArrayList<>();
    for (GuestOp op : ops) {
      int before = file.log().size();
      op.applyTo(image);
      op.applyTo(model, clusterSize);
      opLogRanges.add(new int[] {before, file.log().size()});
      if (op.kind() == GuestOp.Kind.FLUSH) {
        flushLogPositions.add(file.log().size());
        flushOpCounts.add(opLogRanges.size());
        flushedModels.add(model.clone());
      }
    }
    List<MemoryHostFile.Op> log = file.log();

    for (int crash = 0; crash < 25; crash++) {
      int crashPoint = r.nextInt(log.size() + 1);
      int lastHostFlush = 0;
      for (int i = 0; i < crashPoint; i++) {
        if (log.get(i).kind().equals("flush")) {
          lastHostFlush = i + 1;
        }
      }
      MemoryHostFile crashed = created.copy();
      for (int i = 0; i < crashPoint; i++) {
        if (i < lastHostFlush || r.nextBoolean()) {
          crashed.apply(log.get(i));
        }
      }
      Path path = dir.resolve("crash.qcow2");
      crashed.saveTo(path);
      QemuTools.Result check = QemuTools.check(path);
      assertThat(check.exitCode()).as("qemu-img check after crash at %d of %d: %s", crashPoint,
          log.size(), check.output()).isIn(0, 3);
      assertThat(check.output()).doesNotContainPattern("\"corruptions\": [1-9]");

      int guestFlush = 0;
      for (int f = 0; f < flushLogPositions.size(); f++) {
        if (flushLogPositions.get(f) <= lastHostFlush) {
          guestFlush = f;
        }
      }
      boolean[] touchedLater = new boolean[SIZE / 512];
      int opsBeforeFlush = flushOpCounts.get(guestFlush);
      for (int i = opsBeforeFlush; i < ops.size(); i++) {
        GuestOp op = ops.get(i);
        for (long s = op.offset() / 512; s < (op.offset() + op.length() + 511) / 512; s++) {
          touchedLater[(int) s] = true;
        }
      }
      Qcow2Image reopened = Qcow2Image.open(crashed, true);
      byte[] all = new byte[SIZE];
      reopened.read(0, all, 0, SIZE);
      byte[] flushed = flushedModels.get(guestFlush);
      for (int s = 0; s < SIZE / 512; s++) {
        if (!touchedLater[s] && !Arrays.equals(all, s * 512, s * 512 + 512, flushed, s * 512,
            s * 512 + 512)) {
          StringBuilder why = new StringBuilder();
          for (int i = 0; i < ops.size(); i++) {
            GuestOp op = ops.get(i);
            if (op.offset() <= s * 512L + 511 && s * 512L < op.offset() + op.length()
                || op.kind() == GuestOp.Kind.FLUSH) {
              why.append(String.format("%n  op %d %s log %s", i, op,
                  Arrays.toString(opLogRanges.get(i))));
            }
          }
          throw new AssertionError("sector " + s + " lost flushed data after a crash at "
              + crashPoint + " of " + log.size() + " (last host flush " + lastHostFlush
              + ", guest flush " + guestFlush + ", ops before it " + opsBeforeFlush + ", got "
              + all[s * 512] + " expected " + flushed[s * 512] + ")" + why);
        }
      }
    }
  }
}
