package io.blocksim.model.qmp;

import io.blocksim.model.semantics.Variant;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.bitmap.HBitmap;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import java.util.List;
import java.util.Map;

/**
 * The dirty-bitmap QMP commands and their transaction actions, with QEMU 7.2's checks in QEMU's
 * order (docs/qemu-behaviour.md §3, §4). A plain command is its action prepared and committed.
 */
public final class BitmapCommands {
  private final BlockLayer layer;

  public BitmapCommands(BlockLayer layer) {
    this.layer = layer;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    for (String type : List.of("block-dirty-bitmap-add", "block-dirty-bitmap-remove",
        "block-dirty-bitmap-clear", "block-dirty-bitmap-enable", "block-dirty-bitmap-disable",
        "block-dirty-bitmap-merge")) {
      handlers.put(type, args -> {
        TransactionAction action = action(type, args, false);
        action.prepare();
        action.commit();
        action.clean();
        return null;
      });
    }
    handlers.put("x-debug-block-dirty-bitmap-sha256", args -> {
      DirtyBitmap bitmap = lookup(args).bitmap;
      args.checkNoExtra();
      return Json.object("sha256", bitmap.sha256Hex());
    });
  }

  /** Returns the action for a bitmap transaction type, or null if the type is not a bitmap one. */
  TransactionAction action(String type, Args args, boolean inTransaction) {
    return switch (type) {
      case "block-dirty-bitmap-add" -> new Add(args);
      case "block-dirty-bitmap-remove" -> new Remove(args);
      case "block-dirty-bitmap-clear" -> new Clear(args);
      case "block-dirty-bitmap-enable" -> new Toggle(args, false);
      case "block-dirty-bitmap-disable" -> new Toggle(args, true);
      case "block-dirty-bitmap-merge" -> new Merge(args);
      default -> null;
    };
  }

  private record Found(BlockNode node, DirtyBitmap bitmap) {}

  /** block_dirty_bitmap_lookup: {@code Node 'X' not found}, {@code Dirty bitmap 'N' not found}. */
  private Found lookup(Args args) throws QmpError {
    String nodeName = args.str("node");
    String name = args.str("name");
    return lookup(nodeName, name);
  }

  private Found lookup(String nodeName, String name) throws QmpError {
    BlockNode node = layer.graph().find(nodeName);
    if (node == null) {
      throw QmpError.generic("Node '" + nodeName + "' not found");
    }
    DirtyBitmap bitmap = node.bitmap(name);
    if (bitmap == null) {
      throw QmpError.generic("Dirty bitmap '" + name + "' not found");
    }
    return new Found(node, bitmap);
  }

  private static void check(DirtyBitmap bitmap, int flags) throws QmpError {
    String error = bitmap.checkUsable(flags);
    if (error != null) {
      throw QmpError.generic(error);
    }
  }

  private final class Add implements TransactionAction {
    private final Args args;
    private BlockNode node;
    private String name;
    private DirtyBitmap created;

    Add(Args args) {
      this.args = args;
    }

    @Override
    public void prepare() throws QmpError {
      String nodeName = args.str("node");
      name = args.str("name");
      Long granularity = args.optUnsigned("granularity", 32);
      boolean persistent = args.bool("persistent", false);
      boolean disabled = args.bool("disabled", false);
      args.checkNoExtra();
      if (name.isEmpty()) {
        throw QmpError.generic("Bitmap name cannot be empty");
      }
      node = layer.graph().find(nodeName);
      if (node == null) {
        throw QmpError.generic(
            "Cannot find device='" + nodeName + "' nor node-name='" + nodeName + "'");
      }
      long granularityBytes;
      if (granularity != null) {
        if (!DirtyBitmap.isValidGranularity(granularity)) {
          throw QmpError.generic("Granularity must be power of 2 and at least 512");
        }
        granularityBytes = granularity;
      } else {
        granularityBytes = DirtyBitmap.defaultGranularityBytes(node.driver().clusterSize());
      }
      if (persistent) {
        PersistenceSupport.checkCanStore(layer, node, name, granularityBytes);
      }
      if (node.bitmap(name) != null) {
        throw QmpError.generic("Bitmap already exists: " + name);
      }
      if (DirtyBitmap.isNameTooLong(name) && !layer.variant(Variant.LONG_TRANSIENT_BITMAP_NAME)) {
        throw QmpError.generic("Bitmap name too long: " + name);
      }
      created = new DirtyBitmap(name, node.length(), granularityBytes);
      created.setPersistent(persistent);
      created.setDisabled(disabled);
      node.bitmaps().add(0, created);
    }

    /**
     * block_dirty_bitmap_add_abort removes the bitmap by name, whichever object has the name by
     * then: a backup of the same transaction aborted before it (aborts run in reverse) may have
     * handed the name to its successor (bitmap-mode always).
     */
    @Override
    public void abort() {
      if (created != null) {
        node.bitmaps().remove(node.bitmap(name));
      }
    }
  }

  private final class Remove implements TransactionAction {
    private final Args args;
    private Found found;

    Remove(Args args) {
      this.args = args;
    }

    @Override
    public void prepare() throws QmpError {
      found = lookup(args);
      args.checkNoExtra();
      check(found.bitmap, DirtyBitmap.CHECK_BUSY | DirtyBitmap.CHECK_READONLY);
      if (found.bitmap.persistent()
          && layer.variant(Variant.REMOVE_UNSTORED_PERSISTENT_KEEPS_BITMAP)
          && PersistenceSupport.storedOthersOnly(found.node, found.bitmap.name())) {
        // -EINVAL without an error message: the command succeeds and nothing is removed.
        found = null;
        return;
      }
      if (found.bitmap.persistent()) {
        // QEMU deletes the stored copy now; an aborted transaction does not bring it back.
        PersistenceSupport.removeStored(found.node, found.bitmap.name());
      }
      found.bitmap.setBusy(true);
      found.bitmap.setSkipStore(true);
    }

    @Override
    public void commit() {
      if (found == null) {
        return;
      }
      found.bitmap.setBusy(false);
      found.node.bitmaps().remove(found.bitmap);
    }

    @Override
    public void abort() {
      if (found != null && found.bitmap.busy()) {
        found.bitmap.setBusy(false);
        found.bitmap.setSkipStore(false);
      }
    }
  }

  private final class Clear implements TransactionAction {
    private final Args args;
    private DirtyBitmap bitmap;
    private HBitmap backup;

    Clear(Args args) {
      this.args = args;
    }

    @Override
    public void prepare() throws QmpError {
      bitmap = lookup(args).bitmap;
      args.checkNoExtra();
      check(bitmap, DirtyBitmap.CHECK_DEFAULT);
      backup = bitmap.clearKeepingBackup();
    }

    @Override
    public void abort() {
      if (backup != null) {
        bitmap.restore(backup);
      }
    }
  }

  private final class Toggle implements TransactionAction {
    private final Args args;
    private final boolean disable;
    private DirtyBitmap bitmap;
    /** QEMU's was_enabled: false until prepare gets past its checks. */
    private boolean wasEnabled;

    Toggle(Args args, boolean disable) {
      this.args = args;
      this.disable = disable;
    }

    @Override
    public void prepare() throws QmpError {
      bitmap = lookup(args).bitmap;
      args.checkNoExtra();
      check(bitmap, DirtyBitmap.CHECK_ALLOW_RO);
      wasEnabled = bitmap.enabled();
      bitmap.setDisabled(disable);
    }

    /**
     * block_dirty_bitmap_enable_abort / _disable_abort. QEMU aborts the action whose prepare
     * failed too, with was_enabled still false: an enable refused for a busy bitmap disables it
     * (a frozen one already is), a refused disable leaves it alone. (Without a bitmap QEMU 7.2
     * crashes here; the simulator does nothing.)
     */
    @Override
    public void abort() {
      if (bitmap == null) {
        return;
      }
      if (disable && wasEnabled) {
        bitmap.setDisabled(false);
      } else if (!disable && !wasEnabled) {
        bitmap.setDisabled(true);
      }
    }
  }




  private final class Merge implements TransactionAction {
    private final Args args;
    private DirtyBitmap target;
    private HBitmap backup;

    Merge(Args args) {
      this.args = args;
    }

    @Override
    public void prepare() throws QmpError {
      Found dst = lookup(args.str("node"), args.str("target"));
      List<Object> sources = args.optList("bitmaps");
      if (sources == null) {
        throw args.missing("bitmaps");
      }
      args.checkNoExtra();
      // 7.2's block_dirty_bitmap_merge looks each source up and merges it straight into the
      // target (bdrv_merge_dirty_bitmap checks the target first, then the source), so the
      // target's own checks come right after the first source's lookup; the sources are
      // gathered in a scratch bitmap here, which gives the same result.
      DirtyBitmap scratch = new DirtyBitmap(null, dst.node.length(),
          dst.bitmap.granularityBytes());
      for (int i = 0; i < sources.size(); i++) {
        Object source = sources.get(i);
        DirtyBitmap src;
        if (source instanceof String name) {
          src = dst.node.bitmap(name);
          if (src == null) {
            throw QmpError.generic("Dirty bitmap '" + name + "' not found");
          }
        } else {
          Args external = args.element("bitmaps", sources, i);
          String node = external.str("node");
          String name = external.str("name");
          external.checkNoExtra();
          src = lookup(node, name).bitmap;
        }
        if (i == 0) {
          String refused = dst.bitmap.checkMergeFrom(scratch);
          if (refused != null) {
            throw QmpError.generic(refused);
          }
        }
        String error = scratch.checkMergeFrom(src, layer.variant(Variant.MERGE_BUSY_SOURCE),
            layer.variant(Variant.MERGE_GRANULARITY_REFUSED));
        if (error != null) {
          throw QmpError.generic(error);
        }
        scratch.mergeFrom(src, false);
      }
      String error = dst.bitmap.checkMergeFrom(scratch);
      if (error != null) {
        throw QmpError.generic(error);
      }
      target = dst.bitmap;
      backup = target.mergeFrom(scratch, true, layer.variant(Variant.MERGE_EMPTY_SOURCE_CLEARS));
    }

    @Override
    public void abort() {
      if (backup != null) {
        target.restore(backup);
      }
    }
  }
}
