package io.blocksim.sim.backend;

import io.blocksim.model.driver.qcow2.Qcow2CreateOptions;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.sim.port.Backend.ImageSpec;
import java.security.MessageDigest;

/** Image files as {@code qemu-img create} makes them, and guest-visible digests of image files. */
final class Images {
  /** ImageSpec option keys of qemu-img's {@code -o data_file=...,data_file_raw=on|off}. */
  static final String DATA_FILE = "data_file";
  static final String DATA_FILE_RAW = "data_file_raw";

  private Images() {}

  static void create(HostStorage storage, ImageSpec spec) throws HostIoException {
    HostFile file = storage.create(spec.path());
    // raw_co_create and qcow2_co_create_opts round the size up to a whole sector.
    long size = roundUpToSector(spec.sizeBytes());
    switch (spec.format()) {
      case "raw" -> {
        // qemu-img create allocates the first block of a raw file (allocate_first_block).
        HostFile.truncateFile(file, size);
      }
      case "qcow2" -> {
        Qcow2CreateOptions options = Qcow2CreateOptions.defaults();
        Object compat = spec.options() == null ? null : spec.options().get("compat");
        if ("0.10".equals(compat) || "v2".equals(compat)) {
          options = options.withVersion(2);
        }
        if (spec.clusterSizeBytes() != null) {
          options = options.withClusterSize(spec.clusterSizeBytes());
        }
        if (spec.backing() != null) {
          String format = spec.backingFormat() != null ? spec.backingFormat()
              : probeFormat(storage, spec.backing());
          options = options.withBacking(spec.backing(), format);
        }
        Object dataFile = spec.options() == null ? null : spec.options().get(DATA_FILE);
        HostFile data = null;
        if (dataFile != null) {
          // qemu-img creates the data file as a new empty file of the image size first.
          options = options.withDataFile((String) dataFile,
              Boolean.TRUE.equals(spec.options().get(DATA_FILE_RAW)));
          data = storage.create((String) dataFile);
          HostFile.truncateFile(data, size);
        }
        Qcow2Image.create(file, data, size, options);
      }
      default -> throw new HostIoException(HostIoException.EINVAL,
          "unknown image format '" + spec.format() + "'");
    }
  }

  static long roundUpToSector(long bytes) {
    return (bytes + 511) & ~511L;
  }

  /** Returns "qcow2" when the file starts with the qcow2 magic, else "raw" (qemu-img's probe). */
  static String probeFormat(HostStorage storage, String path) throws HostIoException {
    HostFile file = storage.open(path);
    byte[] magic = new byte[4];
    file.read(0, magic, 0, 4);
    return magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I' && magic[3] == (byte) 0xfb
        ? "qcow2" : "raw";
  }

  /** Hashes the guest-visible contents of an image file (its backing chain included). */
  static void digestFile(HostStorage storage, String path, MessageDigest sha)
      throws HostIoException {
    ImageReader reader = ImageReader.open(storage, path);
    long length = reader.length();
    for (long offset = 0; offset < length; offset += 1 << 20) {
      int chunk = (int) Math.min(1 << 20, length - offset);
      byte[] data = new byte[chunk];
      reader.read(offset, data);
      sha.update(data);
    }
  }
}
