package io.blocksim.sim.sweep;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qcow2.Qcow2Check;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.checker.CrashImages;
import io.blocksim.sim.checker.StoredVersions;
import io.blocksim.sim.disk.FakeDisk;
import io.blocksim.sim.prng.Prng;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.port.ForwardingBackend;
import io.blocksim.sim.port.StepException;
import io.blocksim.sim.scenario.Scenario;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * The crash-point sweep of one scenario case: the case runs once without a crash to count the
 * requests its image files see after the images exist and to record every stored bitmap version;
 * then once per request k, with the power cut right after request k (unflushed writes lost or
 * torn as the fake disk's model and the seed say), the rest of the run failing, and the process
 * quitting. Each resulting image is then checked: it must pass the qcow2 consistency check (leaks
 * allowed), open, and every persistent bitmap found on it must be in use (it opens
 * inconsistent) or be a stored version whose dirty bits cover every sector changed since that
 * version was stored. A consistent bitmap that misses a change is a silent loss.
 */
public final class CrashSweep {
  private CrashSweep() {}

  /**
   * The requests one file saw in the swept range (the crash points) of the run without a crash,
   * image creations left out: writes (write, write-zeroes, discard, truncate) and flushes.
   */
  public record Requests(long writes, long flushes) {}

  /**
   * The result of one crash point: its violations, or, when a known window of QEMU 7.2 explains
   * every broken image ({@link QemuWindows}), no violation and the window with what it broke.
   */
  public record Point(long op, String outcome, List<String> violations, String qemuWindow,
      List<String> windowEffects) {
    public Point(long op, String outcome, List<String> violations) {
      this(op, outcome, violations, null, List.of());
    }
  }

  /** The result of a sweep: points in op order, outcome classes with their counts. */
  public record Report(String caseName, long firstOp, long lastOp, List<Point> points,
      Map<String, Integer> outcomes, List<String> baselineProblems,
      Map<String, Requests> requests) {
    public Report(String caseName, long firstOp, long lastOp, List<Point> points,
        Map<String, Integer> outcomes, List<String> baselineProblems) {
      this(caseName, firstOp, lastOp, points, outcomes, baselineProblems, Map.of());
    }

    public long violationCount() {
      return points.stream().filter(p -> !p.violations().isEmpty()).count();
    }
  }

  /** Sweeps every crash point of the case (every stride-th one when stride > 1). */
  public static Report sweep(Scenario scenario, Scenario.Case scenarioCase, long seed,
      Set<String> semantics, int stride) {
    SimBackend baseline = new SimBackend(seed, semantics);
    FakeDisk disk = baseline.disk();
    StoredVersions versions = new StoredVersions(disk);
    disk.addListener(versions);
    // The disk as the power cut right after each request leaves it: taken from this one run
    // (a crash run is this run up to its cut, and the cut disk changes no more), not re-run.
    Map<Long, FakeDisk> crashed = new TreeMap<>();
    disk.addListener(op -> crashed.put(op.sequence(),
        disk.crashedCopy(cutPrng(seed, op.sequence()))));
    List<io.blocksim.sim.disk.DiskOp> ops = new ArrayList<>();
    disk.addListener(ops::add);
    ImageCountingBackend counting = new ImageCountingBackend(baseline);
    new CaseRunner(scenario, scenarioCase, counting).run();
    baseline.quit();
    List<Creation> creations = counting.creations;
    long firstOp = counting.opsAfterImages + 1;
    long lastOp = disk.opCount();
    List<Point> points = new ArrayList<>();
    Map<String, Integer> outcomes = new TreeMap<>();
    CrashImages.Memo memo = new CrashImages.Memo();
    for (long k = firstOp; k <= lastOp; k += Math.max(1, stride)) {
      Point point = check(crashed.remove(k), k, versions.versions(), creations, ops, memo);
      points.add(point);
      outcomes.merge(point.outcome(), 1, Integer::sum);
    }
    Map<String, Requests> requests = new TreeMap<>();
    for (io.blocksim.sim.disk.DiskOp op : ops) {
      if (op.sequence() < firstOp || op.sequence() > lastOp || creating(creations, op)) {
        continue;
      }
      boolean flush = op.kind() == io.blocksim.sim.disk.DiskOp.Kind.FLUSH;
      Requests r = requests.getOrDefault(op.path(), new Requests(0, 0));
      requests.put(op.path(), new Requests(r.writes() + (flush ? 0 : 1),
          r.flushes() + (flush ? 1 : 0)));
    }
    return new Report(scenarioCase.name(), firstOp, lastOp, points, outcomes,
        versions.problems(), requests);
  }

  /** Whether the request was made by an image creation (not counted as a cost). */
  private static boolean creating(List<Creation> creations, io.blocksim.sim.disk.DiskOp op) {
    for (Creation c : creations) {
      if (op.sequence() >= c.firstOp() && op.sequence() <= c.lastOp()) {
        return true;
      }
    }
    return false;
  }

  /** Checks every image of the disk the power cut right after request k left. */
  static Point check(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<Creation> creations, List<io.blocksim.sim.disk.DiskOp> ops) {
    return check(disk, k, versions, creations, ops, null);
  }

  /** As above, with the sweep's memo of the images already examined (null: none). */
  static Point check(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<Creation> creations, List<io.blocksim.sim.disk.DiskOp> ops, CrashImages.Memo memo) {
    List<String> violations = new ArrayList<>();
    Set<String> beingCreated = new java.util.TreeSet<>();
    for (Creation c : creations) {
      if (k > c.firstOp() - 1 && k <= c.lastOp()) {
        beingCreated.add(c.path());
      }
    }
    String outcome = CrashImages.checkImages(disk, k, versions, violations, beingCreated, true,
        memo);
    String window = QemuWindows.explain(violations, k, disk.lastPowerLoss(), ops);
    if (window != null) {
      return new Point(k, outcome.replace(",VIOLATION", ",qemu-window"), List.of(), window,
          List.copyOf(violations));
    }
    return new Point(k, outcome, List.copyOf(violations));
  }

  /** The power cut's own choices (which unflushed requests survive) for crash point k. */
  static Prng cutPrng(long seed, long k) {
    return new Prng(seed * 1_000_003L + k);
  }

  /**
   * Returns the disk as the power cut right after request k leaves it, power back on, by running
   * the case with the cut armed: what {@link #sweep} takes from one run, done the long way.
   */
  public static FakeDisk crashedDisk(Scenario scenario, Scenario.Case scenarioCase, long seed,
      Set<String> semantics, long k) {
    SimBackend backend = new SimBackend(seed, semantics);
    backend.disk().cutPowerAfterOp(k, cutPrng(seed, k));
    new CaseRunner(scenario, scenarioCase, backend).run();
    backend.quit();
    backend.disk().powerOn();
    return backend.disk();
  }

  /** Checks every qcow2 file on the disk; returns the outcome class of the crash point. */
  static String checkImages(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<String> violations) {
    return CrashImages.checkImages(disk, k, versions, violations, Set.of(), true);
  }

  /** As above; files in beingCreated were cut off in qemu-img create, unchecked. */
  static String checkImages(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<String> violations, Set<String> beingCreated) {
    return CrashImages.checkImages(disk, k, versions, violations, beingCreated, true);
  }

  /** The requests an {@code img: create} step made, and the file it created. */
  record Creation(String path, long firstOp, long lastOp) {}

  /**
   * Passes everything through, notes the disk's op count once the images exist and the requests
   * of every {@code img: create}.
   */
  private static final class ImageCountingBackend extends ForwardingBackend<SimBackend> {
    long opsAfterImages;
    final List<Creation> creations = new ArrayList<>();

    ImageCountingBackend(SimBackend inner) {
      super(inner);
    }

    @Override
    public void createImage(ImageSpec spec) throws StepException {
      inner.createImage(spec);
      opsAfterImages = inner.disk().opCount();
    }

    /** blockdev-create jobs not concluded yet: job id → the file and the op it started after. */
    private final Map<String, Creation> openCreations = new java.util.TreeMap<>();

    @Override
    public Map<String, Object> qmp(String command, Map<String, Object> args) {
      long before = inner.disk().opCount();
      Map<String, Object> reply = inner.qmp(command, args);
      for (String created : snapshotFilesCreated(command, args)) {
        // blockdev-snapshot-sync creates its overlay with bdrv_img_create inside the command.
        creations.add(new Creation(created, before + 1, inner.disk().opCount()));
      }
      if (command.equals("blockdev-create") && reply.containsKey("return")
          && args.get("options") instanceof Map<?, ?> options) {
        // Image creation is not crash-safe in QEMU either: a cut inside it is an interrupted
        // create, like one inside qemu-img create.
        String path = createdFile(options);
        if (path != null) {
          openCreations.put(String.valueOf(args.get("job-id")), new Creation(path, before + 1,
              Long.MAX_VALUE));
        }
      }
      closeConcludedCreations();
      return reply;
    }

    /** qemu-img create's file: its first operand (a size may follow, or come from -b). */
    private static String createdByImgCreate(String[] words) {
      for (int i = 1; i < words.length; i++) {
        if (Set.of("-f", "-b", "-F", "-o", "--object").contains(words[i])) {
          i++; // The option's value.
        } else if (!words[i].startsWith("-")) {
          return words[i];
        }
      }
      return null;
    }

    /**
     * The files a command creates inside the daemon with bdrv_img_create: blockdev-snapshot-sync
     * (as a command or transaction action) its overlay, drive-mirror and drive-backup their
     * target, unless mode is existing.
     */
    private static List<String> snapshotFilesCreated(String command, Map<String, Object> args) {
      if ((command.equals("drive-mirror") || command.equals("drive-backup"))
          && args.get("target") instanceof String target && !"existing".equals(args.get("mode"))) {
        return List.of(target);
      }
      List<Map<?, ?>> actions = new ArrayList<>();
      if (command.equals("blockdev-snapshot-sync")) {
        actions.add(args);
      } else if (command.equals("transaction") && args.get("actions") instanceof List<?> list) {
        for (Object action : list) {
          if (action instanceof Map<?, ?> a && "blockdev-snapshot-sync".equals(a.get("type"))
              && a.get("data") instanceof Map<?, ?> data) {
            actions.add(data);
          }
        }
      }
      List<String> files = new ArrayList<>();
      for (Map<?, ?> data : actions) {
        if (data.get("snapshot-file") instanceof String file && !"existing".equals(
            data.get("mode"))) {
          files.add(file);
        }
      }
      return files;
    }

    private String createdFile(Map<?, ?> options) {
      if (options.get("filename") instanceof String filename) {
        return filename;
      }
      if (options.get("file") instanceof String nodeName) {
        io.blocksim.model.graph.BlockNode node = inner.engine().graph().find(nodeName);
        if (node != null
            && node.driver() instanceof io.blocksim.model.driver.file.FileDriver file) {
          return file.filename();
        }
      }
      return null;
    }

    private void closeConcludedCreations() {
      for (QmpEvent event : inner.events()) {
        if (event.event().equals("JOB_STATUS_CHANGE")
            && "concluded".equals(event.data().get("status"))) {
          Creation open = openCreations.remove(String.valueOf(event.data().get("id")));
          if (open != null) {
            creations.add(new Creation(open.path(), open.firstOp(), inner.disk().opCount()));
          }
        }
      }
    }

    @Override
    public IoOutcome io(String node, String command) throws StepException {
      IoOutcome outcome = inner.io(node, command);
      closeConcludedCreations();
      return outcome;
    }

    @Override
    public void advance(long durationNs) {
      inner.advance(durationNs);
      closeConcludedCreations();
    }

    @Override
    public boolean runUntil(BooleanSupplier condition, long timeoutNs) {
      boolean held = inner.runUntil(condition, timeoutNs);
      closeConcludedCreations();
      return held;
    }

    @Override
    public ImgOutcome img(String command) throws StepException {
      long before = inner.disk().opCount();
      ImgOutcome outcome = inner.img(command);
      String[] words = command.trim().split("\\s+");
      String created = words[0].equals("create") ? createdByImgCreate(words) : null;
      if (created != null) {
        creations.add(new Creation(created, before + 1, inner.disk().opCount()));
      }
      if (words.length >= 3 && words[0].equals("convert")
          && !Arrays.asList(words).contains("-n")) {
        // convert creates its target and fills it: a cut anywhere in it is an interrupted create.
        creations.add(new Creation(words[words.length - 1], before + 1,
            inner.disk().opCount()));
      }
      return outcome;
    }
  }
}
