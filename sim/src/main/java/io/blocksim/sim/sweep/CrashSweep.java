package io.blocksim.sim.sweep;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qcow2.Qcow2Check;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
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

  /** The result of one crash point. */
  public record Point(long op, String outcome, List<String> violations) {}

  /** The result of a sweep: points in op order, outcome classes with their counts. */
  public record Report(String caseName, long firstOp, long lastOp, List<Point> points,
      Map<String, Integer> outcomes, List<String> baselineProblems) {
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
    ImageCountingBackend counting = new ImageCountingBackend(baseline);
    new CaseRunner(scenario, scenarioCase, counting).run();
    baseline.quit();
    List<Creation> creations = counting.creations;
    long firstOp = counting.opsAfterImages + 1;
    long lastOp = disk.opCount();
    List<Point> points = new ArrayList<>();
    Map<String, Integer> outcomes = new TreeMap<>();
    for (long k = firstOp; k <= lastOp; k += Math.max(1, stride)) {
      Point point = check(crashed.remove(k), k, versions.versions(), creations);
      points.add(point);
      outcomes.merge(point.outcome(), 1, Integer::sum);
    }
    return new Report(scenarioCase.name(), firstOp, lastOp, points, outcomes,
        versions.problems());
  }

  /** Checks every image of the disk the power cut right after request k left. */
  static Point check(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<Creation> creations) {
    List<String> violations = new ArrayList<>();
    Set<String> beingCreated = new java.util.TreeSet<>();
    for (Creation c : creations) {
      if (k > c.firstOp() - 1 && k <= c.lastOp()) {
        beingCreated.add(c.path());
      }
    }
    String outcome = checkImages(disk, k, versions, violations, beingCreated);
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
    return checkImages(disk, k, versions, violations, Set.of());
  }

  /**
   * As above; files in beingCreated were cut off in the middle of {@code qemu-img create}, which
   * QEMU does not make crash-safe either: they count as "interrupted-create", unchecked.
   */
  static String checkImages(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<String> violations, Set<String> beingCreated) {
    TreeMap<String, Integer> kinds = new TreeMap<>();
    boolean leaks = false;
    for (String path : disk.list()) {
      if (beingCreated.contains(path)) {
        kinds.merge("interrupted-create", 1, Integer::sum);
        continue;
      }
      try {
        HostFile file = disk.open(path);
        if (!StoredVersions.isQcow2(file)) {
          continue;
        }
        Qcow2Check.Result check = Qcow2Check.check(file);
        if (check.corruptions() > 0 || check.checkErrors() > 0) {
          violations.add(path + ": qcow2 check: " + check.corruptions() + " corruptions, "
              + check.checkErrors() + " errors: " + check.messages());
        }
        leaks |= check.leaks() > 0;
        Qcow2Image image;
        try {
          image = StoredVersions.openReadOnly(disk, file);
        } catch (HostIoException e) {
          violations.add(path + ": does not open: " + e.getMessage());
          continue;
        }
        if (image.bitmapsDropped()) {
          kinds.merge("dropped", 1, Integer::sum);
          continue;
        }
        List<Qcow2Image.BitmapEntry> entries = image.bitmapDirectory();
        SectorHashes now = entries.isEmpty() ? null
            : StoredVersions.sectorHashes(image, StoredVersions.dataHost(disk, file, image));
        for (Qcow2Image.BitmapEntry entry : entries) {
          if ((entry.flags() & Qcow2Image.BitmapEntry.IN_USE) != 0) {
            kinds.merge("inconsistent", 1, Integer::sum);
            continue;
          }
          kinds.merge("consistent", 1, Integer::sum);
          checkConsistent(path, image, entry, now, k, versions, violations);
        }
        reopen(disk, path, violations);
      } catch (HostIoException e) {
        violations.add(path + ": " + e.getMessage());
      }
    }
    StringBuilder outcome = new StringBuilder();
    if (kinds.isEmpty()) {
      outcome.append("no-bitmaps");
    }
    for (Map.Entry<String, Integer> e : kinds.entrySet()) {
      outcome.append(outcome.length() == 0 ? "" : "+").append(e.getKey());
    }
    if (leaks) {
      outcome.append(",leaks");
    }
    if (!violations.isEmpty()) {
      outcome.append(",VIOLATION");
    }
    return outcome.toString();
  }

  private static void checkConsistent(String path, Qcow2Image image,
      Qcow2Image.BitmapEntry entry, SectorHashes now, long k, List<StoredVersions.Version> versions,
      List<String> violations) throws HostIoException {
    StoredVersions.Version version = null;
    for (StoredVersions.Version v : versions) {
      if (v.path().equals(path) && v.name().equals(entry.name())
          && v.tableOffset() == entry.tableOffset() && v.headerOp() <= k) {
        version = v;
      }
    }
    if (version == null) {
      violations.add(path + ": consistent bitmap '" + entry.name() + "' was never stored");
      return;
    }
    byte[] data = image.bitmapData(entry, image.virtualSize());
    if (!Arrays.equals(data, version.data())) {
      violations.add(path + ": bitmap '" + entry.name() + "' differs from the version stored "
          + "at op " + version.headerOp());
    }
    if (now == null || version.sectorHashes() == null) {
      return; // A disk too large to hash: the data comparison above is the whole check.
    }
    long granularity = entry.granularityBytes();
    long missed = now.firstUncoveredChange(version.sectorHashes(), sector -> {
      long granule = sector * SectorHashes.SECTOR_BYTES / granularity;
      long byteIndex = granule / 8;
      return byteIndex < data.length && (data[(int) byteIndex] >> (granule % 8) & 1) != 0;
    });
    if (missed >= 0) {
      violations.add(path + ": silent loss: bitmap '" + entry.name() + "' is consistent but "
          + "misses a write at offset " + missed * SectorHashes.SECTOR_BYTES
          + " made after it was stored (op " + version.headerOp() + ")");
    }
  }

  /** Opens the image read-write as QEMU would next time; it must open. */
  private static void reopen(FakeDisk disk, String path, List<String> violations) {
    Engine engine = new Engine(io.blocksim.sim.loop.NoTimeScheduler.INSTANCE, disk, Set.of());
    Map<String, Object> reply = engine.execute("blockdev-add", Json.object("driver", "qcow2",
        "node-name", "reopened", "backing", null,
        "file", Json.object("driver", "file", "filename", path)));
    if (reply.containsKey("error")) {
      violations.add(path + ": reopen failed: " + Json.compact(reply.get("error")));
    }
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
      if (words.length >= 3 && words[0].equals("create")) {
        creations.add(new Creation(words[words.length - 2], before + 1,
            inner.disk().opCount()));
      }
      return outcome;
    }
  }
}
