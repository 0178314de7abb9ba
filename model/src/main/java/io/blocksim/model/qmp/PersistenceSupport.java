package io.blocksim.model.qmp;

import io.blocksim.model.driver.qbm.QbmDriver;

import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.semantics.Variant;
import java.util.List;

/**
 * Where persistent bitmaps may be stored (qcow2 v3 only, within qcow2's limits) and the immediate
 * deletion of a stored bitmap on remove. Storing on close and loading on open live in the qcow2
 * driver.
 */
final class PersistenceSupport {
  private PersistenceSupport() {}

  static void checkCanStore(BlockLayer layer, BlockNode node, String name, long granularity)
      throws QmpError {
    if (node.driver() instanceof QbmDriver && layer.variant(Variant.QBM)) {
      // proposal:qbm: any name and granularity; the bitmap gets its own file.
      if (node.bitmap(name) != null) {
        throw QmpError.generic("Bitmap already exists: " + name);
      }
      return;
    }
    if (!(node.driver() instanceof Qcow2Driver qcow2)) {
      throw QmpError.generic("Can't store persistent bitmaps to " + node.name()
          + ": Operation not supported");
    }
    if (node.bitmap(name) != null) {
      throw QmpError.generic("Bitmap already exists: " + name);
    }
    String problem = qcow2.canStoreNewBitmap(name, granularity);
    if (problem == null && layer.variant(Variant.IN_USE_BITMAP_NOT_LOADED)
        && storedNamed(qcow2, name)) {
      // Before 4.0 qcow2_can_store_new_dirty_bitmap looked the name up in the image's bitmap
      // directory, where an entry left in use (and so not loaded) still was.
      problem = "Bitmap with the same name is already stored";
    }
    if (problem != null) {
      throw QmpError.generic("Can't make bitmap '" + name + "' persistent in '" + node.name()
          + "': " + problem);
    }
  }

  private static boolean storedNamed(Qcow2Driver qcow2, String name) {
    try {
      return qcow2.image().bitmapDirectory().stream().anyMatch(e -> e.name().equals(name));
    } catch (HostIoException e) {
      // The directory was read at open; a failure to read it again is left to the store.
      return false;
    }
  }

  /**
   * Returns whether the image holds stored bitmaps but none of that name: the case that the 4.2
   * regression of {@code bug:remove-unstored-persistent-keeps-bitmap} answered with -EINVAL.
   */
  static boolean storedOthersOnly(BlockNode node, String name) throws QmpError {
    if (!(node.driver() instanceof Qcow2Driver qcow2)) {
      return false;
    }
    try {
      List<Qcow2Image.BitmapEntry> stored = qcow2.image().bitmapDirectory();
      return !stored.isEmpty() && stored.stream().noneMatch(e -> e.name().equals(name));
    } catch (HostIoException e) {
      throw QmpError.generic("Failed to update bitmap extension: "
          + HostIoException.strerror(e.errno()));
    }
  }

  /** Deletes the stored copy now (qcow2_co_remove_persistent_dirty_bitmap). */
  static void removeStored(BlockNode node, String name) throws QmpError {
    if (node.driver() instanceof QbmDriver qbm) {
      try {
        qbm.removeStoredBitmap(name);
      } catch (HostIoException e) {
        throw QmpError.generic("Failed to update QBM descriptor: "
            + HostIoException.strerror(e.errno()));
      }
      return;
    }
    if (node.driver() instanceof Qcow2Driver qcow2) {
      try {
        qcow2.removeStoredBitmap(name);
      } catch (HostIoException e) {
        throw QmpError.generic("Failed to update bitmap extension: "
            + HostIoException.strerror(e.errno()));
      }
    }
  }
}
