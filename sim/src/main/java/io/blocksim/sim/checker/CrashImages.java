package io.blocksim.sim.checker;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qcow2.Qcow2Check;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.disk.FakeDisk;
import io.blocksim.sim.disk.FileContent;
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
    return checkImages(disk, k, versions, violations, beingCreated, reopen, null);
  }

  /**
   * As above; with a memo (one per sweep), a qcow2 image whose content (and, when its header
   * names a data file, every other file's) was checked at an earlier crash point is not checked
   * again: what the check, the read-only open, the sector hashes and the reopen found there is
   * what they find here, and only the comparison with the stored versions (which depends on the
   * crash point) is made again. The result is the same as without the memo.
   */
  public static String checkImages(FakeDisk disk, long k, List<StoredVersions.Version> versions,
      List<String> violations, Set<String> beingCreated, boolean reopen, Memo memo) {
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
        // The consistency check reads the image alone, so it is remembered by the image's
        // content alone; the rest may read the data file too.
        Checked checked = memo == null ? null : memo.findCheck(disk, path);
        List<Found> rest = memo == null || checked != null && checked.failed() ? null
            : memo.find(disk, path, reopen);
        if (checked == null || !checked.failed() && rest == null) {
          Memo.Key key = memo == null ? null : memo.key(disk, path, file);
          if (checked == null) {
            checked = check(path, file);
            if (memo != null) {
              memo.putCheck(path, key.image(), checked);
            }
          }
          if (!checked.failed()) {
            rest = examine(disk, path, file, reopen);
            if (memo != null) {
              memo.put(path, key, reopen, rest);
            }
          }
        }
        leaks |= replay(path, checked.found(), k, versions, violations, kinds);
        if (!checked.failed()) {
          leaks |= replay(path, rest, k, versions, violations, kinds);
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

  /**
   * What the checks of one qcow2 image found that does not depend on the crash point, in the
   * order the checks found it: a violation, an outcome kind, leaks, or a consistent bitmap to
   * compare with its stored versions (its data, or why its data did not read).
   */
  sealed interface Found {
    record Violation(String text) implements Found {}

    record Kind(String kind) implements Found {}

    record Leaks() implements Found {}

    record Consistent(Qcow2Image.BitmapEntry entry, byte[] data, String dataError,
        SectorHashes now) implements Found {}
  }

  /** What the consistency check found; failed: it did not run to its end (nothing follows). */
  record Checked(List<Found> found, boolean failed) {}

  /** The qcow2 consistency check of the image (leaks allowed, corruption never). */
  private static Checked check(String path, HostFile file) {
    List<Found> found = new ArrayList<>();
    try {
      Qcow2Check.Result check = Qcow2Check.check(file);
      if (check.corruptions() > 0 || check.checkErrors() > 0) {
        found.add(new Found.Violation(path + ": qcow2 check: " + check.corruptions()
            + " corruptions, " + check.checkErrors() + " errors: " + check.messages()));
      }
      if (check.leaks() > 0) {
        found.add(new Found.Leaks());
      }
      return new Checked(List.copyOf(found), false);
    } catch (HostIoException e) {
      found.add(new Found.Violation(path + ": " + e.getMessage()));
      return new Checked(List.copyOf(found), true);
    }
  }

  /**
   * Runs the checks of one qcow2 image after its consistency check that do not depend on the
   * crash point: the read-only open, the bitmaps' data and sector hashes, the reopen.
   */
  private static List<Found> examine(FakeDisk disk, String path, HostFile file, boolean reopen) {
    List<Found> found = new ArrayList<>();
    try {
      Qcow2Image image;
      try {
        image = StoredVersions.openReadOnly(disk, file);
      } catch (HostIoException e) {
        found.add(new Found.Violation(path + ": does not open: " + e.getMessage()));
        return found;
      }
      if (image.bitmapsDropped()) {
        found.add(new Found.Kind("dropped"));
        return found;
      }
      List<Qcow2Image.BitmapEntry> entries = image.bitmapDirectory();
      SectorHashes now = entries.isEmpty() ? null
          : StoredVersions.sectorHashes(image, StoredVersions.dataHost(disk, file, image));
      for (Qcow2Image.BitmapEntry entry : entries) {
        if ((entry.flags() & Qcow2Image.BitmapEntry.IN_USE) != 0) {
          found.add(new Found.Kind("inconsistent"));
          continue;
        }
        found.add(new Found.Kind("consistent"));
        try {
          found.add(new Found.Consistent(entry, image.bitmapData(entry, image.virtualSize()),
              null, now));
        } catch (HostIoException e) {
          // Only a failure if a stored version is found (else the data is never read).
          found.add(new Found.Consistent(entry, null, e.getMessage(), now));
        }
      }
      if (reopen) {
        List<String> reopened = new ArrayList<>();
        reopen(disk, path, reopened);
        for (String v : reopened) {
          found.add(new Found.Violation(v));
        }
      }
    } catch (HostIoException e) {
      found.add(new Found.Violation(path + ": " + e.getMessage()));
    }
    return found;
  }

  /** Adds what examine found at crash point k; returns whether the image leaks. */
  private static boolean replay(String path, List<Found> found, long k,
      List<StoredVersions.Version> versions, List<String> violations,
      TreeMap<String, Integer> kinds) {
    boolean leaks = false;
    for (Found f : found) {
      if (f instanceof Found.Violation v) {
        violations.add(v.text());
      } else if (f instanceof Found.Kind kind) {
        kinds.merge(kind.kind(), 1, Integer::sum);
      } else if (f instanceof Found.Leaks) {
        leaks = true;
      } else if (f instanceof Found.Consistent c
          && !checkConsistent(path, c, k, versions, violations)) {
        break; // The bitmap's data did not read: the image's checks end there.
      }
    }
    return leaks;
  }

  /** Returns false when the bitmap's data was needed and did not read (a violation added). */
  private static boolean checkConsistent(String path, Found.Consistent c, long k,
      List<StoredVersions.Version> versions, List<String> violations) {
    Qcow2Image.BitmapEntry entry = c.entry();
    StoredVersions.Version version = null;
    for (StoredVersions.Version v : versions) {
      if (v.path().equals(path) && v.name().equals(entry.name())
          && v.tableOffset() == entry.tableOffset() && v.headerOp() <= k) {
        version = v;
      }
    }
    if (version == null) {
      violations.add(path + ": consistent bitmap '" + entry.name() + "' was never stored");
      return true;
    }
    if (c.dataError() != null) {
      violations.add(path + ": " + c.dataError());
      return false;
    }
    byte[] data = c.data();
    if (!Arrays.equals(data, version.data())) {
      violations.add(path + ": bitmap '" + entry.name() + "' differs from the version stored "
          + "at op " + version.headerOp());
    }
    SectorHashes now = c.now();
    if (now == null || version.sectorHashes() == null) {
      return true; // A disk too large to hash: the data comparison above is the whole check.
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
    return true;
  }

  /**
   * What a sweep's images were found to be, by content: for each path, the last few contents
   * examined with what examine found (the images of successive crash points mostly repeat: a
   * file without unflushed requests holds what it held at the point before).
   */
  public static final class Memo {
    /** Contents remembered per file, the least recently used forgotten first. */
    private static final int PER_PATH = 8;

    /**
     * The content examined: the image's, and when its header names a data file (or does not
     * read), every other file's too (the data file is opened by the name in the header).
     */
    record Key(FileContent image, Map<String, FileContent> others) {}

    private record Entry(Key key, boolean reopen, List<Found> found) {}

    private final Map<String, java.util.ArrayDeque<Entry>> byPath = new TreeMap<>();

    private record CheckEntry(FileContent image, Checked checked) {}

    private final Map<String, java.util.ArrayDeque<CheckEntry>> checks = new TreeMap<>();

    /** Returns what the consistency check found on an image with the same content, or null. */
    Checked findCheck(FakeDisk disk, String path) {
      java.util.ArrayDeque<CheckEntry> entries = checks.get(path);
      if (entries == null) {
        return null;
      }
      for (java.util.Iterator<CheckEntry> it = entries.iterator(); it.hasNext(); ) {
        CheckEntry e = it.next();
        if (disk.holds(path, e.image())) {
          it.remove(); // The most recently used first (a flushed state recurs all along).
          entries.addFirst(e);
          return e.checked();
        }
      }
      return null;
    }

    void putCheck(String path, FileContent image, Checked checked) {
      java.util.ArrayDeque<CheckEntry> entries = checks.computeIfAbsent(path,
          p -> new java.util.ArrayDeque<>());
      entries.addFirst(new CheckEntry(image, checked));
      if (entries.size() > PER_PATH) {
        entries.removeLast();
      }
    }

    /** Returns what was found on an image with the same content, or null. */
    List<Found> find(FakeDisk disk, String path, boolean reopen) {
      java.util.ArrayDeque<Entry> entries = byPath.get(path);
      if (entries == null) {
        return null;
      }
      for (java.util.Iterator<Entry> it = entries.iterator(); it.hasNext(); ) {
        Entry e = it.next();
        if (e.reopen() == reopen && disk.holds(path, e.key().image()) && othersHeld(disk, path,
            e.key().others())) {
          it.remove();
          entries.addFirst(e);
          return e.found();
        }
      }
      return null;
    }

    private static boolean othersHeld(FakeDisk disk, String path,
        Map<String, FileContent> others) {
      if (others == null) {
        return true;
      }
      List<String> names = disk.list();
      if (names.size() != others.size() + 1) {
        return false;
      }
      for (String name : names) {
        if (!name.equals(path) && !(others.containsKey(name)
            && disk.holds(name, others.get(name)))) {
          return false;
        }
      }
      return true;
    }

    /** The key of the image as it is now (taken before examine, which may change the disk). */
    Key key(FakeDisk disk, String path, HostFile file) {
      boolean ownDataOnly = ownDataOnly(file);
      Map<String, FileContent> others = null;
      if (!ownDataOnly) {
        others = new TreeMap<>();
        for (String name : disk.list()) {
          if (!name.equals(path)) {
            others.put(name, disk.content(name));
          }
        }
      }
      return new Key(disk.content(path), others);
    }

    /**
     * Whether the header says the image has no data file (Qcow2Image.dataFileInfo: the header's
     * first page, parsed as an open parses it). A header that does not parse: false.
     */
    private static boolean ownDataOnly(HostFile file) {
      try {
        return !Qcow2Image.dataFileInfo(file, true).hasDataFile();
      } catch (HostIoException e) {
        return false;
      }
    }

    void put(String path, Key key, boolean reopen, List<Found> found) {
      java.util.ArrayDeque<Entry> entries = byPath.computeIfAbsent(path,
          p -> new java.util.ArrayDeque<>());
      entries.addFirst(new Entry(key, reopen, List.copyOf(found)));
      if (entries.size() > PER_PATH) {
        entries.removeLast();
      }
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
