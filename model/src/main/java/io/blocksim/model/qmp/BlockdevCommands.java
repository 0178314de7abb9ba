package io.blocksim.model.qmp;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.blkdebug.BlkdebugDriver;
import io.blocksim.model.driver.file.FileDriver;
import io.blocksim.model.driver.filter.CopyOnReadDriver;
import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.raw.RawDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeGraph;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code blockdev-add}, {@code blockdev-del}, {@code query-named-block-nodes}, {@code query-block}. */
public final class BlockdevCommands {
  /** Drivers that QEMU opens as protocols (bdrv_file_open): named before their children. */
  private static final List<String> PROTOCOL_DRIVERS = List.of("blkdebug", "file", "null-co");
  static final List<String> DRIVERS = List.of("blkdebug", "copy-on-read", "file", "null-co",
      "qcow2", "raw");
  private static final List<String> COMMON = List.of("driver", "node-name", "discard", "cache",
      "read-only", "auto-read-only", "force-share", "detect-zeroes");

  private final Engine engine;

  public BlockdevCommands(Engine engine) {
    this.engine = engine;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("blockdev-add", this::blockdevAdd);
    handlers.put("blockdev-del", this::blockdevDel);
    handlers.put("query-named-block-nodes", this::queryNamedBlockNodes);
    handlers.put("query-block", args -> new ArrayList<>());
  }

  private Object blockdevAdd(Args args) throws QmpError {
    args.optEnum("driver", DRIVERS);
    if (args.optStr("driver") == null) {
      throw args.missing("driver");
    }
    if (args.optStr("node-name") == null) {
      throw QmpError.generic("'node-name' must be specified for the root node");
    }
    List<BlockNode> created = new ArrayList<>();
    try {
      BlockNode node = open(args, null, created);
      engine.graph().setMonitorOwned(node);
    } catch (QmpError e) {
      for (int i = created.size() - 1; i >= 0; i--) {
        detach(created.get(i));
      }
      throw e;
    }
    return null;
  }

  /**
   * Opens a node from its options (recursively for inline children); {@code inherited} carries the
   * options a child inherits from its parent (discard).
   */
  public BlockNode open(Args args, Map<String, Object> inherited, List<BlockNode> created)
      throws QmpError {
    String driverName = args.optEnum("driver", DRIVERS);
    if (driverName == null) {
      throw args.missing("driver");
    }
    String nodeName = args.optStr("node-name");
    String discard = args.optEnum("discard", List.of("ignore", "unmap"));
    if (discard == null && inherited != null) {
      discard = (String) inherited.get("discard");
    }
    Boolean readOnly = args.optBool("read-only");
    args.optBool("auto-read-only");
    args.optBool("force-share");
    args.optEnum("detect-zeroes", List.of("off", "on", "unmap"));
    Args cache = args.optObject("cache");
    if (cache != null) {
      cache.optBool("direct");
      cache.optBool("no-flush");
      cache.checkNoExtra();
    }
    Map<String, Object> childInherit = new LinkedHashMap<>();
    if (discard != null) {
      childInherit.put("discard", discard);
    }
    if (nodeName != null) {
      if (!NodeGraph.wellFormed(nodeName)) {
        throw QmpError.generic("Invalid node-name: '" + nodeName + "'");
      }
    }

    if (nodeName != null && engine.graph().find(nodeName) != null) {
      throw QmpError.generic("Duplicate nodes with node-name='" + nodeName + "'");
    }
    // QEMU names a node (and puts it on the list query-named-block-nodes reports, newest first)
    // before opening the children of a protocol driver, but only after opening the file child of
    // a format driver, which it needs to probe; backing files come after their overlay.
    boolean protocol = PROTOCOL_DRIVERS.contains(driverName);
    BlockNode node = new BlockNode(
        nodeName == null && protocol ? engine.graph().generateName() : nodeName,
        nodeName == null, null);
    if (protocol) {
      engine.graph().add(node);
      created.add(node);
    } else {
      node.setOnFirstChild(() -> {
        if (nodeName == null) {
          node.assignGeneratedName(engine.graph().generateName());
        }
        engine.graph().add(node);
        created.add(node);
      });
    }
    switch (driverName) {
      case "file" -> openFile(args, node);
      case "raw" -> {
        BlockNode file = child(args, "file", true, childInherit, created);
        args.optInt("offset");
        args.optInt("size");
        node.setChild(BlockNode.FILE, file);
        node.setDriver(new RawDriver(file));
      }
      case "qcow2" -> Qcow2Driver.open(this, engine, args, node, childInherit, created);
      case "blkdebug" -> openBlkdebug(args, node, childInherit, created);
      case "copy-on-read" -> {
        BlockNode file = child(args, "file", true, childInherit, created);
        node.setChild(BlockNode.FILE, file);
        CopyOnReadDriver cor = new CopyOnReadDriver(file);
        cor.setPopulateDirties(engine.variant("bug:write-unchanged-dirties"));
        String bottom = args.optStr("bottom");
        if (bottom != null) {
          BlockNode bottomNode = engine.graph().find(bottom);
          if (bottomNode == null) {
            throw QmpError.generic("Bottom node '" + bottom + "' not found");
          }
          if (bottomNode.driver().isFilter()) {
            throw QmpError.generic("Bottom node '" + bottom + "' is a filter");
          }
          cor.setBottom(bottomNode);
        }
        node.setDriver(cor);
      }
      case "null-co" -> {
        long size = args.optInt("size") == null ? 1L << 30 : args.optInt("size");
        args.optBool("read-zeroes");
        args.optInt("latency-ns");
        node.setDriver(new io.blocksim.model.driver.file.NullDriver(size));
      }
      default -> throw io.blocksim.model.check.Check.unreachable("driver %s", driverName);
    }
    args.checkNoExtra();
    node.setDiscardUnmap("unmap".equals(discard));
    node.setReadOnly(Boolean.TRUE.equals(readOnly));
    node.setOptions(args.map());
    return node;
  }

  private void openFile(Args args, BlockNode node) throws QmpError {
    String filename = args.str("filename");
    args.optEnum("aio", List.of("threads", "native", "io_uring"));
    args.optEnum("locking", List.of("auto", "on", "off"));
    args.optStr("pr-manager");
    args.optBool("drop-cache");
    args.optBool("x-check-cache-dropped");
    args.optInt("aio-max-batch");
    HostFile file;
    try {
      file = engine.storage().open(filename);
    } catch (HostIoException e) {
      throw QmpError.generic("Could not open '" + filename + "': "
          + HostIoException.strerror(e.errno()));
    }
    node.setDriver(new FileDriver(file, filename));
  }

  private void openBlkdebug(Args args, BlockNode node, Map<String, Object> inherit,
      List<BlockNode> created) throws QmpError {
    BlockNode image = child(args, "image", true, inherit, created);
    args.optStr("config");
    args.optInt("align");
    args.optInt("max-transfer");
    args.optInt("opt-write-zero");
    args.optInt("max-write-zero");
    args.optInt("opt-discard");
    args.optInt("max-discard");
    args.optStr("take-child-perms");
    args.optStr("unshare-child-perms");
    List<BlkdebugDriver.Rule> inject = new ArrayList<>();
    List<Object> injectList = args.optList("inject-error");
    if (injectList != null) {
      for (int i = 0; i < injectList.size(); i++) {
        Args r = args.element("inject-error", injectList, i);
        String event = blkdebugEvent(r);
        long state = r.optInt("state") == null ? 0 : r.optInt("state");
        String iotype = r.optEnum("iotype", List.of("read", "write", "write-zeroes", "discard",
            "flush", "block-status"));
        long errno = r.optInt("errno") == null ? HostIoException.EIO : r.optInt("errno");
        long sector = r.optInt("sector") == null ? -1 : r.optInt("sector");
        boolean once = r.bool("once", false);
        boolean immediately = r.bool("immediately", false);
        r.checkNoExtra();
        int mask = iotype == null ? BlkdebugDriver.DEFAULT_IOTYPE_MASK : 1 << List.of("read",
            "write", "write-zeroes", "discard", "flush", "block-status").indexOf(iotype);
        inject.add(BlkdebugDriver.Rule.inject(event, state, (int) errno, sector, once,
            immediately, mask));
      }
    }
    List<BlkdebugDriver.Rule> setState = new ArrayList<>();
    List<Object> stateList = args.optList("set-state");
    if (stateList != null) {
      for (int i = 0; i < stateList.size(); i++) {
        Args r = args.element("set-state", stateList, i);
        String event = blkdebugEvent(r);
        long state = r.optInt("state") == null ? 0 : r.optInt("state");
        long newState = r.integer("new_state");
        r.checkNoExtra();
        setState.add(BlkdebugDriver.Rule.setState(event, state, newState));
      }
    }
    node.setChild(BlockNode.IMAGE, image);
    node.setDriver(new BlkdebugDriver(image, inject, setState));
  }

  private static String blkdebugEvent(Args r) throws QmpError {
    String event = r.optEnum("event", BLKDEBUG_EVENTS);
    if (event == null) {
      throw r.missing("event");
    }
    return event;
  }

  static final List<String> BLKDEBUG_EVENTS = List.of("l1_update", "l1_grow_alloc_table",
      "l1_grow_write_table", "l1_grow_activate_table", "l2_load", "l2_update",
      "l2_update_compressed", "l2_alloc_cow_read", "l2_alloc_write", "read_aio",
      "read_backing_aio", "read_compressed", "write_aio", "write_compressed", "vmstate_load",
      "vmstate_save", "cow_read", "cow_write", "reftable_load", "reftable_grow",
      "reftable_update", "refblock_load", "refblock_update", "refblock_update_part",
      "refblock_alloc", "refblock_alloc_hookup", "refblock_alloc_write",
      "refblock_alloc_write_blocks", "refblock_alloc_write_table", "refblock_alloc_switch_table",
      "cluster_alloc", "cluster_alloc_bytes", "cluster_free", "flush_to_os", "flush_to_disk",
      "pwritev_rmw_head", "pwritev_rmw_after_head", "pwritev_rmw_tail", "pwritev_rmw_after_tail",
      "pwritev", "pwritev_zero", "pwritev_done", "empty_image_prepare", "l1_shrink_write_table",
      "l1_shrink_free_l2_clusters", "cor_write", "cluster_alloc_space", "none");

  /**
   * Resolves a child reference: a string names an existing node, an object defines a new one.
   * Returns null when absent and not required; {@code "backing": null} is handled by the caller.
   */
  public BlockNode child(Args args, String key, boolean required, Map<String, Object> inherit,
      List<BlockNode> created) throws QmpError {
    Object ref = args.get(key);
    if (ref == null) {
      if (required) {
        throw args.missing(key);
      }
      return null;
    }
    if (ref instanceof String name) {
      BlockNode node = engine.graph().find(name);
      if (node == null) {
        throw QmpError.generic("Cannot find device='" + name + "' nor node-name='" + name + "'");
      }
      return node;
    }
    Args childArgs = args.optObject(key);
    return open(childArgs, inherit, created);
  }

  private Object blockdevDel(Args args) throws QmpError {
    String name = args.str("node-name");
    args.checkNoExtra();
    BlockNode node = engine.graph().find(name);
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
    if (!engine.graph().isMonitorOwned(node)) {
      throw QmpError.generic("Node " + name + " is not owned by the monitor");
    }
    if (!node.parents().isEmpty()) {
      throw QmpError.generic("Block device " + name + " is in use");
    }
    engine.graph().remove(node);
    release(node);
    return null;
  }

  /**
   * Returns the newest node that has {@code node} as its backing file (a COW child: a filter's
   * child is not one), or null. QEMU's op blockers are checked newest first.
   */
  private static BlockNode backingOverlay(BlockNode node) {
    List<BlockNode> parents = node.parents();
    for (int k = parents.size() - 1; k >= 0; k--) {
      BlockNode parent = parents.get(k);
      if (parent.backing() == node && !parent.driver().isFilter()) {
        return parent;
      }
    }
    return null;
  }

  /** Closes a node that lost its last reference, and its children that lose theirs. */
  public void release(BlockNode node) {
    try {
      node.driver().close(node);
    } catch (HostIoException e) {
      // QEMU reports close-time write-back failures only to stderr; the node goes regardless.
    }
    engine.graph().remove(node);
    for (Map.Entry<String, BlockNode> e : new ArrayList<>(node.children().entrySet())) {
      BlockNode child = e.getValue();
      node.setChild(e.getKey(), null);
      if (child.parents().isEmpty() && child.users().isEmpty()
          && !engine.graph().isMonitorOwned(child)) {
        release(child);
      }
    }
  }

  private void detach(BlockNode node) {
    engine.graph().remove(node);
    for (String role : new ArrayList<>(node.children().keySet())) {
      node.setChild(role, null);
    }
  }

  private Object queryNamedBlockNodes(Args args) throws QmpError {
    args.optBool("flat");
    args.checkNoExtra();
    // QEMU prepends each node's info while walking its list, so the newest node comes first.
    List<Object> result = new ArrayList<>();
    for (BlockNode node : engine.graph().all()) {
      result.add(0, deviceInfo(node));
    }
    return result;
  }

  /** Returns the BlockDeviceInfo QEMU reports for a node (the members blocksim models). */
  Map<String, Object> deviceInfo(BlockNode node) {
    Map<String, Object> info = new LinkedHashMap<>();
    info.put("node-name", node.name());
    info.put("drv", node.driver().name());
    info.put("ro", node.readOnly());
    info.put("encrypted", false);
    info.put("detect_zeroes", "off");
    info.put("file", filename(node));
    int depth = 0;
    for (BlockNode b = node.backing(); b != null; b = b.backing()) {
      depth++;
    }
    info.put("backing_file_depth", depth);
    if (node.backingFileName() != null) {
      info.put("backing_file", node.backingFileName());
    }
    for (String throttle : List.of("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr")) {
      info.put(throttle, 0);
    }
    info.put("write_threshold", 0);
    info.put("cache", Json.object("writeback", true, "direct", false, "no-flush", false));
    info.put("image", imageInfo(node));
    List<Object> bitmaps = bitmapInfos(node);
    if (!bitmaps.isEmpty()) {
      info.put("dirty-bitmaps", bitmaps);
    }
    return info;
  }

  /** Returns the ImageInfo of a node (bdrv_query_image_info), backing images included. */
  private static Map<String, Object> imageInfo(BlockNode node) {
    Map<String, Object> image = new LinkedHashMap<>();
    image.put("virtual-size", node.length());
    image.put("filename", filename(node));
    image.put("format", node.driver().name());
    image.put("dirty-flag", false);
    Long allocated = allocatedFileSize(node);
    if (allocated != null) {
      image.put("actual-size", allocated);
    }
    if (node.driver() instanceof Qcow2Driver qcow2) {
      image.put("cluster-size", qcow2.clusterSize());
      Map<String, Object> data = new LinkedHashMap<>();
      if (qcow2.version() < 3) {
        data.put("compat", "0.10");
        data.put("refcount-bits", qcow2.image().refcountBits());
      } else {
        data.put("compat", "1.1");
        data.put("compression-type", "zlib");
        data.put("lazy-refcounts", false);
        data.put("refcount-bits", qcow2.image().refcountBits());
        if (qcow2.image().dataFileName() != null) {
          data.put("data-file", qcow2.image().dataFileName());
        }
        if (qcow2.image().hasDataFile()) {
          data.put("data-file-raw", qcow2.image().dataFileIsRaw());
        }
        data.put("corrupt", false);
        data.put("extended-l2", false);
      }
      image.put("format-specific", Json.object("type", "qcow2", "data", data));
      if (qcow2.image().backingFileName() != null) {
        image.put("backing-filename", qcow2.image().backingFileName());
        image.put("full-backing-filename", qcow2.image().backingFileName());
        if (qcow2.image().backingFormat() != null) {
          image.put("backing-filename-format", qcow2.image().backingFormat());
        }
      }
    }
    BlockNode backing = node.backing();
    if (backing != null) {
      image.put("backing-image", imageInfo(backing));
    }
    return image;
  }

  /**
   * Returns what bdrv_get_allocated_file_size reports: the host allocation for a file node, the
   * sum over the storage children for a format node, nothing for blkdebug (no such callback).
   */
  private static Long allocatedFileSize(BlockNode node) {
    if (node.driver() instanceof FileDriver f) {
      return f.hostFile().allocatedBytes();
    }
    if (node.driver().name().equals("blkdebug") || node.driver().name().equals("null-co")) {
      return null;
    }
    if (node.driver().isFilter()) {
      BlockNode child = node.primaryChild();
      return child == null ? null : allocatedFileSize(child);
    }
    BlockNode file = node.child(BlockNode.FILE);
    Long size = file == null ? null : allocatedFileSize(file);
    BlockNode dataFile = node.child(Qcow2Driver.DATA_FILE);
    Long dataSize = dataFile == null ? null : allocatedFileSize(dataFile);
    if (size != null && dataSize != null) {
      size += dataSize;
    }
    return size;
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
      list.add(m);
    }
    return list;
  }

  private static String filename(BlockNode node) {
    for (BlockNode n = node; n != null; n = n.primaryChild()) {
      if (n.driver() instanceof FileDriver f) {
        return f.filename();
      }
    }
    return "";
  }
}
