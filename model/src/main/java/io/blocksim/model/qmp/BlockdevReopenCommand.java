package io.blocksim.model.qmp;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.Reopen;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * {@code blockdev-reopen} (qmp_blockdev_reopen): every listed node is reopened with the options
 * given, which replace the old ones (unspecified options return to their defaults). blocksim
 * models the switch between read-only and read-write ({@link Reopen}); the same file and
 * backing children may be named again. Changing anything else is refused with QEMU's message
 * where QEMU refuses too, and with a message naming what blocksim does not model otherwise
 * (docs/qemu-behaviour.md §14.3).
 */
final class BlockdevReopenCommand {
  /** Options whose value says nothing about what the node is (compared elsewhere or ignored). */
  private static final Set<String> HANDLED = Set.of("node-name", "driver", "read-only", "file",
      "backing");

  private final BlockLayer layer;

  BlockdevReopenCommand(BlockLayer layer) {
    this.layer = layer;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("blockdev-reopen", this::blockdevReopen);
  }

  private Object blockdevReopen(Args args) throws QmpError {
    List<Object> list = args.optList("options");
    if (list == null) {
      throw args.missing("options");
    }
    args.checkNoExtra();
    Map<BlockNode, Boolean> requested = new LinkedHashMap<>();
    Map<BlockNode, Args> options = new LinkedHashMap<>();
    for (int i = 0; i < list.size(); i++) {
      Args o = args.element("options", list, i);
      if (o.optEnum("driver", layer.driverNames()) == null) {
        throw o.missing("driver");
      }
      String nodeName = o.optStr("node-name");
      if (nodeName == null) {
        throw QmpError.generic("node-name not specified");
      }
      BlockNode node = layer.graph().find(nodeName);
      if (node == null) {
        throw QmpError.generic("Failed to find node with node-name='" + nodeName + "'");
      }
      requested.put(node, o.bool("read-only", false));
      options.put(node, o);
    }
    Reopen.reopen(layer, requested, node -> {
      if (options.containsKey(node)) {
        checkOptions(node, options.get(node));
      } else {
        checkImplicitChild(node, options);
      }
    });
    return null;
  }

  /** bdrv_reopen_prepare's checks of the new options against the node. */
  private void checkOptions(BlockNode node, Args o) throws QmpError {
    if (!o.map().get("driver").equals(node.driver().name())) {
      throw QmpError.generic("Cannot change the option 'driver'");
    }
    checkUnchanged(node.options(), o.map(), "");
    boolean hasBacking = node.backing() != null || node.backingFileName() != null;
    if (!o.has("backing")) {
      if (node.driver().supportsBacking() && hasBacking) {
        throw QmpError.generic("backing is missing for '" + node.name() + "'");
      }
    } else {
      Object ref = o.get("backing");
      // bdrv_reopen_parse_file_or_backing: implicit filters (a job's) are looked through.
      BlockNode backing = node.backing();
      while (backing != null && backing.autoNamed() && backing.driver().isFilter()) {
        backing = backing.primaryChild();
      }
      String current = backing == null ? null : backing.name();
      if (!Objects.equals(ref, current)) {
        throw QmpError.generic("Parameter 'backing' is not modelled by blocksim (blockdev-reopen"
            + " of '" + node.name() + "' may only name its current backing file)");
      }
    }
    Object file = o.get("file");
    BlockNode child = node.child(BlockNode.FILE);
    if (file instanceof String name) {
      if (child == null || !name.equals(child.name())) {
        throw QmpError.generic("Parameter 'file' is not modelled by blocksim (blockdev-reopen of '"
            + node.name() + "' may only name its current file)");
      }
    } else if (file instanceof Map<?, ?> map && child != null) {
      @SuppressWarnings("unchecked")
      Map<String, Object> childOptions = (Map<String, Object>) map;
      if (!Objects.equals(childOptions.get("driver"), child.driver().name())) {
        throw QmpError.generic("Cannot change the option 'driver'");
      }
      checkUnchanged(child.options(), childOptions, "file.");
    }
  }

  /**
   * A data file opened from the image header is an implicit child: bdrv_reopen_queue_child
   * queues it with the options under "data-file" - none when the reopen names no data-file -
   * and bdrv_reset_options_allowed refuses its 'driver' going back to a default, when its turn
   * in the queue comes (after its parent's prepare).
   */
  private static void checkImplicitChild(BlockNode node, Map<BlockNode, Args> options)
      throws QmpError {
    for (BlockNode parent : node.parents()) {
      Args o = options.get(parent);
      if (o != null && parent.child(io.blocksim.model.driver.Qcow2Driver.DATA_FILE) == node
          && node.autoNamed() && !o.has(io.blocksim.model.driver.Qcow2Driver.DATA_FILE)) {
        throw QmpError.generic("Option 'driver' cannot be reset to its default value");
      }
    }
  }

  /**
   * The options other than those a reopen handles must equal the node's current ones (absent
   * ones return to their defaults, which blocksim does not model unless they were absent
   * before too).
   */
  private static void checkUnchanged(Map<String, Object> before, Map<String, Object> after,
      String prefix) throws QmpError {
    Set<String> keys = new TreeSet<>();
    keys.addAll(before == null ? List.of() : before.keySet());
    keys.addAll(after.keySet());
    for (String key : new ArrayList<>(keys)) {
      if (HANDLED.contains(key)) {
        continue;
      }
      Object old = before == null ? null : before.get(key);
      Object now = after.get(key);
      if (!Objects.equals(old, now)) {
        throw QmpError.generic("Parameter '" + prefix + key + "' is not modelled by blocksim"
            + " (blockdev-reopen changes only 'read-only')");
      }
    }
  }
}
