package io.blocksim.sim.tlc;

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
import java.util.function.UnaryOperator;

/**
 * A random workload of jobs for trace validation against JobLifecycle, driven on the simulator
 * through {@link JobTracingBackend}: jobs of every kind (backup, mirror, stream, intermediate and
 * active commit, with or without auto-finalize and auto-dismiss, some slowed by a speed limit,
 * backups in transactions of two, grouped or not,
 * some meeting a read error with on-source-error report or stop), every job verb on a random job
 * id whatever its status (so QEMU refuses many of them), guest writes, and time passing.
 */
final class GeneratedJobWorkload {
  static final long CLUSTER = 65536;
  static final int CLUSTERS = 8;
  private static final List<String> IDS = List.of("j1", "j2", "j3");
  private static final List<String> KINDS = List.of("backup", "mirror", "stream", "commit",
      "active-commit");
  private static final List<String> VERBS = List.of("job-pause", "job-resume", "job-cancel",
      "block-job-cancel", "block-job-cancel-force", "job-complete", "job-finalize", "job-dismiss",
      "block-job-set-speed", "block-job-pause", "block-job-resume", "block-job-complete");

  private final Prng prng;
  private final long seed;
  private final JobTracingBackend backend;
  private final Backend driven;
  private final List<String> log = new ArrayList<>();
  private int targets;

  /** {@code mutation} wraps the simulator (tests plant engine mistakes with it). */
  GeneratedJobWorkload(long seed, UnaryOperator<Backend> mutation) {
    this(seed, mutation.apply(new SimBackend(seed, Set.of())));
  }

  /** Drives any backend (a real qemu-storage-daemon: {@code QemuJobTraceTest}). */
  GeneratedJobWorkload(long seed, Backend target) {
    this.seed = seed;
    this.prng = new Prng(seed);
    this.backend = new JobTracingBackend(target);
    this.driven = backend;
  }

  /** Runs {@code operations} random operations, lets the jobs end, returns the recorder. */
  JobTraceRecorder run(int operations) throws StepException {
    setUp();
    for (int k = 0; k < operations; k++) {
      operation();
    }
    driven.advance(5_000_000_000L);
    backend.flush();
    return backend.recorder();
  }

  long seed() {
    return seed;
  }

  /** Returns the recorder (the trace so far, also after a failed step). */
  JobTraceRecorder recorder() {
    backend.flush();
    return backend.recorder();
  }

  List<String> log() {
    return log;
  }

  private Map<String, Object> qmp(String command, Map<String, Object> args) throws StepException {
    Map<String, Object> reply = driven.qmp(command, args);
    log.add(command + " " + Json.compact(args) + " -> " + (reply.containsKey("error")
        ? "error " + Json.compact(reply.get("error")) : "ok"));
    return reply;
  }

  private void image(String path, String format, String backing) throws StepException {
    driven.createImage(new Backend.ImageSpec(path, format, CLUSTERS * CLUSTER, backing,
        backing == null ? null : "qcow2", null, Map.of()));
  }

  /** A raw disk drive0 (reads of one cluster may fail once) and a chain base <- mid <- top. */
  private void setUp() throws StepException {
    image("disk.raw", "raw", null);
    Map<String, Object> file = Json.object("driver", "file", "filename", "disk.raw");
    if (prng.nextInt(2) == 0) {
      file = Json.object("driver", "blkdebug", "image", file, "inject-error",
          List.of(Json.object("event", "read_aio", "errno", 5,
              "sector", prng.nextInt(CLUSTERS) * CLUSTER / 512, "iotype", "read",
              "once", true)));
    }
    qmp("blockdev-add", Json.object("node-name", "drive0", "driver", "raw", "file", file));
    image("base.qcow2", "qcow2", null);
    image("mid.qcow2", "qcow2", "base.qcow2");
    image("top.qcow2", "qcow2", "mid.qcow2");
    qmp("blockdev-add", Json.object("node-name", "base", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "base.qcow2")));
    qmp("blockdev-add", Json.object("node-name", "mid", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "mid.qcow2"), "backing", "base"));
    qmp("blockdev-add", Json.object("node-name", "top", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "top.qcow2"), "backing", "mid"));
    for (String node : List.of("drive0", "mid", "top")) {
      write(node);
    }
  }

  private void operation() throws StepException {
    int pick = prng.nextInt(100);
    if (pick < 25) {
      createJob();
    } else if (pick < 65) {
      verb();
    } else if (pick < 75) {
      write(prng.pick(List.of("drive0", "top")));
    } else {
      long ns = 1 + prng.nextLong(prng.nextInt(2) == 0 ? 5_000_000L : 2_000_000_000L);
      log.add("advance " + ns);
      driven.advance(ns);
    }
  }

  private void write(String node) throws StepException {
    String command = String.format("write -P 0x%02x %d %d", 1 + prng.nextInt(200),
        prng.nextInt(CLUSTERS) * CLUSTER, CLUSTER);
    log.add("io " + node + " " + command);
    driven.io(node, command);
  }

  private String newTarget() throws StepException {
    String target = "t" + (++targets);
    image(target + ".raw", "raw", null);
    qmp("blockdev-add", Json.object("node-name", target, "driver", "raw",
        "file", Json.object("driver", "file", "filename", target + ".raw")));
    return target;
  }

  /** Two backups (drive0 and top) in one transaction, grouped or not. */
  private void transaction() throws StepException {
    List<Object> actions = new ArrayList<>();
    List<String> ids = new ArrayList<>(IDS);
    prng.shuffle(ids);
    for (String device : List.of("drive0", "top")) {
      Map<String, Object> data = new LinkedHashMap<>(Json.object("job-id", ids.remove(0),
          "device", device, "target", newTarget(), "sync", "full",
          "auto-dismiss", prng.nextInt(3) > 0));
      if (prng.nextInt(2) == 0) {
        data.put("speed", CLUSTER * (1 + prng.nextInt(4)));
      }
      actions.add(Json.object("type", "blockdev-backup", "data", data));
    }
    Map<String, Object> args = new LinkedHashMap<>(Json.object("actions", actions));
    if (prng.nextInt(3) > 0) {
      args.put("properties", Json.object("completion-mode", "grouped"));
    }
    qmp("transaction", args);
  }

  private void createJob() throws StepException {
    if (prng.nextInt(5) == 0) {
      transaction();
      return;
    }
    String kind = prng.pick(KINDS);
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("job-id", prng.pick(IDS));
    String command;
    switch (kind) {
      case "backup", "mirror" -> {
        String target = newTarget();
        command = kind.equals("backup") ? "blockdev-backup" : "blockdev-mirror";
        args.put("device", "drive0");
        args.put("target", target);
        args.put("sync", "full");
        args.put("on-source-error", prng.pick(List.of("report", "stop")));
      }
      case "stream" -> {
        command = "block-stream";
        args.put("device", "top");
      }
      case "commit" -> {
        command = "block-commit";
        args.put("device", "top");
        args.put("top-node", "mid");
        args.put("base-node", "base");
      }
      default -> {
        command = "block-commit";
        args.put("device", "top");
      }
    }
    if (prng.nextInt(3) == 0) {
      args.put("auto-finalize", false);
    }
    if (prng.nextInt(3) == 0) {
      args.put("auto-dismiss", false);
    }
    if (prng.nextInt(2) == 0) {
      args.put("speed", CLUSTER * (1 + prng.nextInt(4)));
    }
    qmp(command, args);
  }

  private void verb() throws StepException {
    String verb = prng.pick(VERBS);
    String id = prng.pick(IDS);
    switch (verb) {
      case "block-job-cancel-force" ->
          qmp("block-job-cancel", Json.object("device", id, "force", true));
      case "block-job-cancel", "block-job-pause", "block-job-resume", "block-job-complete" ->
          qmp(verb, Json.object("device", id));
      case "block-job-set-speed" ->
          qmp(verb, Json.object("device", id, "speed", CLUSTER * prng.nextInt(4)));
      default -> qmp(verb, Json.object("id", id));
    }
  }
}
