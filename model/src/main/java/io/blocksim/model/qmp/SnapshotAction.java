package io.blocksim.model.qmp;

import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.filter.JobFilterDriver;
import io.blocksim.model.driver.qcow2.Qcow2CreateOptions;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeFilenames;
import io.blocksim.model.job.Chains;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The external snapshot actions {@code blockdev-snapshot} and {@code blockdev-snapshot-sync}
 * (blockdev.c external_snapshot_prepare/commit/abort/clean). Prepare appends the overlay above
 * the node (bdrv_append: the node becomes its backing file and the overlay takes the node's
 * parents); commit reopens the node read-only, which stores its persistent bitmaps and makes them
 * readonly; abort puts the node back; clean drops the action's reference to the overlay, which
 * closes an overlay nothing else holds (a blockdev-snapshot-sync overlay with no parent).
 */
final class SnapshotAction implements TransactionAction {
  /** The formats QEMU 7.2 could create an overlay in that blocksim does not model. */
  private static final List<String> UNMODELLED_FORMATS = List.of("bochs", "cloop", "dmg",
      "luks", "parallels", "qcow", "qed", "vdi", "vhdx", "vmdk", "vpc", "vvfat");

  private final BlockLayer layer;
  private final JobManager jobs;
  private final String type;
  /** blockdev-snapshot: node, overlay. */
  private final String node;
  private final String overlay;
  /** blockdev-snapshot-sync: device, node-name, snapshot-file, snapshot-node-name, format, mode. */
  private final String device;
  private final String snapshotFile;
  private final String snapshotNodeName;
  private final String format;
  private final String mode;

  private BlockNode oldNode;
  private BlockNode newNode;
  private boolean appended;
  private Runnable endDrain;

  private SnapshotAction(BlockLayer layer, JobManager jobs, String type, String node, String overlay, String device,
      String snapshotFile, String snapshotNodeName, String format, String mode) {
    this.layer = layer;
    this.jobs = jobs;
    this.type = type;
    this.node = node;
    this.overlay = overlay;
    this.device = device;
    this.snapshotFile = snapshotFile;
    this.snapshotNodeName = snapshotNodeName;
    this.format = format;
    this.mode = mode;
  }

  /** Parses the action's data as the QAPI visitor does (members in schema order); null if no. */
  static SnapshotAction parse(BlockLayer layer, JobManager jobs, String type, Args data)
      throws QmpError {
    if (type.equals("blockdev-snapshot")) {
      String node = data.str("node");
      String overlay = data.str("overlay");
      data.checkNoExtra();
      return new SnapshotAction(layer, jobs, type, node, overlay, null, null, null, null, null);
    }
    if (type.equals("blockdev-snapshot-sync")) {
      String device = data.optStr("device");
      String nodeName = data.optStr("node-name");
      String file = data.str("snapshot-file");
      String snapshotNodeName = data.optStr("snapshot-node-name");
      String format = data.optStr("format");
      String mode = data.optEnum("mode", List.of("existing", "absolute-paths"));
      data.checkNoExtra();
      return new SnapshotAction(layer, jobs, type, nodeName, null, device, file, snapshotNodeName,
          format == null ? "qcow2" : format, mode == null ? "absolute-paths" : mode);
    }
    return null;
  }

  @Override
  public void prepare() throws QmpError {
    boolean sync = type.equals("blockdev-snapshot-sync");
    oldNode = lookup(sync ? device : node, node);
    // bdrv_drained_begin(old_bs), paired with clean: the jobs above the node pause once more
    // after the transaction's bdrv_drain_all, and resume only when the action is cleaned.
    endDrain = jobs.beginDrainedSection(oldNode);
    checkOpBlocker(oldNode);
    if (!oldNode.readOnly()) {
      try {
        BlockIo.flush(oldNode);
      } catch (HostIoException e) {
        throw QmpError.generic("An IO error has occurred");
      }
    }
    if (sync) {
      newNode = openNewOverlay();
    } else {
      newNode = lookup(overlay, overlay);
    }
    if (!newNode.users().isEmpty() || !newNode.parents().isEmpty()) {
      // bdrv_get_cumulative_perm: a parent that reads the overlay as a consistent image.
      throw QmpError.generic("The overlay is already in use");
    }
    if (newNode.driver().isFilter()) {
      throw QmpError.generic("Filters cannot be used as overlays");
    }
    if (newNode.backing() != null) {
      throw QmpError.generic("The overlay already has a backing image");
    }
    if (!(newNode.driver() instanceof Qcow2Driver)) {
      throw QmpError.generic("The overlay does not support backing images");
    }
    append();
  }

  /** bdrv_lookup_bs: a device name (blocksim has no named BlockBackends), then a node name. */
  private BlockNode lookup(String deviceName, String nodeName) throws QmpError {
    BlockNode found = nodeName == null ? null : layer.graph().find(nodeName);
    if (found == null) {
      throw QmpError.generic("Cannot find device='" + (deviceName == null ? "" : deviceName)
          + "' nor node-name='" + (nodeName == null ? "" : nodeName) + "'");
    }
    return found;
  }

  /** BLOCK_OP_TYPE_EXTERNAL_SNAPSHOT: blocked by a block job and on a backing file. */
  private static void checkOpBlocker(BlockNode node) throws QmpError {
    if (node.blockingJobType() != null) {
      throw QmpError.generic("Node '" + node.name() + "' is busy: block device is in use by "
          + "block job: " + node.blockingJobType());
    }
    BlockNode over = BlockdevCommands.backingOverlay(node);
    if (over != null) {
      throw QmpError.generic("Node '" + node.name() + "' is busy: node is used as backing hd "
          + "of '" + over.name() + "'");
    }
  }

  /**
   * blockdev-snapshot-sync: creates the image (unless mode is existing) with the node's file and
   * format as its backing file, and opens it without a backing file, as the node is opened.
   */
  private BlockNode openNewOverlay() throws QmpError {
    if (node != null && snapshotNodeName == null) {
      throw QmpError.generic("New overlay node-name missing");
    }
    if (snapshotNodeName != null && layer.graph().find(snapshotNodeName) != null) {
      throw QmpError.generic("New overlay node-name already in use");
    }
    if (!format.equals("qcow2") && !format.equals("raw")) {
      if (UNMODELLED_FORMATS.contains(format)) {
        throw QmpError.generic("blocksim does not model the '" + format + "' format");
      }
      throw QmpError.generic("Unknown file format '" + format + "'");
    }
    if (!mode.equals("existing")) {
      if (format.equals("raw")) {
        throw QmpError.generic("Backing file not supported for file format 'raw'");
      }
      try {
        HostFile file = layer.storage().create(snapshotFile);
        Qcow2Image.create(file, oldNode.length(), Qcow2CreateOptions.defaults()
            .withBacking(NodeFilenames.filename(oldNode), oldNode.driver().name()));
        file.flush();
        layer.storage().setBackingNameFromNode(snapshotFile, NodeFilenames.filename(oldNode));
      } catch (HostIoException e) {
        throw QmpError.generic("Could not create '" + snapshotFile + "': "
            + HostIoException.strerror(e.errno()));
      }
    }
    Map<String, Object> options = new java.util.LinkedHashMap<>();
    options.put("driver", format);
    if (snapshotNodeName != null) {
      options.put("node-name", snapshotNodeName);
    }
    options.put("read-only", oldNode.readOnly());
    options.put("file", Json.object("driver", "file", "filename", snapshotFile));
    if (format.equals("qcow2")) {
      options.put("backing", null);  // BDRV_O_NO_BACKING
    }
    List<BlockNode> created = new ArrayList<>();
    try {
      BlockNode overlay = layer.open(new Args(options, ""), null, created);
      layer.checkLocks(overlay, created);
      return overlay;
    } catch (QmpError e) {
      for (int i = created.size() - 1; i >= 0; i--) {
        layer.detach(created.get(i));
      }
      throw e;
    }
  }

  /** bdrv_append(new, old): old becomes new's backing file; new takes old's parents. */
  private void append() throws QmpError {
    if (reaches(oldNode, newNode)) {
      throw QmpError.generic("Making '" + oldNode.name() + "' a backing child of '"
          + newNode.name() + "' would create a cycle");
    }
    Chains.setBacking(newNode, oldNode);
    JobFilterDriver.moveParents(oldNode, newNode);
    newNode.users().addAll(oldNode.users());
    oldNode.users().clear();
    appended = true;
  }

  private static boolean reaches(BlockNode top, BlockNode node) {
    if (top == node) {
      return true;
    }
    for (BlockNode child : top.children().values()) {
      if (reaches(child, node)) {
        return true;
      }
    }
    return false;
  }

  @Override
  public void commit() {
    // external_snapshot_commit ignores a failed reopen.
    try {
      Chains.reopen(layer, oldNode, true);
    } catch (QmpError e) {
      // QEMU passes NULL for errp: the node stays read-write.
    }
  }

  @Override
  public void abort() {
    if (!appended) {
      return;
    }
    Chains.setBacking(newNode, null);
    JobFilterDriver.moveParents(newNode, oldNode);
    oldNode.users().addAll(newNode.users());
    newNode.users().clear();
  }

  @Override
  public void clean() {
    if (endDrain != null) {
      endDrain.run();
    }
    // bdrv_unref(new_bs): an overlay that no parent, user or monitor reference holds is closed.
    if (newNode != null && layer.graph().find(newNode.name()) == newNode
        && newNode.parents().isEmpty() && newNode.users().isEmpty()
        && !layer.graph().isMonitorOwned(newNode)) {
      layer.release(newNode);
    }
  }
}
