package io.blocksim.sim.checker;

import io.blocksim.model.Engine;
import io.blocksim.model.driver.qbm.QbmDescriptor;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.semantics.Variant;
import io.blocksim.sim.disk.FakeDisk;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * proposal:qbm's images for the persistence checks: a QBM descriptor (a file starting with
 * {@code {"QBM"}) glues a raw data image and one bitmap file per bitmap. The descriptor has no
 * in-use flag, so every bitmap found after a crash is taken as consistent: it must be a stored
 * version (or hold every bit of one, as a torn update of the file can) and cover every sector of
 * the data image changed since that version was stored.
 */
final class QbmImages {
  private QbmImages() {}

  /** A descriptor found on the disk, with its folder. */
  record Found(String path, String folder, QbmDescriptor descriptor) {
    String resolve(String name) {
      return folder + name;
    }
  }

  /** Returns whether the file starts like a QBM descriptor. */
  static boolean isQbm(HostFile file) throws HostIoException {
    if (file.length() < 6) {
      return false;
    }
    byte[] head = new byte[(int) Math.min(16, file.length())];
    file.read(0, head, 0, head.length);
    return QbmDescriptor.looksLikeQbm(head);
  }

  /** Parses the descriptor at path (throws IllegalArgumentException when it does not parse). */
  static Found read(FakeDisk disk, String path) throws HostIoException {
    HostFile file = disk.open(path);
    byte[] bytes = new byte[(int) file.length()];
    file.read(0, bytes, 0, bytes.length);
    String folder = path.lastIndexOf('/') < 0 ? "" : path.substring(0, path.lastIndexOf('/') + 1);
    return new Found(path, folder, QbmDescriptor.parse(bytes));
  }

  /** The bitmap file's bytes (zeroes past its end), sized for the data image. */
  static byte[] bitmapData(FakeDisk disk, Found found, QbmDescriptor.Bitmap bitmap,
      long imageLength) throws HostIoException {
    long granules = (imageLength + bitmap.granularityBytes() - 1) / bitmap.granularityBytes();
    byte[] data = new byte[(int) ((granules + 7) / 8)];
    String name = found.resolve(bitmap.file());
    if (disk.exists(name)) {
      HostFile f = disk.open(name);
      int have = (int) Math.min(data.length, f.length());
      if (have > 0) {
        f.read(0, data, 0, have);
      }
    }
    return data;
  }

  /** The hashes of the data image's sectors, or null when it is too large to hash. */
  static SectorHashes dataHashes(FakeDisk disk, Found found) throws HostIoException {
    HostFile raw = disk.open(found.resolve(found.descriptor().imageFile()));
    return raw.length() > StoredVersions.MAX_HASHED_BYTES ? null
        : SectorHashes.ofRaw(raw, raw.length());
  }

  /**
   * Records a version of every bitmap of every descriptor whose file content differs from the
   * latest recorded one (called on each write to a descriptor or a bitmap file).
   */
  static void record(FakeDisk disk, long op, String touched, List<StoredVersions.Version> versions)
      throws HostIoException {
    for (String path : disk.list()) {
      if (!path.endsWith(".qbm")) {
        continue; // As in concerns.
      }
      HostFile file = disk.open(path);
      if (!isQbm(file)) {
        continue;
      }
      Found found;
      try {
        found = read(disk, path);
      } catch (IllegalArgumentException e) {
        continue; // A descriptor in the middle of a rewrite: no version.
      }
      boolean concerned = path.equals(touched);
      for (QbmDescriptor.Bitmap b : found.descriptor().bitmaps()) {
        concerned |= found.resolve(b.file()).equals(touched);
      }
      if (!concerned || !disk.exists(found.resolve(found.descriptor().imageFile()))) {
        continue;
      }
      long length = disk.open(found.resolve(found.descriptor().imageFile())).length();
      SectorHashes hashes = null;
      for (QbmDescriptor.Bitmap b : found.descriptor().bitmaps()) {
        byte[] data = bitmapData(disk, found, b, length);
        if (sameAsLatest(versions, path, b, data)) {
          continue;
        }
        if (hashes == null) {
          hashes = dataHashes(disk, found);
        }
        versions.add(new StoredVersions.Version(path, b.name(), op, -1, b.granularityBytes(),
            data, hashes));
      }
    }
  }

  private static boolean sameAsLatest(List<StoredVersions.Version> versions, String path,
      QbmDescriptor.Bitmap b, byte[] data) {
    for (int i = versions.size() - 1; i >= 0; i--) {
      StoredVersions.Version v = versions.get(i);
      if (v.path().equals(path) && v.name().equals(b.name())) {
        return v.granularityBytes() == b.granularityBytes()
            && java.util.Arrays.equals(v.data(), data);
      }
    }
    return false;
  }

  /**
   * Whether the path is a descriptor or a file one of the disk's descriptors names (called for
   * every write of a run, so only files named {@code *.qbm}, as {@code qemu-img create -f qbm}
   * names them, are looked at as descriptors here).
   */
  static boolean concerns(FakeDisk disk, String path) throws HostIoException {
    if (path.endsWith(".qbm") || path.endsWith(".bitmap")) {
      return true;
    }
    for (String p : disk.list()) {
      if (!p.endsWith(".qbm")) {
        continue;
      }
      HostFile file = disk.open(p);
      if (!isQbm(file)) {
        continue;
      }
      try {
        Found found = read(disk, p);
        for (QbmDescriptor.Bitmap b : found.descriptor().bitmaps()) {
          if (found.resolve(b.file()).equals(path)) {
            return true;
          }
        }
      } catch (IllegalArgumentException e) {
        // Not readable now: nothing it names is concerned.
      }
    }
    return false;
  }

  /**
   * Checks one descriptor a crash left: it must parse, and every bitmap it names must hold a
   * stored version's bits and cover every change of the data image since that version. Adds
   * the outcome kinds; with reopen, the image must open as a qbm node again.
   */
  static void check(FakeDisk disk, String path, long k, List<StoredVersions.Version> versions,
      List<String> violations, TreeMap<String, Integer> kinds, boolean reopen)
      throws HostIoException {
    Found found;
    try {
      found = read(disk, path);
    } catch (IllegalArgumentException e) {
      kinds.merge("qbm-unreadable", 1, Integer::sum);
      violations.add(path + ": QBM descriptor does not parse (" + e.getMessage()
          + "): the image does not open");
      return;
    }
    String imagePath = found.resolve(found.descriptor().imageFile());
    if (!disk.exists(imagePath)) {
      violations.add(path + ": QBM data image " + imagePath + " is missing");
      return;
    }
    long length = disk.open(imagePath).length();
    SectorHashes now = found.descriptor().bitmaps().isEmpty() ? null : dataHashes(disk, found);
    for (QbmDescriptor.Bitmap b : found.descriptor().bitmaps()) {
      // No in-use flag: every bitmap a descriptor names opens as consistent.
      kinds.merge("qbm-consistent", 1, Integer::sum);
      byte[] data = bitmapData(disk, found, b, length);
      checkBitmap(path, b, data, now, k, versions, violations);
    }
    if (reopen) {
      Engine engine = new Engine(io.blocksim.sim.loop.NoTimeScheduler.INSTANCE, disk,
          Set.of(Variant.QBM.spelling()));
      Map<String, Object> reply = engine.execute("blockdev-add", Json.object("driver", "qbm",
          "node-name", "reopened", "file", Json.object("driver", "file", "filename", path)));
      if (reply.containsKey("error")) {
        violations.add(path + ": reopen failed: " + Json.compact(reply.get("error")));
      }
    }
  }

  private static void checkBitmap(String path, QbmDescriptor.Bitmap b, byte[] data,
      SectorHashes now, long k, List<StoredVersions.Version> versions, List<String> violations) {
    StoredVersions.Version version = null;
    boolean any = false;
    for (int i = versions.size() - 1; i >= 0 && version == null; i--) {
      StoredVersions.Version v = versions.get(i);
      if (v.path().equals(path) && v.name().equals(b.name()) && v.headerOp() <= k
          && v.tableOffset() == -1) {
        any = true;
        if (v.granularityBytes() == b.granularityBytes() && holdsAll(data, v.data())) {
          version = v;
        }
      }
    }
    if (version == null) {
      violations.add(path + ": silent loss: bitmap '" + b.name() + "' opens as consistent (no "
          + "in-use flag) but " + (any ? "holds the bits of no version stored" : "was never stored"));
      return;
    }
    if (now == null || version.sectorHashes() == null) {
      return;
    }
    long granularity = b.granularityBytes();
    long missed = now.firstUncoveredChange(version.sectorHashes(), sector -> {
      long granule = sector * SectorHashes.SECTOR_BYTES / granularity;
      long byteIndex = granule / 8;
      return byteIndex < data.length && (data[(int) byteIndex] >> (granule % 8) & 1) != 0;
    });
    if (missed >= 0) {
      violations.add(path + ": silent loss: bitmap '" + b.name() + "' is consistent but "
          + "misses a write at offset " + missed * SectorHashes.SECTOR_BYTES
          + " made after it was stored (op " + version.headerOp() + ")");
    }
  }

  /** Whether every bit set in version is set in data. */
  private static boolean holdsAll(byte[] data, byte[] version) {
    for (int i = 0; i < version.length; i++) {
      byte d = i < data.length ? data[i] : 0;
      if ((version[i] & ~d) != 0) {
        return false;
      }
    }
    return true;
  }
}
