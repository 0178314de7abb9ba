package io.blocksim.sim.bench;

import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.StepException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.ThreadMXBean;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Whole-engine figures: the heap a 1 TiB qcow2 image with 10,000 scattered guest writes costs
 * (fake disk, qcow2 metadata, a 64 KiB dirty bitmap), and the wall time of guest I/O over a
 * 64 MiB image. Wall time and heap are measured here only; nothing feeds back into a simulation.
 */
public final class EngineBench {
  private static final long TIB = 1L << 40;
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int SCATTERED_WRITES = 10_000;

  private EngineBench() {}

  public static void run(PrintStream out) throws StepException {
    run(out, 1_000_000);
  }

  /** As above, the 1 TiB backup case with that many scattered guest writes. */
  public static void run(PrintStream out, int backupWrites) throws StepException {
    terabyte(out);
    smallImage(out);
    terabyteBackup(out, backupWrites);
  }

  /**
   * The large case: a 1 TiB qcow2 disk, a 64 KiB dirty bitmap, a full backup to a 1 TiB
   * qcow2 target, and scattered 4 KiB guest writes while it runs, then the job to its end.
   */
  static void terabyteBackup(PrintStream out, int writes) throws StepException {
    try {
      terabyteBackupRun(out, writes);
    } catch (io.blocksim.sim.loop.LimitReached e) {
      // Not yet within reach: the run stops at the engine's bound before the job ends.
      out.println("1 TiB qcow2, 64 KiB bitmap, full backup + " + writes + " scattered writes:"
          + " not measured (" + e.getMessage() + ")");
    }
  }

  private static void terabyteBackupRun(PrintStream out, int writes) throws StepException {
    long before = usedHeap();
    long cpuStart = THREADS.getCurrentThreadCpuTime();
    long start = System.nanoTime(); // determinism-ok: benchmark timing
    SimBackend backend = new SimBackend(1, Set.of());
    for (String name : new String[] {"disk", "target"}) {
      backend.createImage(new Backend.ImageSpec(name + ".qcow2", "qcow2", TIB, null, null, null,
          Map.of()));
      reply(backend.qmp("blockdev-add", Json.object("node-name", name, "driver", "qcow2",
          "file", Json.object("driver", "file", "filename", name + ".qcow2"))));
    }
    reply(backend.qmp("block-dirty-bitmap-add", Json.object("node", "disk", "name", "b0",
        "granularity", 65536)));
    reply(backend.qmp("blockdev-backup", Json.object("device", "disk", "target", "target",
        "sync", "full", "job-id", "full")));
    // The guest's writes as one qemu-io session (one export attach, as a guest device stays
    // attached), not one io step each: an io step drains twice and so emits four job events.
    long state = 0x9E3779B97F4A7C15L;
    try (SimBackend.GuestSession guest = backend.guestSession("disk")) {
      for (int i = 0; i < writes; i++) {
        state = state * 6364136223846793005L + 1442695040888963407L;
        long offset = Long.remainderUnsigned(state >>> 1, TIB / 4096) * 4096;
        guest.write(offset, 4096, (byte) i);
      }
    } catch (HostIoException e) {
      throw new StepException("benchmark write failed: " + HostIoException.strerror(e.errno()));
    }
    String progress = jobProgress(backend);
    long writesCpu = THREADS.getCurrentThreadCpuTime() - cpuStart;
    int[] seen = {0};
    boolean ended = backend.runUntil(() -> {
      List<QmpEvent> events = backend.events();
      for (; seen[0] < events.size(); seen[0]++) {
        QmpEvent e = events.get(seen[0]);
        if (e.event().equals("JOB_STATUS_CHANGE") && "concluded".equals(e.data().get("status"))) {
          return true;
        }
      }
      return false;
    }, Long.MAX_VALUE / 2);
    long elapsed = System.nanoTime() - start; // determinism-ok: benchmark timing
    long cpu = THREADS.getCurrentThreadCpuTime() - cpuStart;
    long peak = peakHeap() - before;
    long after = usedHeap();
    out.printf(Locale.ROOT, "1 TiB qcow2, 64 KiB bitmap, full backup to a 1 TiB qcow2 + %d"
        + " scattered 4 KiB writes%s: %.2f s CPU (%.2f s wall), peak heap %.1f MiB, %.1f MiB"
        + " retained (goal for 1,000,000 writes: < 2 s, < 512 MiB)%n", writes,
        ended ? "" : " (job did not conclude)", cpu / 1e9, elapsed / 1e9, peak / 1048576.0,
        (after - before) / 1048576.0);
    out.printf(Locale.ROOT, "  writes done after %.2f s CPU, backup progress then: %s; job"
        + " concluded at %.3f s of virtual time; fake disk retains %.1f MiB of data pages in"
        + " %d pages%n", writesCpu / 1e9, progress, backend.loop().nowNs() / 1e9,
        backend.disk().retainedBytes() / 1048576.0,
        backend.disk().pageCount("disk.qcow2") + backend.disk().pageCount("target.qcow2"));
    backend.close();
  }

  /** The backup's offset and length from query-jobs, as "offset/len". */
  private static String jobProgress(SimBackend backend) {
    Object jobs = backend.qmp("query-jobs", new java.util.LinkedHashMap<>()).get("return");
    if (jobs instanceof List<?> list && !list.isEmpty()
        && list.get(0) instanceof Map<?, ?> job) {
      return job.get("current-progress") + "/" + job.get("total-progress") + " bytes";
    }
    return "no job";
  }

  /**
   * The peak heap in use since the last reset (the heap pools' peak usage), reset afterwards.
   * Collections run inside a measured run, so this is an upper bound of the live data.
   */
  private static long peakHeap() {
    long peak = 0;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        peak += pool.getPeakUsage().getUsed();
        pool.resetPeakUsage();
      }
    }
    return peak;
  }

  private static long usedHeap() {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
    }
    long used = rt.totalMemory() - rt.freeMemory();
    peakHeap();
    return used;
  }

  private static void terabyte(PrintStream out) throws StepException {
    long before = usedHeap();
    long start = System.nanoTime(); // determinism-ok: benchmark timing
    SimBackend backend = new SimBackend(1, Set.of());
    backend.createImage(new Backend.ImageSpec("big.qcow2", "qcow2", TIB, null, null, null,
        Map.of()));
    reply(backend.qmp("blockdev-add", Json.object("node-name", "big", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "big.qcow2"))));
    reply(backend.qmp("block-dirty-bitmap-add", Json.object("node", "big", "name", "b0")));
    long state = 0x9E3779B97F4A7C15L;
    for (int i = 0; i < SCATTERED_WRITES; i++) {
      state = state * 6364136223846793005L + 1442695040888963407L;
      long offset = Long.remainderUnsigned(state >>> 1, TIB / 4096) * 4096;
      Backend.IoOutcome outcome = backend.io("big", "write -P" + (i & 0xff) + " " + offset + " 4k");
      if (outcome.error() != null) {
        throw new StepException("benchmark write failed: " + outcome.error());
      }
    }
    long elapsed = System.nanoTime() - start; // determinism-ok: benchmark timing
    long after = usedHeap();
    out.printf(Locale.ROOT, "1 TiB qcow2, %d scattered 4 KiB pattern writes (each flushed, as"
        + " an io step does): %.1f MiB heap, %.2f s, %.1f µs per write%n", SCATTERED_WRITES,
        (after - before) / 1048576.0, elapsed / 1e9, elapsed / 1e3 / SCATTERED_WRITES);
    out.printf(Locale.ROOT, "  fake disk retains %.1f MiB of data pages (pattern pages are"
        + " tags)%n", backend.disk().retainedBytes() / 1048576.0);
    reply(backend.qmp("blockdev-del", Json.object("node-name", "big")));
  }

  private static void smallImage(PrintStream out) throws StepException {
    for (int round = 0; round < 5; round++) {
      long start = System.nanoTime(); // determinism-ok: benchmark timing
      SimBackend backend = new SimBackend(round, Set.of());
      backend.createImage(new Backend.ImageSpec("img.qcow2", "qcow2", 64L << 20, null, null,
          null, Map.of()));
      reply(backend.qmp("blockdev-add", Json.object("node-name", "drive0", "driver", "qcow2",
          "file", Json.object("driver", "file", "filename", "img.qcow2"))));
      reply(backend.qmp("block-dirty-bitmap-add", Json.object("node", "drive0", "name", "b0")));
      for (int i = 0; i < 64; i++) {
        backend.io("drive0", "write -P" + i + " " + (i << 20) + " 64k");
      }
      long digestStart = System.nanoTime(); // determinism-ok: benchmark timing
      backend.imageDigest("drive0");
      long end = System.nanoTime(); // determinism-ok: benchmark timing
      if (round == 4) {
        out.printf(Locale.ROOT, "64 MiB qcow2: create, add a bitmap, 64 writes of 64 KiB: %.1f ms;"
            + " SHA-256 of the whole guest-visible disk: %.1f ms (after 4 warm-up rounds)%n",
            (digestStart - start) / 1e6, (end - digestStart) / 1e6);
      }
    }
  }

  private static void reply(Map<String, Object> reply) throws StepException {
    if (reply.containsKey("error")) {
      throw new StepException("benchmark command failed: " + Json.compact(reply));
    }
  }
}
