package io.blocksim.sim.bench;

import io.blocksim.model.bitmap.HBitmap;
import java.io.PrintStream;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small benchmark of {@link HBitmap} on a 2^24-bit bitmap (1 TiB at 64 KiB granularity, 2 MiB of
 * bit words), set beside System.arraycopy of the same number of bytes in the same run as the
 * machine's memory-bandwidth reference, plus the heap that huge, sparse bitmaps cost.
 *
 * <p>Method: every kernel is warmed up, then timed over enough repetitions to fill a fixed time
 * budget; the table gives the mean per operation. This is the only place where blocksim reads a
 * wall clock, and nothing it measures feeds back into a simulation.
 */
public final class BitmapBench {
  private static final long TIB = 1L << 40;
  private static final int GRANULARITY_LOG2 = 16;
  private static final long GRANULARITY = 1L << GRANULARITY_LOG2;
  private static final long BITS = TIB >>> GRANULARITY_LOG2;
  private static final int BITMAP_BYTES = (int) (BITS / 8);
  private static final int SCATTERED_SETS = 10_000;
  private static final long BUDGET_NS = 300_000_000L;
  private static final int WARMUP_ROUNDS = 3;

  private final List<String> rows = new ArrayList<>();
  private long seed = 0x5EED_B17_3A9L;
  /** Results of the kernels, kept so that the JIT cannot drop their work. */
  private long sink;

  private BitmapBench() {}

  /** Runs every measurement and prints the table to out. */
  public static void run(PrintStream out) {
    BitmapBench bench = new BitmapBench();
    bench.measureAll();
    out.println("HBitmap benchmark: 2^24 bits (1 TiB at 64 KiB), bitmap words = 2 MiB");
    out.println(String.format(Locale.ROOT, "%-44s %14s %10s", "operation", "ns/op", "GB/s"));
    for (String row : bench.rows) {
      out.println(row);
    }
    bench.printHeap(out);
    out.println("(checksum " + bench.sink + ")");
  }

  /** Runs the benchmark on standard output. */
  public static void main(String[] args) {
    run(System.out);
  }

  private void measureAll() {
    byte[] from = new byte[BITMAP_BYTES];
    byte[] into = new byte[BITMAP_BYTES];
    from[7] = 1;
    time("System.arraycopy 2 MiB (reference)", BITMAP_BYTES, () -> {
      System.arraycopy(from, 0, into, 0, BITMAP_BYTES);
      return into[7];
    });

    HBitmap bitmap = new HBitmap(TIB, GRANULARITY_LOG2);
    timePair("set whole bitmap (from clean)", "reset whole bitmap (from full)", bitmap);

    HBitmap full = new HBitmap(TIB, GRANULARITY_LOG2);
    full.set(0, TIB);
    HBitmap target = new HBitmap(TIB, GRANULARITY_LOG2);
    target.set(0, TIB);
    time("merge full into full, same granularity", BITMAP_BYTES, () -> {
      target.mergeFrom(full);
      return target.countBits();
    });
    timeMergeIntoClean(full);

    HBitmap coarse = new HBitmap(TIB, GRANULARITY_LOG2 + 1);
    coarse.set(0, TIB);
    HBitmap fine = new HBitmap(TIB, GRANULARITY_LOG2);
    time("merge full 128 KiB-gran into 64 KiB-gran", BITMAP_BYTES, () -> {
      fine.mergeFrom(coarse);
      return fine.countBits();
    });

    HBitmap clean = new HBitmap(TIB, GRANULARITY_LOG2);
    time("nextDirty over a clean bitmap (whole range)", 0, () -> clean.nextDirty(0, TIB));
    time("nextZero over a full bitmap (whole range)", BITMAP_BYTES, () -> full.nextZero(0, TIB));

    HBitmap scattered = scatteredBitmap(TIB, GRANULARITY_LOG2);
    long dirtyGranules = scattered.countBits();
    time(
        "nextDirty walk, 10,000 scattered bits /call",
        0,
        () -> walk(scattered),
        (int) dirtyGranules);
    long[] offsets = scatteredOffsets(4096, TIB, GRANULARITY);
    HBitmap single = new HBitmap(TIB, GRANULARITY_LOG2);
    time("set one 64 KiB granule (scattered) /call", 0, () -> {
      for (long offset : offsets) {
        single.set(offset, GRANULARITY);
      }
      single.resetAll();
      return offsets.length;
    }, offsets.length);
  }

  private void timePair(String setName, String resetName, HBitmap bitmap) {
    long setNs = 0;
    long resetNs = 0;
    long reps = 0;
    long budgetEnd = 0;
    for (int round = 0; round <= WARMUP_ROUNDS; round++) {
      boolean measuring = round == WARMUP_ROUNDS;
      long start = System.nanoTime(); // determinism-ok: benchmark timing
      do {
        long t0 = System.nanoTime(); // determinism-ok: benchmark timing
        bitmap.set(0, TIB);
        long t1 = System.nanoTime(); // determinism-ok: benchmark timing
        bitmap.reset(0, TIB);
        long t2 = System.nanoTime(); // determinism-ok: benchmark timing
        if (measuring) {
          setNs += t1 - t0;
          resetNs += t2 - t1;
          reps++;
        }
        budgetEnd = t2 - start;
      } while (budgetEnd < BUDGET_NS / (measuring ? 1 : 3));
    }
    rows.add(row(setName, (double) setNs / reps, BITMAP_BYTES));
    rows.add(row(resetName, (double) resetNs / reps, BITMAP_BYTES));
  }

  private void timeMergeIntoClean(HBitmap full) {
    HBitmap target = new HBitmap(TIB, GRANULARITY_LOG2);
    long mergeNs = 0;
    long reps = 0;
    for (int round = 0; round <= WARMUP_ROUNDS; round++) {
      boolean measuring = round == WARMUP_ROUNDS;
      long start = System.nanoTime(); // determinism-ok: benchmark timing
      long now;
      do {
        target.resetAll();
        long t0 = System.nanoTime(); // determinism-ok: benchmark timing
        target.mergeFrom(full);
        now = System.nanoTime(); // determinism-ok: benchmark timing
        if (measuring) {
          mergeNs += now - t0;
          reps++;
        }
      } while (now - start < BUDGET_NS / (measuring ? 1 : 3));
    }
    rows.add(row("merge full into clean, same granularity", (double) mergeNs / reps, BITMAP_BYTES));
  }

  private interface Kernel {
    long runOnce();
  }

  private void time(String name, long bytesPerOp, Kernel kernel) {
    time(name, bytesPerOp, kernel, 1);
  }

  /** Times kernel; each call counts as opsPerCall operations of bytesPerOp bytes. */
  private void time(String name, long bytesPerOp, Kernel kernel, int opsPerCall) {
    double nsPerCall = 0;
    for (int round = 0; round <= WARMUP_ROUNDS; round++) {
      boolean measuring = round == WARMUP_ROUNDS;
      long calls = 0;
      long start = System.nanoTime(); // determinism-ok: benchmark timing
      long elapsed;
      do {
        sink += kernel.runOnce();
        calls++;
        elapsed = System.nanoTime() - start; // determinism-ok: benchmark timing
      } while (elapsed < BUDGET_NS / (measuring ? 1 : 3));
      nsPerCall = (double) elapsed / calls;
    }
    rows.add(row(name, nsPerCall / opsPerCall, bytesPerOp));
  }

  private static String row(String name, double nsPerOp, long bytesPerOp) {
    String rate = bytesPerOp == 0 ? "-" : String.format(Locale.ROOT, "%.2f", bytesPerOp / nsPerOp);
    return String.format(Locale.ROOT, "%-44s %14.1f %10s", name, nsPerOp, rate);
  }

  private static long walk(HBitmap bitmap) {
    long found = 0;
    for (long offset = bitmap.nextDirty(0, Long.MAX_VALUE);
        offset >= 0;
        offset = bitmap.nextDirty(offset + bitmap.granularityBytes(), Long.MAX_VALUE)) {
      found++;
    }
    return found;
  }

  private void printHeap(PrintStream out) {
    out.println();
    out.println("Heap of a 1 TiB bitmap with 10,000 scattered set()s of one granule:");
    out.println(
        String.format(
            Locale.ROOT, "%-44s %14s %14s %14s", "bitmap", "measured B", "estimate B", "dense B"));
    for (int granularityLog2 : new int[] {16, 9}) {
      long usedBefore = usedHeap();
      HBitmap bitmap = scatteredBitmap(TIB, granularityLog2);
      long usedAfter = usedHeap();
      long dense = bitmap.wordCount() * 8;
      String name =
          String.format(
              Locale.ROOT, "1 TiB at %d B (%d bits)", 1L << granularityLog2, bitmap.sizeBits());
      out.println(
          String.format(
              Locale.ROOT,
              "%-44s %14d %14d %14d",
              name,
              usedAfter - usedBefore,
              bitmap.heapBytesEstimate(),
              dense));
      Reference.reachabilityFence(bitmap);
    }
  }

  private HBitmap scatteredBitmap(long sizeBytes, int granularityLog2) {
    HBitmap bitmap = new HBitmap(sizeBytes, granularityLog2);
    for (long offset : scatteredOffsets(SCATTERED_SETS, sizeBytes, 1L << granularityLog2)) {
      bitmap.set(offset, 1L << granularityLog2);
    }
    return bitmap;
  }

  /** Returns granule-aligned offsets spread over the size by a fixed SplitMix64 sequence. */
  private long[] scatteredOffsets(int count, long sizeBytes, long granularityBytes) {
    long granules = sizeBytes / granularityBytes;
    long[] offsets = new long[count];
    for (int i = 0; i < count; i++) {
      seed += 0x9E3779B97F4A7C15L;
      long z = seed;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      z ^= z >>> 31;
      offsets[i] = Long.remainderUnsigned(z, granules) * granularityBytes;
    }
    return offsets;
  }

  private static long usedHeap() {
    Runtime runtime = Runtime.getRuntime();
    for (int i = 0; i < 4; i++) {
      System.gc();
    }
    return runtime.totalMemory() - runtime.freeMemory();
  }
}
