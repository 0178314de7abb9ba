package io.blocksim.model.qmp;

import io.blocksim.model.bitmap.BitmapSlices;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.semantics.Variant;
import java.util.Map;

/**
 * proposal:bitmap-slices (docs/variants.md): {@code block-dirty-bitmap-set-retention {node, name,
 * slices, force-cycle?}}. QEMU 7.2 has no such command, so without the variant it answers as QEMU
 * does for any unknown command. The error texts are blocksim's (the thread proposed none), except
 * the lookup's, which are block_dirty_bitmap_lookup's.
 */
final class SliceCommands {
  static final String SET_RETENTION = "block-dirty-bitmap-set-retention";
  private final BlockLayer layer;

  SliceCommands(BlockLayer layer) {
    this.layer = layer;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put(SET_RETENTION, this::setRetention);
  }

  private Object setRetention(Args args) throws QmpError {
    if (!layer.variant(Variant.BITMAP_SLICES)) {
      throw new QmpError(QmpError.COMMAND_NOT_FOUND,
          "The command " + SET_RETENTION + " has not been found");
    }
    String nodeName = args.str("node");
    String name = args.str("name");
    Long slices = args.optUnsigned("slices", 32);
    if (slices == null) {
      throw args.missing("slices");
    }
    boolean forceCycle = args.bool("force-cycle", false);
    args.checkNoExtra();
    BlockNode node = layer.graph().find(nodeName);
    if (node == null) {
      throw QmpError.generic("Node '" + nodeName + "' not found");
    }
    DirtyBitmap bitmap = node.bitmap(name);
    if (bitmap == null) {
      throw QmpError.generic("Dirty bitmap '" + name + "' not found");
    }
    String refusal = bitmap.checkUsable(DirtyBitmap.CHECK_BUSY | DirtyBitmap.CHECK_INCONSISTENT);
    if (refusal != null) {
      throw QmpError.generic(refusal);
    }
    if (slices > Integer.MAX_VALUE) {
      throw QmpError.generic("Parameter 'slices' expects a value of at most " + Integer.MAX_VALUE);
    }
    BitmapSlices kept = bitmap.slicesCreating();
    int count = kept.slices().size();
    if (count > slices && !forceCycle) {
      throw QmpError.generic("Bitmap '" + name + "' keeps " + count + " slices, more than the"
          + " retention of " + slices + "; use force-cycle to drop the oldest");
    }
    int dropped = kept.setRetention(slices.intValue(), forceCycle);
    return Json.object("dropped-slices", (long) dropped);
  }
}
