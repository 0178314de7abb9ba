package io.blocksim.sim.tlc;

import io.blocksim.model.Engine;
import io.blocksim.model.job.Job;
import io.blocksim.model.job.JobStatus;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.prng.Prng;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.StepException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A random workload for trace validation, driven directly on the simulator: guest writes, bitmap
 * add / clear / merge / enable / disable, backup transactions (one or two jobs, grouped or not,
 * sync bitmap or full, every bitmap-mode, auto-finalize and auto-dismiss on or off, some aborted
 * by a failing action), read faults injected by blkdebug, cancels, finalize, dismiss,
 * and time passing. A disk of {@link #CLUSTERS} clusters keeps the trace checks small.
 */
final class GeneratedWorkload {
  static final int CLUSTERS = 3;
  static final long CLUSTER = 65536;
  private static final List<String> BITMAPS = List.of("b0", "b1");
  private static final List<String> JOB_IDS = List.of("j1", "j2");
  /**
   * Not sync=top: on a raw disk every cluster counts as allocated (QEMU's block status of a file
   * hole is "zero", which is allocated), while BitmapSync's Allocated is the set of clusters
   * written, a format that tracks allocation. A failed or cancelled top backup with
   * bitmap-mode=always shows the difference (measured: {0, 1, 2} where the spec has {0, 1}).
   */
  private static final List<String> SYNCS = List.of("bitmap", "full");
  private static final List<String> MODES = List.of("on-success", "always", "never");

  private final Prng prng;
  private final TracingBackend backend;
  /** Called after every operation: tests plant engine mistakes through it. */
  private final Consumer<Engine> afterEachOperation;
  private final List<String> log = new ArrayList<>();
  private final int faultCluster;
  private final long seed;
  private int targets;

  GeneratedWorkload(long seed, Consumer<Engine> afterEachOperation) {
    this.seed = seed;
    this.prng = new Prng(seed);
    this.backend = new TracingBackend(new SimBackend(seed, Set.of()));
    this.afterEachOperation = afterEachOperation;
    this.faultCluster = prng.nextInt(2) == 0 ? -1 : prng.nextInt(CLUSTERS);
  }

  /** Runs {@code operations} random operations and lets the jobs end; returns the recorder. */
  TraceRecorder run(int operations) throws StepException {
    setUp();
    for (int k = 0; k < operations; k++) {
      operation();
      afterEachOperation.accept(backend.sim().engine());
    }
    backend.advance(1_000_000_000L);
    return backend.recorder();
  }

  long seed() {
    return seed;
  }

  TraceRecorder recorder() {
    return backend.recorder();
  }

  /** Returns the operations carried out, one line each (to reproduce a failure). */
  List<String> log() {
    return log;
  }

  private Map<String, Object> qmp(String command, Object... args) throws StepException {
    Map<String, Object> reply = backend.qmp(command, Json.object(args));
    log.add(command + " " + Json.compact(Json.object(args)) + " -> "
        + (reply.containsKey("error") ? "error" : "ok"));
    return reply;
  }

  private void setUp() throws StepException {
    backend.createImage(new Backend.ImageSpec("disk.raw", "raw", CLUSTERS * CLUSTER, null, null,
        null, Map.of()));
    Map<String, Object> image = Json.object("driver", "file", "filename", "disk.raw");
    Object file = image;
    if (faultCluster >= 0) {
      // One read of the fault cluster fails: the backup job that copies it fails.
      file = Json.object("driver", "blkdebug", "image", image, "inject-error",
          List.of(Json.object("event", "read_aio", "errno", 5,
              "sector", faultCluster * CLUSTER / 512, "iotype", "read", "once", true)));
    }
    qmp("blockdev-add", "node-name", "drive0", "driver", "raw", "file", file);
    for (String bitmap : BITMAPS) {
      qmp("block-dirty-bitmap-add", "node", "drive0", "name", bitmap, "granularity", CLUSTER);
    }
  }

  private void operation() throws StepException {
    int pick = prng.nextInt(100);
    if (pick < 35) {
      write();
    } else if (pick < 42) {
      qmp("block-dirty-bitmap-clear", "node", "drive0", "name", prng.pick(BITMAPS));
    } else if (pick < 48) {
      String target = prng.pick(BITMAPS);
      String source = target.equals("b0") ? "b1" : "b0";
      qmp("block-dirty-bitmap-merge", "node", "drive0", "target", target,
          "bitmaps", List.of(source));
    } else if (pick < 62) {
      backup();
    } else if (pick < 68) {
      job("job-cancel", liveJob());
    } else if (pick < 74) {
      job("job-finalize", jobIn(JobStatus.PENDING));
    } else if (pick < 80) {
      job("job-dismiss", jobIn(JobStatus.CONCLUDED));
    } else if (pick < 86) {
      // Refused on a bitmap a backup holds (busy); a disabled bitmap misses the writes.
      qmp(prng.nextInt(2) == 0 ? "block-dirty-bitmap-disable" : "block-dirty-bitmap-enable",
          "node", "drive0", "name", prng.pick(BITMAPS));
    } else {
      long ns = 1 + prng.nextLong(2_000_000L);
      log.add("advance " + ns);
      backend.advance(ns);
    }
  }

  private void write() throws StepException {
    int cluster = prng.nextInt(CLUSTERS);
    int count = cluster + 1 < CLUSTERS && prng.nextInt(4) == 0 ? 2 : 1;
    if (faultCluster >= cluster && faultCluster < cluster + count
        && !backend.sim().engine().jobs().jobs().isEmpty()) {
      // A write there would make copy-before-write read the fault cluster and fail the guest
      // write, which BitmapSync does not model.
      return;
    }
    String command = String.format("write -P 0x%02x %d %d", 1 + prng.nextInt(200),
        cluster * CLUSTER, count * CLUSTER);
    log.add("io " + command);
    backend.io("drive0", command);
  }

  private void backup() throws StepException {
    List<String> free = new ArrayList<>();
    for (String id : JOB_IDS) {
      if (backend.sim().engine().jobs().find(id) == null) {
        free.add(id);
      }
    }
    if (free.isEmpty()) {
      return;
    }
    int jobs = free.size() > 1 && prng.nextInt(3) == 0 ? 2 : 1;
    List<Object> actions = new ArrayList<>();
    List<String> bitmaps = new ArrayList<>(BITMAPS);
    prng.shuffle(bitmaps);
    for (int k = 0; k < jobs; k++) {
      String sync = prng.pick(SYNCS);
      String mode = sync.equals("bitmap") ? prng.pick(MODES)
          : prng.pick(List.of("on-success", "always"));
      String target = "t" + (++targets);
      backend.createImage(new Backend.ImageSpec(target + ".raw", "raw", CLUSTERS * CLUSTER,
          null, null, null, Map.of()));
      qmp("blockdev-add", "node-name", target, "driver", "raw",
          "file", Json.object("driver", "file", "filename", target + ".raw"));
      Map<String, Object> data = new LinkedHashMap<>(Json.object("device", "drive0",
          "target", target, "sync", sync, "bitmap", bitmaps.get(k), "bitmap-mode", mode,
          "job-id", free.get(k), "auto-finalize", prng.nextInt(3) > 0,
          "auto-dismiss", prng.nextInt(3) > 0, "x-perf", Json.object("max-workers", 1)));
      actions.add(Json.object("type", "blockdev-backup", "data", data));
    }
    if (prng.nextInt(6) == 0) {
      // A later action fails: the transaction aborts the jobs it created (§4).
      actions.add(Json.object("type", "block-dirty-bitmap-add",
          "data", Json.object("node", "drive0", "name", "b0")));
    }
    Map<String, Object> args = new LinkedHashMap<>(Json.object("actions", actions));
    if (jobs == 2 && prng.nextInt(2) == 0) {
      args.put("properties", Json.object("completion-mode", "grouped"));
    }
    Map<String, Object> reply = backend.qmp("transaction", args);
    log.add("transaction " + Json.compact(args) + " -> "
        + (reply.containsKey("error") ? "error " + Json.compact(reply.get("error")) : "ok"));
  }

  private String liveJob() {
    for (Job job : backend.sim().engine().jobs().jobs()) {
      if (!job.status().completed()) {
        return job.id();
      }
    }
    return null;
  }

  private String jobIn(JobStatus status) {
    for (Job job : backend.sim().engine().jobs().jobs()) {
      if (job.status() == status) {
        return job.id();
      }
    }
    return null;
  }

  private void job(String verb, String id) throws StepException {
    if (id != null) {
      qmp(verb, "id", id);
    }
  }
}
