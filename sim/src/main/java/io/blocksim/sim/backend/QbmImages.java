package io.blocksim.sim.backend;

import io.blocksim.model.driver.qbm.QbmDescriptor;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import java.util.List;

/**
 * {@code qemu-img create -f qbm FILE SIZE} under proposal:qbm: the descriptor FILE and its raw
 * data image beside it (FILE with {@code .qbm} replaced by {@code .raw}), with no bitmaps yet;
 * persistent bitmaps are added with block-dirty-bitmap-add on a {@code qbm} node.
 */
final class QbmImages {
  private QbmImages() {}

  static void create(HostStorage storage, String path, long size) throws HostIoException {
    String dataPath = dataImageOf(path);
    HostFile data = storage.create(dataPath);
    HostFile.truncateFile(data, size);
    String slash = dataPath.lastIndexOf('/') < 0 ? dataPath
        : dataPath.substring(dataPath.lastIndexOf('/') + 1);
    byte[] bytes = new QbmDescriptor(slash, "raw", List.of()).toBytes();
    HostFile desc = storage.create(path);
    desc.write(0, bytes, 0, bytes.length);
  }

  /** The data image's path: FILE with .qbm replaced by .raw (or .raw appended). */
  static String dataImageOf(String path) {
    return (path.endsWith(".qbm") ? path.substring(0, path.length() - 4) : path) + ".raw";
  }
}
