package io.blocksim.model.qmp;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeFilenames;
import io.blocksim.model.graph.NodeGraph;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code blockdev-add}, {@code blockdev-del}, {@code query-named-block-nodes}, {@code query-block}. */
public final class BlockdevCommands {
  private final BlockLayer layer;

  public BlockdevCommands(BlockLayer layer) {
    this.layer = layer;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("blockdev-add", this::blockdevAdd);
    handlers.put("blockdev-del", this::blockdevDel);
    handlers.put("query-named-block-nodes", this::queryNamedBlockNodes);
    handlers.put("query-block", args -> new ArrayList<>());
  }

  private Object blockdevAdd(Args args) throws QmpError {
    if (args.optEnum("driver", layer.driverNames()) == null) {
      throw args.missing("driver");
    }
    if (args.optStr("node-name") == null) {
      throw QmpError.generic("'node-name' must be specified for the root node");
    }
    layer.openMonitorOwned(args);
    return null;
  }

  private Object blockdevDel(Args args) throws QmpError {
    String name = args.str("node-name");
    args.checkNoExtra();
    BlockNode node = layer.graph().find(name);
    if (node == null) {
      throw QmpError.generic("Failed to find node with node-name='" + name + "'");
    }
    if (!node.users().isEmpty()) {
      throw QmpError.generic("Node " + name + " is in use");
    }
    if (node.blockingJobType() != null) {
      throw QmpError.generic("Node '" + name + "' is busy: block device is in use by block job: "
          + node.blockingJobType());
    }
    BlockNode overlay = backingOverlay(node);
    if (overlay != null) {
      // bdrv_backing_attach blocks most operations on a backing file, blockdev-del among them.
      throw QmpError.generic("Node '" + name + "' is busy: node is used as backing hd of '"
          + overlay.name() + "'");
    }
    if (!layer.graph().isMonitorOwned(node)) {
      throw QmpError.generic("Node " + name + " is not owned by the monitor");
    }
    if (!node.parents().isEmpty()) {
      throw QmpError.generic("Block device " + name + " is in use");
    }
    layer.graph().remove(node);
    layer.release(node);
    return null;
  }

  /**
   * Returns the newest node that has {@code node} as its backing file (a COW child: a filter's
   * child is not one), or null. QEMU's op blockers are checked newest first.
   */
  static BlockNode backingOverlay(BlockNode node) {
    List<BlockNode> parents = node.parents();
    for (int k = parents.size() - 1; k >= 0; k--) {
      BlockNode parent = parents.get(k);
      if (parent.backing() == node && !parent.driver().isFilter()) {
        return parent;
      }
    }
    return null;
  }

  private Object queryNamedBlockNodes(Args args) throws QmpError {
    boolean flat = Boolean.TRUE.equals(args.optBool("flat"));
    args.checkNoExtra();
    // QEMU prepends each node's info while walking its list, so the newest node comes first.
    List<Object> result = new ArrayList<>();
    NodeFilenames.Memo names = new NodeFilenames.Memo();
    for (BlockNode node : layer.graph().all()) {
      result.add(0, deviceInfo(node, flat, names));
    }
    return result;
  }

  /**
   * Returns the BlockDeviceInfo QEMU reports for a node (the members blocksim models); {@code
   * flat} leaves out the backing images and counts no depth (bdrv_block_device_info stops
   * gathering for flat output).
   */
  private Map<String, Object> deviceInfo(BlockNode node, boolean flat, NodeFilenames.Memo names) {
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("node-name", node.name());
    info.put("drv", node.driver().name());
    info.put("ro", node.readOnly());
    info.put("encrypted", false);
    info.put("detect_zeroes", "off");
    info.put("file", names.filename(node));
    int depth = 0;
    for (BlockNode b = flat ? null : filterOrCow(node); b != null; b = filterOrCow(b)) {
      depth++;
    }
    info.put("backing_file_depth", depth);
    // bdrv_block_device_info: the backing node's file name, when there is a backing node.
    if (node.backing() != null && !node.driver().isFilter()) {
      info.put("backing_file", names.filename(node.backing()));
    }
    for (String throttle : List.of("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr")) {
      info.put(throttle, 0);
    }
    info.put("write_threshold", 0);
    info.put("cache", Json.object("writeback", true, "direct", false, "no-flush", false));
    info.put("image", imageInfo(node, flat, names));
    List<Object> bitmaps = bitmapInfos(node);
    if (!bitmaps.isEmpty()) {
      info.put("dirty-bitmaps", bitmaps);
    }
    return info;
  }

  /** Returns the ImageInfo of a node (bdrv_query_image_info), backing images included. */
  private static Map<String, Object> imageInfo(BlockNode node, boolean flat,
      NodeFilenames.Memo names) {
    Map<String, Object> image = new LinkedHashMap<>();
    image.put("virtual-size", node.length());
    image.put("filename", names.filename(node));
    image.put("format", node.driver().name());
    if (hasGetInfo(node)) {
      image.put("dirty-flag", false);
    }
    Long allocated = node.driver().allocatedFileSize(node);
    if (allocated != null) {
      image.put("actual-size", allocated);
    }
    node.driver().addImageInfo(image);
    // bdrv_block_device_info puts any filtered child here, else the backing (COW) child.
    BlockNode backing = filterOrCow(node);
    if (backing != null && !flat) {
      image.put("backing-image", imageInfo(backing, false, names));
    }
    return image;
  }

  /**
   * Whether bdrv_get_info succeeds (bdrv_query_image_info reports dirty-flag only then): file,
   * raw and qcow2 implement it, a filter without it asks its filtered child, the rest
   * (snapshot-access, null-co) fail with ENOTSUP.
   */
  private static boolean hasGetInfo(BlockNode node) {
    String drv = node.driver().name();
    if (drv.equals("file") || drv.equals("raw") || drv.equals("qcow2")) {
      return true;
    }
    if (node.driver().isFilter() && node.primaryChild() != null) {
      return hasGetInfo(node.primaryChild());
    }
    return false;
  }

  /** bdrv_filter_or_cow_bs: a filter's filtered child, else a format's backing node. */
  private static BlockNode filterOrCow(BlockNode node) {
    return node.driver().isFilter() ? node.primaryChild() : node.backing();
  }

  /** Returns the node's BlockDirtyInfo list in QEMU's order (newest first). */
  public static List<Object> bitmapInfos(BlockNode node) {
    List<Object> list = new ArrayList<>();
    for (DirtyBitmap b : node.bitmaps()) {
      Map<String, Object> m = new LinkedHashMap<>();
      if (b.name() != null) {
        m.put("name", b.name());
      }
      m.put("recording", b.recording());
      m.put("persistent", b.persistent());
      m.put("busy", b.busy());
      m.put("granularity", b.granularityBytes());
      m.put("count", b.countBytes());
      if (b.inconsistent()) {
        m.put("inconsistent", true);
      }
      if (b.slices() != null) {
        // proposal:bitmap-slices: the retention and the slices kept, oldest first.
        m.put("retention", (long) b.slices().retention());
        m.put("force-cycle", b.slices().forceCycle());
        m.put("dropped-slices", (long) b.slices().dropped());
        List<Object> slices = new ArrayList<>();
        for (io.blocksim.model.bitmap.BitmapSlices.Slice s : b.slices().slices()) {
          Map<String, Object> one = new LinkedHashMap<>();
          one.put("id", (long) s.id());
          one.put("count", s.bits().countBytes());
          slices.add(one);
        }
        m.put("slices", slices);
      }
      list.add(m);
    }
    return list;
  }
}
