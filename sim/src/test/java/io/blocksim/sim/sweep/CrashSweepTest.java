package io.blocksim.sim.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.checker.StoredVersions;
import io.blocksim.sim.disk.FakeDisk;
import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.cli.Main;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: the crash sweep tries every request, classifies the outcomes, finds no violation in the
 * engine, and would find one if bitmaps were stored unsafely. Method: sweep the persistence
 * scenario; build by hand the image a careless implementation would leave (a write after the
 * store with the bitmap not marked in use) and a corrupted one, and check that both are
 * flagged; run the real qemu-img check on a sample of crash images.
 */
class CrashSweepTest {
  private static final Path SCENARIO =
      Path.of("..", "scenarios", "persistence", "sweep-store-reopen.yaml");

  @TempDir Path temp;

  private static Scenario scenario() throws Exception {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(SCENARIO));
    assertThat(loaded.errors()).isEmpty();
    return loaded.scenarios().get(0);
  }

  /**
   * Images the daemon or qemu-img creates (drive-mirror's target, a sizeless create -b) are
   * interrupted creates while they are made, and QEMU's own windows are named, not violations.
   */
  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.CsvSource({
      "mirror/drive-mirror.yaml, 0, ''",
      "qemu-img/locks.yaml, 0, ''",
      "resize/block-resize.yaml, 0, shrink before the metadata caches",
      "fidelity/snapshot-bigger-overlay-persistent.yaml, 1, torn header"})
  void createsAndQemuWindowsAreNoViolations(String file, int caseIndex, String window)
      throws Exception {
    ScenarioFiles.Loaded loaded =
        ScenarioFiles.load(List.of(Path.of("..", "scenarios").resolve(file)));
    Scenario scenario = loaded.scenarios().get(0);

    CrashSweep.Report report = CrashSweep.sweep(scenario, scenario.cases().get(caseIndex), 0,
        Set.of(), 1);

    assertThat(report.violationCount()).as(report.points().toString()).isZero();
    if (!window.isEmpty()) {
      assertThat(report.points()).anySatisfy(p -> assertThat(p.qemuWindow()).startsWith(window));
    }
  }

  @Test
  void everyCrashPointOfThePersistenceScenarioKeepsTheInvariant() throws Exception {
    Scenario scenario = scenario();

    CrashSweep.Report report = CrashSweep.sweep(scenario, scenario.cases().get(0), 0,
        Set.of(), 1);

    assertThat(report.points()).hasSize((int) (report.lastOp() - report.firstOp() + 1));
    assertThat(report.points().size()).isGreaterThan(40);
    assertThat(report.points()).allSatisfy(p -> assertThat(p.violations()).isEmpty());
    assertThat(String.join(" ", report.outcomes().keySet()))
        .contains("inconsistent").contains("consistent").contains("no-bitmaps");
  }

  @Test
  void theCommandLineReportsCrashPointsClassesAndNoViolation() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.execute(new String[] {"sweep", "--crash-points", "--stride", "5",
        SCENARIO.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

    String text = out.toString(StandardCharsets.UTF_8);
    assertThat(code).as(text).isZero();
    assertThat(text).contains("crash points (ops ").contains("runs/s").endsWith(
        "no violations\n");
  }

  /** A disk with one image whose bitmap 'b' was stored after a 64 KiB write at 0. */
  private static FakeDisk storedImage(List<StoredVersions.Version> versions) throws Exception {
    FakeDisk disk = new FakeDisk();
    StoredVersions recorder = new StoredVersions(disk);
    disk.addListener(recorder);
    Engine engine = engine(disk);
    engine.storage().create("img.qcow2");
    Qcow2Image.create(disk.open("img.qcow2"), 4 << 20,
        io.blocksim.model.driver.qcow2.Qcow2CreateOptions.defaults());
    execute(engine, "blockdev-add", Json.object("node-name", "d", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "img.qcow2")));
    execute(engine, "block-dirty-bitmap-add", Json.object("node", "d", "name", "b",
        "persistent", true));
    io.blocksim.model.graph.BlockIo.write(engine.graph().find("d"), 0, new byte[65536], 0, 65536,
        0);
    execute(engine, "blockdev-del", Json.object("node-name", "d"));
    versions.addAll(recorder.versions());
    return disk;
  }

  @Test
  void aConsistentBitmapThatMissesALaterWriteIsASilentLoss() throws Exception {
    List<StoredVersions.Version> versions = new ArrayList<>();
    FakeDisk disk = storedImage(versions);
    assertThat(versions).hasSize(1);
    // A careless implementation: write through the image, then leave the entry not in use.
    HostFile file = disk.open("img.qcow2");
    Qcow2Image image = Qcow2Image.open(file, false);
    Qcow2Image.BitmapEntry entry = image.bitmapDirectory().get(0);
    byte[] data = new byte[4096];
    java.util.Arrays.fill(data, (byte) 7);
    image.write(2 << 20, data, 0, data.length);
    image.close();
    long directory = directoryOffset(file);
    file.write(directory + 12, new byte[] {0, 0, 0, 2}, 0, 4);
    assertThat(Qcow2Image.open(file, true).bitmapDirectory().get(0).tableOffset())
        .isEqualTo(entry.tableOffset());

    List<String> violations = new ArrayList<>();
    String outcome = CrashSweep.checkImages(disk, Long.MAX_VALUE, versions, violations);

    assertThat(outcome).contains("VIOLATION");
    assertThat(violations).singleElement().asString().contains("silent loss")
        .contains("offset 2097152");
  }

  @Test
  void aCorruptedRefcountIsAViolationAndAnUntouchedImageIsNot() throws Exception {
    List<StoredVersions.Version> versions = new ArrayList<>();
    FakeDisk disk = storedImage(versions);
    List<String> clean = new ArrayList<>();
    assertThat(CrashSweep.checkImages(disk, Long.MAX_VALUE, versions, clean))
        .isEqualTo("consistent");
    assertThat(clean).isEmpty();

    HostFile file = disk.open("img.qcow2");
    byte[] header = new byte[64];
    file.read(0, header, 0, 64);
    long reftable = java.nio.ByteBuffer.wrap(header, 48, 8).getLong();
    byte[] entry = new byte[8];
    file.read(reftable, entry, 0, 8);
    file.write(java.nio.ByteBuffer.wrap(entry).getLong(), new byte[65536], 0, 65536);
    List<String> violations = new ArrayList<>();
    CrashSweep.checkImages(disk, Long.MAX_VALUE, versions, violations);

    assertThat(violations).anySatisfy(v -> assertThat(v).contains("qcow2 check"));
  }

  /**
   * The sweep takes each crash point's disk from one uncrashed run; it must be, file for file and
   * byte for byte, the disk of a run with the power cut armed at that point and run to the end.
   */
  @Test
  void crashImagesTakenFromOneRunAreThoseOfRunsCutAtEachPoint() throws Exception {
    for (String name : List.of("sweep-store-reopen.yaml", "power-loss.yaml",
        "data-file-raw-bitmaps.yaml")) {
      Scenario scenario = ScenarioFiles.load(List.of(SCENARIO.resolveSibling(name)))
          .scenarios().get(0);
      Scenario.Case c = scenario.cases().get(0);
      long seed = scenario.seed();
      io.blocksim.sim.backend.SimBackend baseline =
          new io.blocksim.sim.backend.SimBackend(seed, new java.util.TreeSet<>(scenario.semantics()));
      FakeDisk disk = baseline.disk();
      Map<Long, FakeDisk> copies = new java.util.TreeMap<>();
      disk.addListener(op -> copies.put(op.sequence(),
          disk.crashedCopy(CrashSweep.cutPrng(seed, op.sequence()))));
      new io.blocksim.sim.runner.CaseRunner(scenario, c, baseline).run();
      baseline.quit();
      assertThat(copies).hasSizeGreaterThan(20);
      for (Map.Entry<Long, FakeDisk> e : copies.entrySet()) {
        FakeDisk rerun = CrashSweep.crashedDisk(scenario, c, seed,
            new java.util.TreeSet<>(scenario.semantics()), e.getKey());
        assertThat(contents(e.getValue())).as("%s op %d", name, e.getKey())
            .isEqualTo(contents(rerun));
      }
    }
  }

  /**
   * The sweep checks an image once per distinct content (CrashImages.Memo); every point must
   * come out as the check of that point's disk on its own finds it. The scenarios are ones
   * where most points repeat some file's content (an image left alone while another is written).
   */
  @Test
  void pointsCheckedWithTheSweepsMemoAreThoseCheckedAlone() throws Exception {
    for (String name : List.of("backing-and-in-use.yaml", "add-errors-and-unstored-crash.yaml",
        "data-file-raw-bitmaps.yaml")) {
      Scenario scenario = ScenarioFiles.load(List.of(SCENARIO.resolveSibling(name)))
          .scenarios().get(0);
      Scenario.Case c = scenario.cases().get(0);
      long seed = scenario.seed();
      java.util.Set<String> semantics = new java.util.TreeSet<>(scenario.semantics());
      CrashSweep.Report report = CrashSweep.sweep(scenario, c, seed, semantics, 1);
      io.blocksim.sim.backend.SimBackend baseline =
          new io.blocksim.sim.backend.SimBackend(seed, semantics);
      io.blocksim.sim.checker.StoredVersions versions =
          new io.blocksim.sim.checker.StoredVersions(baseline.disk());
      baseline.disk().addListener(versions);
      new io.blocksim.sim.runner.CaseRunner(scenario, c, baseline).run();
      baseline.quit();
      int compared = 0;
      for (CrashSweep.Point p : report.points()) {
        if (p.outcome().contains("interrupted-create") || p.qemuWindow() != null) {
          continue; // Files being created are left out of the check (not this test's matter).
        }
        compared++;
        FakeDisk alone = CrashSweep.crashedDisk(scenario, c, seed, semantics, p.op());
        List<String> violations = new java.util.ArrayList<>();
        String outcome = io.blocksim.sim.checker.CrashImages.checkImages(alone, p.op(),
            versions.versions(), violations, java.util.Set.of(), true, null);
        assertThat(p.outcome() + " " + p.violations()).as("%s op %d", name, p.op())
            .isEqualTo(outcome + " " + violations);
      }
      assertThat(compared).as(name).isGreaterThan(30);
    }
  }

  private static Map<String, String> contents(FakeDisk disk) throws Exception {
    Map<String, String> all = new java.util.TreeMap<>();
    for (String path : disk.list()) {
      HostFile file = disk.open(path);
      byte[] bytes = new byte[(int) file.length()];
      file.read(0, bytes, 0, bytes.length);
      all.put(path, file.length() + ":" + java.util.HexFormat.of().formatHex(
          java.security.MessageDigest.getInstance("SHA-256").digest(bytes)));
    }
    return all;
  }

  @Test
  void realQemuImgCheckFindsNoCorruptionInSampledCrashImages() throws Exception {
    QemuAvailability availability = QemuAvailability.check();
    Assumptions.assumeTrue(availability.available(), availability.reason());
    Scenario scenario = scenario();
    CrashSweep.Report report = CrashSweep.sweep(scenario, scenario.cases().get(0), 0,
        Set.of(), 1);
    int checked = 0;
    for (int i = 0; i < report.points().size(); i += 7) {
      long k = report.points().get(i).op();
      FakeDisk disk = CrashSweep.crashedDisk(scenario, scenario.cases().get(0), 0, Set.of(), k);
      Path dir = temp.resolve("op" + k);
      Files.createDirectories(dir);
      disk.exportTo(dir);
      QemuTools.Run check = QemuTools.run(dir, "qemu-img", "check", "img.qcow2");
      assertThat(check.exitCode()).as("op %d: %s", k, check.output()).isIn(0, 3);
      boolean leaks = io.blocksim.model.driver.qcow2.Qcow2Check.check(disk.open("img.qcow2"))
          .leaks() > 0;
      assertThat(check.exitCode() == 3).as("leaks at op %d: %s", k, check.output())
          .isEqualTo(leaks);
      checked++;
    }
    assertThat(checked).isGreaterThan(5);
  }

  private static long directoryOffset(HostFile file) throws Exception {
    Qcow2Image image = Qcow2Image.open(file, true);
    return java.nio.ByteBuffer.wrap(image.bitmapsExtension(), 16, 8).getLong();
  }

  private static Engine engine(FakeDisk disk) {
    return new Engine(io.blocksim.sim.loop.NoTimeScheduler.INSTANCE, disk, Set.of());
  }

  private static void execute(Engine engine, String command, Map<String, Object> args) {
    Map<String, Object> reply = engine.execute(command, args);
    assertThat(reply).as(command).containsKey("return");
  }
}
