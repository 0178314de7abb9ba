package io.blocksim.sim.checker;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qcow2.Qcow2Check;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.disk.FakeDisk;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The checks of an image set a crash left (shared by {@code blocksim sweep} and the persistence
 * checker): the qcow2 consistency check (leaks allowed, corruption never), and every persistent
 * bitmap found in use or a stored version covering every sector changed since it was stored.
 */
public final class CrashImages {
  private CrashImages() {}

  /** Checks every qcow2 file on the disk; returns the outcome class of the crash point. */

  /**
   * Checks every qcow2 file on the disk as a crash left it, without reopening them (a run goes on
   * after the check, so the images must stay as they are): the consistency check and every
   * consistent persistent bitmap against its stored versions. Returns the violations.
   */
  public static List<String> violationsAfterCrash(FakeDisk disk, StoredVersions versions) {
    List<String> violations = new ArrayList<>();
    checkImages(disk, disk.opCount(), versions.versions(), violations, Set.of(), false);
    return violations;
  }

  /**
   * Checks every qcow2 file; files in beingCreated were cut off in the middle of {@code qemu-img
   * create}, which QEMU does not make crash-safe either: they count as "interrupted-create",
   * unchecked. With reopen, each image must also open read-write as QEMU would next time.
   * Returns the outcome class.
   */
  public static String checkImages(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<String> violations, Set<String> beingCreated, boolean reopen) {
    TreeMap<String, Integer> kinds = new TreeMap<>();
    boolean leaks = false;
    for (String path : disk.list()) {
      if (beingCreated.contains(path)) {
        kinds.merge("interrupted-create", 1, Integer::sum);
        continue;
      }
      try {
        HostFile file = disk.open(path);
        if (QbmImages.isQbm(file)) {
          QbmImages.check(disk, path, k, versions, violations, kinds, reopen);
          continue;
        }
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
        if (reopen) {
          reopen(disk, path, violations);
        }
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

}
