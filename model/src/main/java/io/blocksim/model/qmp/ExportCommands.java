package io.blocksim.model.qmp;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeGraph;
import io.blocksim.model.graph.Permissions;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The NBD server and its block exports: {@code nbd-server-start}, {@code nbd-server-stop},
 * {@code block-export-add} (type nbd), {@code block-export-del}, {@code query-block-exports}
 * (blockdev-nbd.c, block/export/export.c blk_exp_add, nbd/server.c nbd_export_create). An export
 * is a BlockBackend on its node (consistent read, and write when writable), attached and detached
 * in a drained section; the bitmaps it exposes as {@code qemu:dirty-bitmap:NAME} meta contexts are
 * busy while it exists. No client connects in the simulator, so an export goes as soon as it is
 * deleted.
 */
public final class ExportCommands {
  /** One export: what blocksim keeps of QEMU's BlockExport and NBDExport. */
  public record Export(String id, String name, BlockNode node, boolean writable,
      List<DirtyBitmap> bitmaps, List<String> bitmapNames) {
    /**
     * The BlockBackend name the export holds on its node (an entry of {@code users()}); a
     * writable export's ends in ":write" (it holds the write permission: Reopen reads it).
     */
    String backend() {
      return Permissions.EXPORT_USER + id + (writable ? ":write" : "");
    }
  }

  private final BlockLayer layer;
  private final JobManager jobs;
  private final List<Export> exports = new ArrayList<>();
  private boolean serverRunning;

  public ExportCommands(BlockLayer layer, JobManager jobs) {
    this.layer = layer;
    this.jobs = jobs;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("nbd-server-start", this::serverStart);
    handlers.put("nbd-server-stop", this::serverStop);
    handlers.put("block-export-add", this::exportAdd);
    handlers.put("block-export-del", this::exportDel);
    handlers.put("query-block-exports", this::queryExports);
  }

  /** Returns the export with that NBD name, or null. */
  public Export find(String name) {
    for (Export e : exports) {
      if (e.name().equals(name)) {
        return e;
      }
    }
    return null;
  }

  private Object serverStart(Args args) throws QmpError {
    Args addr = args.optObject("addr");
    if (addr == null) {
      throw args.missing("addr");
    }
    String type = addr.optEnum("type", List.of("inet", "unix", "vsock", "fd"));
    if (type == null) {
      throw addr.missing("type");
    }
    if (addr.optObject("data") == null) {
      throw addr.missing("data");
    }
    addr.checkNoExtra();
    args.unmodelled("tls-creds", args.optStr("tls-creds"));
    args.unmodelled("tls-authz", args.optStr("tls-authz"));
    // A limit on clients (NBD_DEFAULT_MAX_CONNECTIONS is 100, 0 none) is never reached: every
    // NBD client of a case (an io or nbd-map step) connects and disconnects within its step.
    args.optUnsigned("max-connections", 32);
    args.checkNoExtra();
    if (serverRunning) {
      throw QmpError.generic("NBD server already running");
    }
    serverRunning = true;
    return null;
  }

  private Object serverStop(Args args) throws QmpError {
    args.checkNoExtra();
    if (!serverRunning) {
      throw QmpError.generic("NBD server not running");
    }
    // blk_exp_close_all_type: every NBD export goes, oldest first.
    for (Export e : new ArrayList<>(exports)) {
      remove(e);
    }
    serverRunning = false;
    return null;
  }

  private Object exportAdd(Args args) throws QmpError {
    String type = args.optEnum("type", List.of("nbd", "vhost-user-blk", "fuse", "vduse-blk"));
    if (type == null) {
      throw args.missing("type");
    }
    String id = args.str("id");
    // fixed-iothread only says what to do when the move to 'iothread' fails (blk_exp_add).
    args.optBool("fixed-iothread");
    args.unmodelled("iothread", args.optStr("iothread"));
    String nodeName = args.str("node-name");
    Boolean writableArg = args.optBool("writable");
    args.unmodelled("writethrough", args.optBool("writethrough"), false);
    String name = args.optStr("name");
    args.unmodelled("description", args.optStr("description"));
    List<Object> bitmapArgs = args.optList("bitmaps");
    boolean allocationDepth = args.bool("allocation-depth", false);
    args.checkNoExtra();
    if (!type.equals("nbd")) {
      throw QmpError.generic("blocksim models only NBD exports, not '" + type + "'");
    }
    if (allocationDepth) {
      throw QmpError.generic("blocksim does not model the qemu:allocation-depth context");
    }
    if (!NodeGraph.wellFormed(id)) {
      throw QmpError.generic("Invalid block export id");
    }
    for (Export e : exports) {
      if (e.id().equals(id)) {
        throw QmpError.generic("Block export id '" + id + "' is already in use");
      }
    }
    BlockNode node = layer.graph().find(nodeName);
    if (node == null) {
      throw QmpError.generic("Cannot find device='' nor node-name='" + nodeName + "'");
    }
    boolean writable = Boolean.TRUE.equals(writableArg);
    if (node.readOnly() && writable) {
      throw QmpError.generic("Cannot export read-only node as writable");
    }
    String conflict = Permissions.attachConflict(node, writable);
    if (conflict != null) {
      throw QmpError.generic(conflict);
    }
    // blk_insert_bs, then nbd_export_create's blk_set_perm (no resize shared): the export's
    // permissions reach the node's files, whose image locks test the other file nodes'.
    String probe = Permissions.EXPORT_USER + id + (writable ? ":write" : "");
    node.users().add(probe);
    try {
      layer.checkLocks(null, List.of());
    } finally {
      node.users().remove(probe);
    }
    // blk_insert_bs attaches the BlockBackend in a drained section; a failure later detaches it
    // in another.
    jobs.drain(node);
    try {
      if (!serverRunning) {
        throw QmpError.generic("NBD server not running");
      }
      String exportName = name == null ? nodeName : name;
      if (find(exportName) != null) {
        throw QmpError.generic("NBD server already has export named '" + exportName + "'");
      }
      List<DirtyBitmap> bitmaps = new ArrayList<>();
      List<String> names = new ArrayList<>();
      if (bitmapArgs != null) {
        for (int i = 0; i < bitmapArgs.size(); i++) {
          DirtyBitmap bm = exportedBitmap(args, bitmapArgs, i, node, writable);
          String refusal = bm.checkUsable(DirtyBitmap.CHECK_ALLOW_RO);
          if (refusal != null) {
            throw QmpError.generic(refusal);
          }
          bitmaps.add(bm);
          names.add(bm.name());
        }
      }
      for (DirtyBitmap bm : bitmaps) {
        bm.setBusy(true);
      }
      Export export = new Export(id, exportName, node, writable, bitmaps, names);
      exports.add(export);
      node.users().add(export.backend());
    } catch (QmpError e) {
      jobs.drain(node);
      throw e;
    }
    return null;
  }

  /**
   * A bitmap of the bitmaps list: a name is looked up on the node and down its chain of filtered
   * and backing children; {@code {node, name}} names a bitmap anywhere.
   */
  private DirtyBitmap exportedBitmap(Args args, List<Object> list, int i, BlockNode node,
      boolean writable) throws QmpError {
    if (list.get(i) instanceof String name) {
      for (BlockNode bs = node; bs != null; bs = filterOrCow(bs)) {
        DirtyBitmap bm = bs.bitmap(name);
        if (bm != null) {
          if (!writable && !bs.readOnly() && bm.enabled()) {
            throw QmpError.generic("Enabled bitmap '" + name
                + "' incompatible with readonly export");
          }
          return bm;
        }
      }
      throw QmpError.generic("Bitmap '" + name + "' is not found");
    }
    Args external = args.element("bitmaps", list, i);
    String bmNode = external.str("node");
    String bmName = external.str("name");
    external.checkNoExtra();
    BlockNode owner = layer.graph().find(bmNode);
    if (owner == null) {
      throw QmpError.generic("Cannot find device='" + bmNode + "' nor node-name='" + bmNode
          + "'");
    }
    DirtyBitmap bm = owner.bitmap(bmName);
    if (bm == null) {
      throw QmpError.generic("Dirty bitmap '" + bmName + "' not found");
    }
    return bm;
  }

  private static BlockNode filterOrCow(BlockNode node) {
    return node.driver().isFilter() ? node.primaryChild() : node.backing();
  }

  private Object exportDel(Args args) throws QmpError {
    String id = args.str("id");
    // 'safe' refuses while a client is connected ("export '%s' still in use"), 'hard'
    // disconnects it; no client of a case stays connected past its step, so both remove now.
    args.optEnum("mode", List.of("safe", "hard"));
    args.checkNoExtra();
    for (Export e : exports) {
      if (e.id().equals(id)) {
        remove(e);
        return null;
      }
    }
    throw QmpError.generic("Export '" + id + "' is not found");
  }

  /** Detaches the export's BlockBackend (a drained section), frees its bitmaps, reports it. */
  private void remove(Export e) {
    exports.remove(e);
    for (DirtyBitmap bm : e.bitmaps()) {
      bm.setBusy(false);
    }
    BlockNode node = currentNode(e);
    node.users().remove(e.backend());
    jobs.drain(node);
    // blk_exp_delete_bh: blk_unref of the export's BlockBackend drops its reference on the node
    // before BLOCK_EXPORT_DELETED; a node nothing else holds (an overlay blockdev-snapshot-sync
    // put under the export, not monitor-owned) is closed there (docs/qemu-behaviour.md §24.11).
    // A job's filter the export sat on is the job's (block_job_add_bdrv holds it).
    if (layer.graph().find(node.name()) == node && node.parents().isEmpty()
        && node.users().isEmpty() && node.jobChildren().isEmpty()
        && !layer.graph().isMonitorOwned(node) && !node.driver().isFilter()
        && node.blockingJobType() == null) {
      layer.release(node);
    }
    layer.emit("BLOCK_EXPORT_DELETED", BlockLayer.data("id", e.id()));
  }

  /** The node the export's BlockBackend sits on now (a job's filter may have taken its place). */
  public BlockNode currentNode(Export e) {
    for (BlockNode n : layer.graph().all()) {
      if (n.users().contains(e.backend())) {
        return n;
      }
    }
    return e.node();
  }

  private Object queryExports(Args args) throws QmpError {
    args.checkNoExtra();
    // QEMU lists the newest export first.
    List<Object> list = new ArrayList<>();
    for (Export e : exports) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("type", "nbd");
      m.put("id", e.id());
      m.put("node-name", currentNode(e).name());
      m.put("shutting-down", false);
      list.add(0, m);
    }
    return list;
  }
}
