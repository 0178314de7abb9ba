package io.blocksim.model.qmp;

import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.graph.BlockNode;

/**
 * Where persistent bitmaps may be stored (qcow2 v3 only) and the immediate deletion of a stored
 * bitmap on remove. Storing on close and loading on open live in the qcow2 driver.
 */
final class PersistenceSupport {
  private static final long MAX_GRANULARITY = 1L << 31;

  private PersistenceSupport() {}

  static void checkCanStore(BlockNode node, String name, long granularity) throws QmpError {
    if (!(node.driver() instanceof Qcow2Driver qcow2)) {
      throw QmpError.generic("Can't store persistent bitmaps to " + node.name()
          + ": Operation not supported");
    }
    String prefix = "Can't make bitmap '" + name + "' persistent in '" + node.name() + "': ";
    if (node.bitmap(name) != null) {
      throw QmpError.generic("Bitmap already exists: " + name);
    }
    if (qcow2.version() < 3) {
      throw QmpError.generic(prefix + "Cannot store dirty bitmaps in qcow2 v2 files");
    }
    if (granularity > MAX_GRANULARITY) {
      throw QmpError.generic(prefix + "Granularity exceeds maximum (2147483648 bytes)");
    }
    if (granularity < 512) {
      throw QmpError.generic(prefix + "Granularity is under minimum (512 bytes)");
    }
    if (name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 1023) {
      throw QmpError.generic(prefix + "Name length exceeds maximum (1023 characters)");
    }
  }

  static void removeStored(BlockNode node, String name) {
    if (node.driver() instanceof Qcow2Driver qcow2) {
      qcow2.removeStoredBitmap(name);
    }
  }
}
