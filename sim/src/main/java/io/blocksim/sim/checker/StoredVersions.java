package io.blocksim.sim.checker;

import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.sim.disk.DiskOp;
import io.blocksim.sim.disk.DiskOpListener;
import io.blocksim.sim.disk.FakeDisk;
import java.util.ArrayList;
import java.util.List;

/**
 * Records, during a run without a crash, every stored version of every persistent bitmap: each
 * time a qcow2 header is written, the image is read as it stands (unflushed writes included) and
 * each consistent directory entry not seen before is kept with its data and a hash of every
 * guest sector at that moment. A crash run is identical to this run up to its crash point, so a
 * bitmap found consistent after the crash must be one of these versions, and every sector that
 * changed since must be dirty in it.
 */
public final class StoredVersions implements DiskOpListener {

  /** One stored version: which header write made it visible, its data, the guest sectors. */
  public record Version(String path, String name, long headerOp, long tableOffset,
      long granularityBytes, byte[] data, SectorHashes sectorHashes) {}

  private final FakeDisk disk;
  private final List<Version> versions = new ArrayList<>();
  private final List<String> problems = new ArrayList<>();

  public StoredVersions(FakeDisk disk) {
    this.disk = disk;
  }

  public List<Version> versions() {
    return versions;
  }

  public List<String> problems() {
    return problems;
  }

  @Override
  public void onOp(DiskOp op) {
    if (op.kind() != DiskOp.Kind.FLUSH && op.kind() != DiskOp.Kind.DISCARD) {
      try {
        if (QbmImages.concerns(disk, op.path())) {
          // proposal:qbm: a descriptor or bitmap file changed; bitmap files change anywhere.
          QbmImages.record(disk, op.sequence(), op.path(), versions);
          return;
        }
      } catch (HostIoException e) {
        problems.add("op " + op.sequence() + ": " + e.getMessage());
        return;
      }
    }
    if (op.kind() != DiskOp.Kind.WRITE || op.offsetBytes() != 0) {
      return;
    }
    record(op.path(), op.sequence());
  }

  /**
   * Records every file's stored bitmaps as they stand now, as if each header had just been
   * written (the recording started in the middle of a command that stored a bitmap).
   */
  public void recordAll() {
    long sequence = disk.opCount() - 1;
    for (String path : disk.list()) {
      record(path, sequence);
    }
  }

  private void record(String path, long sequence) {
    DiskOp op = new DiskOp(sequence, path, DiskOp.Kind.WRITE, 0, 0);
    try {
      HostFile file = disk.open(op.path());
      if (!isQcow2(file)) {
        return;
      }
      Qcow2Image image = openReadOnly(disk, file);
      if (!image.bitmapsConsistent()) {
        return;
      }
      SectorHashes hashes = null;
      boolean hashed = false;
      for (Qcow2Image.BitmapEntry entry : image.bitmapDirectory()) {
        if ((entry.flags() & Qcow2Image.BitmapEntry.IN_USE) != 0) {
          continue;
        }
        byte[] data = image.bitmapData(entry, image.virtualSize());
        if (sameAsLatest(op.path(), entry, data)) {
          continue;
        }
        if (!hashed) {
          hashes = sectorHashes(image, dataHost(disk, file, image));
          hashed = true;
        }
        versions.add(new Version(op.path(), entry.name(), op.sequence(), entry.tableOffset(),
            entry.granularityBytes(), data, hashes));
      }
    } catch (HostIoException e) {
      // A header written in the middle of an update (autoclear clear) may not open: no version.
      problems.add("op " + op.sequence() + ": " + e.getMessage());
    }
  }

  /** Returns whether the latest version of that bitmap is this very entry (not re-stored). */
  private boolean sameAsLatest(String path, Qcow2Image.BitmapEntry entry, byte[] data) {
    for (int i = versions.size() - 1; i >= 0; i--) {
      Version v = versions.get(i);
      if (v.path().equals(path) && v.name().equals(entry.name())) {
        return v.tableOffset() == entry.tableOffset()
            && v.granularityBytes() == entry.granularityBytes()
            && java.util.Arrays.equals(v.data(), data);
      }
    }
    return false;
  }

  /** Opens an image read-only, with its external data file when its header names one. */
  static Qcow2Image openReadOnly(io.blocksim.sim.disk.FakeDisk disk, HostFile file)
      throws HostIoException {
    Qcow2Image.DataFileInfo dataFile = Qcow2Image.dataFileInfo(file, true);
    if (dataFile.hasDataFile() && dataFile.dataFileName() != null
        && disk.exists(dataFile.dataFileName())) {
      return Qcow2Image.open(file, disk.open(dataFile.dataFileName()),
          io.blocksim.model.driver.qcow2.Qcow2OpenOptions.defaults(true),
          io.blocksim.model.driver.qcow2.Qcow2Events.NONE);
    }
    return Qcow2Image.open(file, true);
  }

  static boolean isQcow2(HostFile file) throws HostIoException {
    if (file.length() < 4) {
      return false;
    }
    byte[] magic = new byte[4];
    file.read(0, magic, 0, 4);
    return magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I' && magic[3] == (byte) 0xfb;
  }

  /** Disks larger than this are not hashed sector by sector: only bitmap data is compared. */
  static final long MAX_HASHED_BYTES = 256L << 20;

  /**
   * Returns the hashes of the image's guest sectors (its own layer only), or null for a disk
   * larger than {@link #MAX_HASHED_BYTES}. dataHost is the file holding its data clusters.
   */
  static SectorHashes sectorHashes(Qcow2Image image, HostFile dataHost)
      throws HostIoException {
    return image.virtualSize() > MAX_HASHED_BYTES ? null : SectorHashes.of(image, dataHost);
  }

  /** Returns the file an image's data clusters live in: its data file, or the image itself. */
  static HostFile dataHost(FakeDisk disk, HostFile file, Qcow2Image image)
      throws HostIoException {
    if (!image.hasDataFile()) {
      return file;
    }
    String name = image.dataFileName();
    return name != null && disk.exists(name) ? disk.open(name) : null;
  }
}
