package io.blocksim.model.qmp;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.filter.CopyOnReadDriver;
import io.blocksim.model.driver.filter.JobFilterDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.job.Chains;
import io.blocksim.model.job.ChunkedJob;
import io.blocksim.model.job.CommitJob;
import io.blocksim.model.job.CreateJob;
import io.blocksim.model.job.ErrorPolicy;
import io.blocksim.model.job.FormatCreator;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.job.MirrorCopyMode;
import io.blocksim.model.job.MirrorJob;
import io.blocksim.model.job.MirrorSyncMode;
import io.blocksim.model.job.StreamJob;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.semantics.Variant;
import java.util.List;
import java.util.Map;

/**
 * {@code block-stream}, {@code block-commit} and {@code blockdev-mirror} (blockdev.c
 * qmp_block_stream, qmp_block_commit, qmp_blockdev_mirror and blockdev_mirror_common; the
 * *_start functions of block/stream.c, commit.c, mirror.c), with QEMU 7.2's checks in its order.
 */
final class BlockJobCommands {
  private final JobManager manager;

  BlockJobCommands(JobManager manager) {
    this.manager = manager;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("blockdev-create", args -> CreateJob.start(manager, args));
    handlers.put("block-stream", this::blockStream);
    handlers.put("block-commit", this::blockCommit);
    handlers.put("blockdev-mirror", this::blockdevMirror);
    handlers.put("drive-mirror", this::driveMirror);
  }

  private BlockLayer layer() {
    return manager.layer();
  }

  private BlockNode lookup(String device, String nodeName) throws QmpError {
    BlockNode node = layer().graph().find(device != null ? device : nodeName);
    if (node == null) {
      throw QmpError.generic("Cannot find device='" + (device == null ? "" : device)
          + "' nor node-name='" + (nodeName == null ? "" : nodeName) + "'");
    }
    return node;
  }

  /** bdrv_find_backing_image: the layer below node whose file name is that name. */
  private static BlockNode findBackingImage(BlockNode node, String name) {
    for (BlockNode n = Chains.below(node); n != null; n = Chains.below(n)) {
      if (name.equals(Chains.filename(n)) && !n.driver().isFilter()) {
        return n;
      }
    }
    return null;
  }

  private static void checkNotBlocked(BlockNode node) throws QmpError {
    if (node.blockingJobType() != null) {
      throw QmpError.generic("Node '" + node.name() + "' is busy: block device is in use by "
          + "block job: " + node.blockingJobType());
    }
  }

  /** job_create's speed check and block_job_set_speed, after the job exists. */
  private void applySpeed(ChunkedJob job, long speed) throws QmpError {
    if (speed < 0) {
      manager.dismissEarly(job);
      throw QmpError.generic("Parameter 'speed' expects a non-negative value");
    }
    job.setInitialSpeed(speed);
  }

  // ---------------------------------------------------------------- block-stream

  private Object blockStream(Args args) throws QmpError {
    String jobId = args.optStr("job-id");
    String device = args.str("device");
    String base = args.optStr("base");
    String baseNode = args.optStr("base-node");
    String backingFile = args.optStr("backing-file");
    String bottom = args.optStr("bottom");
    Long speedArg = args.optInt("speed");
    ErrorPolicy onError = ErrorPolicy.orDefault(args.optEnum("on-error", ErrorPolicy.class));
    String filterNodeName = args.optStr("filter-node-name");
    boolean autoFinalize = args.bool("auto-finalize", true);
    boolean autoDismiss = args.bool("auto-dismiss", true);
    args.checkNoExtra();
    if (base != null && baseNode != null) {
      throw QmpError.generic("'base' and 'base-node' cannot be specified at the same time");
    }
    if (base != null && bottom != null) {
      throw QmpError.generic("'base' and 'bottom' cannot be specified at the same time");
    }
    if (bottom != null && baseNode != null) {
      throw QmpError.generic("'bottom' and 'base-node' cannot be specified at the same time");
    }
    BlockNode bs = lookup(device, device);
    BlockNode baseBs = null;
    BlockNode bottomBs = null;
    if (base != null) {
      baseBs = findBackingImage(bs, base);
      if (baseBs == null) {
        throw QmpError.generic("Can't find '" + base + "' in the backing chain");
      }
    }
    if (baseNode != null) {
      baseBs = lookup(null, baseNode);
      if (bs == baseBs || !Chains.contains(bs, baseBs)) {
        throw QmpError.generic("Node '" + baseNode + "' is not a backing image of '" + device
            + "'");
      }
    }
    if (bottom != null) {
      bottomBs = lookup(null, bottom);
      if (bottomBs.driver().isFilter()) {
        throw QmpError.generic("Node '" + bottom + "' is a filter, use a non-filter node as "
            + "'bottom'");
      }
      if (!Chains.contains(bs, bottomBs)) {
        throw QmpError.generic("Node '" + bottom + "' is not in a chain starting from '"
            + device + "'");
      }
    }
    BlockNode iterEnd = bottomBs != null ? Chains.below(bottomBs) : baseBs;
    for (BlockNode n = bs; n != null && n != iterEnd; n = Chains.below(n)) {
      checkNotBlocked(n);
    }
    if (baseBs == null && backingFile != null) {
      throw QmpError.generic("backing file specified, but streaming the entire chain");
    }
    // stream_start
    BlockNode baseOverlay;
    BlockNode aboveBase;
    if (bottomBs != null) {
      baseOverlay = bottomBs;
      aboveBase = bottomBs;
    } else {
      baseOverlay = Chains.overlay(bs, baseBs);
      if (baseOverlay == null) {
        throw QmpError.generic("'" + baseBs.name() + "' is not in the backing chain of '"
            + bs.name() + "'");
      }
      aboveBase = baseOverlay;
      if (Chains.below(aboveBase) != baseBs) {
        aboveBase = Chains.below(aboveBase);
        while (Chains.below(aboveBase) != baseBs) {
          aboveBase = Chains.below(aboveBase);
        }
      }
    }
    boolean bsReadOnly = bs.readOnly();
    // stream_start reopens the node only when it is read-only (a reopen flushes the node, which
    // raises blkdebug's flush events below it).
    if (bsReadOnly) {
      Chains.reopen(layer(), bs, false);
    }
    boolean populateDirties = layer().variant(Variant.WRITE_UNCHANGED_DIRTIES);
    BlockNode filter = JobFilterDriver.insert(layer(), "copy-on-read", bs, filterNodeName);
    CopyOnReadDriver cor = (CopyOnReadDriver) filter.driver();
    cor.setBottom(baseOverlay);
    cor.setPopulateDirties(populateDirties);
    cor.setPopulateZeroes(layer().variant(Variant.STREAM_POPULATES_ZEROES));
    StreamJob job = new StreamJob(manager, jobId, bs, baseOverlay, aboveBase, backingFile,
        onError, bsReadOnly);
    try {
      manager.create(job, null, autoFinalize, autoDismiss);
      applySpeed(job, speedArg == null ? 0 : speedArg);
    } catch (QmpError e) {
      JobFilterDriver.drop(layer(), filter);
      if (bsReadOnly) {
        Chains.reopen(layer(), bs, true);
      }
      throw e;
    }
    job.attachFilter(filter);
    job.attachBackend(filter);
    job.block(filter);
    job.block(bs);
    BlockNode streamBase = Chains.below(aboveBase);
    for (BlockNode n = Chains.below(bs); n != null && n != streamBase; n = Chains.below(n)) {
      job.block(n);
      // The job reads every block once, assuming it does not change: no writes there.
      job.holdChild(n, "intermediate node", true, false);
    }
    manager.start(job);
    return null;
  }

  // ---------------------------------------------------------------- block-commit

  private Object blockCommit(Args args) throws QmpError {
    String jobId = args.optStr("job-id");
    String device = args.str("device");
    String baseNode = args.optStr("base-node");
    String base = args.optStr("base");
    String topNode = args.optStr("top-node");
    String top = args.optStr("top");
    String backingFile = args.optStr("backing-file");
    Long speedArg = args.optInt("speed");
    ErrorPolicy onError = ErrorPolicy.orDefault(args.optEnum("on-error", ErrorPolicy.class));
    String filterNodeName = args.optStr("filter-node-name");
    boolean autoFinalize = args.bool("auto-finalize", true);
    boolean autoDismiss = args.bool("auto-dismiss", true);
    args.checkNoExtra();
    long speed = speedArg == null ? 0 : speedArg;
    BlockNode bs = layer().graph().find(device);
    if (bs == null) {
      throw new QmpError(QmpError.DEVICE_NOT_FOUND, "Device '" + device + "' not found");
    }
    if (!bs.parents().isEmpty()) {
      throw QmpError.generic("Need a root block node");
    }
    checkNotBlocked(bs);
    BlockNode topBs = bs;
    if (topNode != null && top != null) {
      throw QmpError.generic("'top-node' and 'top' are mutually exclusive");
    } else if (topNode != null) {
      topBs = lookup(null, topNode);
      if (!Chains.contains(bs, topBs)) {
        throw QmpError.generic("'" + topNode + "' is not in this backing file chain");
      }
    } else if (top != null) {
      if (!top.equals(Chains.filename(bs))) {
        topBs = findBackingImage(bs, top);
      }
    }
    if (topBs == null) {
      throw QmpError.generic("Top image file " + top + " not found");
    }
    BlockNode baseBs;
    if (baseNode != null && base != null) {
      throw QmpError.generic("'base-node' and 'base' are mutually exclusive");
    } else if (baseNode != null) {
      baseBs = lookup(null, baseNode);
      if (!Chains.contains(topBs, baseBs)) {
        throw QmpError.generic("'" + baseNode + "' is not in this backing file chain");
      }
    } else if (base != null) {
      baseBs = findBackingImage(topBs, base);
      if (baseBs == null) {
        throw QmpError.generic("Can't find '" + base + "' in the backing chain");
      }
    } else {
      baseBs = Chains.overlay(topBs, null);
      if (baseBs == null || baseBs == topBs) {
        throw QmpError.generic("There is no backimg image");
      }
    }
    for (BlockNode n = topBs; n != null && n != Chains.below(baseBs); n = Chains.below(n)) {
      checkNotBlocked(n);
    }
    if (topBs == baseBs) {
      throw QmpError.generic("cannot commit an image into itself");
    }
    boolean active = Chains.skipFilters(topBs) == Chains.skipFilters(bs);
    if (active) {
      if (backingFile != null) {
        throw QmpError.generic("'backing-file' specified, but 'top' is the active layer");
      }
      return startActiveCommit(jobId, topBs, baseBs, speed, onError, filterNodeName,
          autoFinalize, autoDismiss);
    }
    BlockNode overlay = Chains.overlay(bs, topBs);
    checkNotBlocked(overlay);
    return startCommit(jobId, bs, baseBs, topBs, speed, onError, backingFile, filterNodeName,
        autoFinalize, autoDismiss);
  }

  /** commit_start. */

  private Object startCommit(String jobId, BlockNode bs, BlockNode base, BlockNode top,
      long speed, ErrorPolicy onError, String backingFile, String filterNodeName,
      boolean autoFinalize, boolean autoDismiss) throws QmpError {
    BlockNode baseOverlay = Chains.overlay(top, base);
    boolean baseReadOnly = base.readOnly();
    CommitJob job = new CommitJob(manager, jobId, top, base, baseOverlay, backingFile, onError,
        baseReadOnly);
    manager.create(job, null, autoFinalize, autoDismiss);
    applySpeed(job, speed);
    if (baseReadOnly) {
      try {
        Chains.reopen(layer(), base, false);
      } catch (QmpError e) {
        manager.dismissEarly(job);
        throw e;
      }
    }
    BlockNode filter;
    try {
      filter = JobFilterDriver.insert(layer(), "commit_top", top, filterNodeName);
    } catch (QmpError e) {
      // commit_start's fail: path gives base back its read-only mode.
      manager.dismissEarly(job);
      if (baseReadOnly && !layer().variant(Variant.COMMIT_BASE_RW_AFTER_EARLY_FAILURE)) {
        Chains.reopen(layer(), base, true);
      }
      throw e;
    }
    // bdrv_new_open_driver(&bdrv_commit_top, ..., 0): opened without BDRV_O_RDWR.
    filter.setReadOnly(true);
    job.attachFilter(filter);
    job.attachBackend(top);
    job.attachBackend(base);
    // s->base shares only consistent read and unchanged writes.
    job.holdBackendChild(base, true, false);
    job.block(bs);
    job.block(filter);
    for (BlockNode n = top; n != null && n != base; n = Chains.below(n)) {
      job.block(n);
      // The nodes go away at the end and their data stops being consistent as base changes.
      job.holdChild(n, "intermediate node", n.driver().isFilter(), true);
    }
    job.block(base);
    manager.start(job);
    return null;
  }

  /** commit_active_start: a mirror from the active layer into the base. */
  private Object startActiveCommit(String jobId, BlockNode top, BlockNode base, long speed,
      ErrorPolicy onError, String filterNodeName, boolean autoFinalize, boolean autoDismiss)
      throws QmpError {
    boolean baseReadOnly = base.readOnly();
    // commit_active_start reopens the base only when it is read-only (a reopen flushes it).
    if (baseReadOnly) {
      Chains.reopen(layer(), base, false);
    }
    MirrorJob job;
    try {
      job = startMirror(jobId, "commit", top, base, null, base, false, false, false, 0, 0,
          onError, onError, true, filterNodeName, autoFinalize, autoDismiss, speed);
    } catch (QmpError e) {
      if (baseReadOnly) {
        Chains.reopen(layer(), base, true);
      }
      throw e;
    }
    for (BlockNode n = Chains.below(top); n != null && n != base; n = Chains.below(n)) {
      job.block(n);
      job.holdChild(n, "intermediate node", n.driver().isFilter(), true);
    }
    manager.start(job);
    return null;
  }

  // ---------------------------------------------------------------- blockdev-mirror

  private Object blockdevMirror(Args args) throws QmpError {
    String jobId = args.optStr("job-id");
    String device = args.str("device");
    String targetName = args.str("target");
    String replaces = args.optStr("replaces");
    MirrorSyncMode sync = args.optEnum("sync", MirrorSyncMode.class);
    if (sync == null) {
      throw args.missing("sync");
    }
    Long speedArg = args.optInt("speed");
    Long granularityArg = args.optUnsigned("granularity", 32);
    Long bufSizeArg = args.optInt("buf-size");
    ErrorPolicy onSourceError =
        ErrorPolicy.orDefault(args.optEnum("on-source-error", ErrorPolicy.class));
    ErrorPolicy onTargetError =
        ErrorPolicy.orDefault(args.optEnum("on-target-error", ErrorPolicy.class));
    String filterNodeName = args.optStr("filter-node-name");
    MirrorCopyMode copyMode = args.optEnum("copy-mode", MirrorCopyMode.class);
    boolean autoFinalize = args.bool("auto-finalize", true);
    boolean autoDismiss = args.bool("auto-dismiss", true);
    // QEMU 7.2's blockdev-mirror has no 'bitmap': only the proposal reads it.
    String bitmapName = layer().variant(Variant.INCREMENTAL_MIRROR) ? args.optStr("bitmap") : null;
    args.checkNoExtra();
    BlockNode bs = lookup(device, device);
    if (!bs.parents().isEmpty()) {
      throw QmpError.generic("Need a root block node");
    }
    BlockNode target = lookup(targetName, targetName);
    boolean zeroTarget = sync == MirrorSyncMode.FULL;
    long granularity = checkGranularity(granularityArg);
    checkNotBlocked(bs);
    checkNotBlocked(target);
    if (Chains.below(bs) == null && sync == MirrorSyncMode.TOP) {
      sync = MirrorSyncMode.FULL;
    }
    if (replaces != null) {
      checkReplaces(bs, replaces);
    }
    DirtyBitmap syncBitmap = incrementalBitmap(bitmapName, sync, bs, granularityArg);
    // mirror_start
    if ((sync == MirrorSyncMode.INCREMENTAL && syncBitmap == null)
        || sync == MirrorSyncMode.BITMAP) {
      throw QmpError.generic("Sync mode '" + sync.qapiName() + "' not supported");
    }
    boolean noneMode = sync == MirrorSyncMode.NONE;
    BlockNode base = sync == MirrorSyncMode.TOP ? Chains.below(Chains.skipFilters(bs)) : null;
    MirrorJob job = startMirror(jobId, "mirror", bs, target, replaces, base, noneMode,
        zeroTarget, copyMode == MirrorCopyMode.WRITE_BLOCKING,
        syncBitmap != null ? syncBitmap.granularityBytes() : granularity,
        bufSizeArg == null ? 0 : bufSizeArg, onSourceError, onTargetError, true,
        filterNodeName, autoFinalize, autoDismiss, speedArg == null ? 0 : speedArg);
    job.useSyncBitmap(syncBitmap);
    manager.start(job);
    return null;
  }

  // ---------------------------------------------------------------- drive-mirror

  /** qmp_drive_mirror: creates (unless mode=existing) and opens the target, then mirrors. */
  private Object driveMirror(Args args) throws QmpError {
    String jobId = args.optStr("job-id");
    String device = args.str("device");
    String targetFile = args.str("target");
    String format = args.optStr("format");
    String nodeName = args.optStr("node-name");
    String replaces = args.optStr("replaces");
    MirrorSyncMode sync = args.optEnum("sync", MirrorSyncMode.class);
    if (sync == null) {
      throw args.missing("sync");
    }
    String mode = args.optEnum("mode", List.of("existing", "absolute-paths"));
    Long speedArg = args.optInt("speed");
    Long granularityArg = args.optUnsigned("granularity", 32);
    Long bufSizeArg = args.optInt("buf-size");
    ErrorPolicy onSourceError =
        ErrorPolicy.orDefault(args.optEnum("on-source-error", ErrorPolicy.class));
    ErrorPolicy onTargetError =
        ErrorPolicy.orDefault(args.optEnum("on-target-error", ErrorPolicy.class));
    boolean unmap = args.bool("unmap", true);
    MirrorCopyMode copyMode = args.optEnum("copy-mode", MirrorCopyMode.class);
    boolean autoFinalize = args.bool("auto-finalize", true);
    boolean autoDismiss = args.bool("auto-dismiss", true);
    String bitmapName = layer().variant(Variant.INCREMENTAL_MIRROR) ? args.optStr("bitmap") : null;
    args.checkNoExtra();
    BlockNode bs = lookup(device, device);
    if (!bs.parents().isEmpty()) {
      throw QmpError.generic("Need a root block node");
    }
    checkNotBlocked(bs);
    boolean existing = "existing".equals(mode);
    if (format == null && !existing) {
      format = bs.driver().name();
    }
    BlockNode targetBacking = Chains.below(Chains.skipFilters(bs));
    if (targetBacking == null && sync == MirrorSyncMode.TOP) {
      sync = MirrorSyncMode.FULL;
    }
    if (sync == MirrorSyncMode.NONE) {
      targetBacking = bs;
    }
    long size = bs.length();
    if (replaces != null && nodeName == null) {
      throw QmpError.generic("a node-name must be provided when replacing a named node of the"
          + " graph");
    }
    if (!existing) {
      BlockNode backing = sync == MirrorSyncMode.FULL || targetBacking == null ? null
          : Chains.skipFilters(targetBacking);
      createImage(targetFile, format, size, backing);
    }
    if (format == null) {
      format = probeFormat(targetFile);
    }
    Map<String, Object> options = new java.util.LinkedHashMap<>();
    options.put("driver", format);
    if (nodeName != null) {
      options.put("node-name", nodeName);
    }
    options.put("file", io.blocksim.model.qapi.Json.object("driver", "file", "filename",
        targetFile));
    if (format.equals("qcow2")) {
      // BDRV_O_NO_BACKING: the mirror takes care of the target's backing file.
      options.put("backing", null);
    }
    List<BlockNode> created = new java.util.ArrayList<>();
    BlockNode target;
    try {
      target = layer().open(Args.of(options), null, created);
    } catch (QmpError e) {
      for (int i = created.size() - 1; i >= 0; i--) {
        layer().detach(created.get(i));
      }
      throw e;
    }
    // A new image of a format with zero initialisation needs no zeroing.
    boolean zeroTarget = sync == MirrorSyncMode.FULL && existing;
    try {
      long granularity = checkGranularity(granularityArg);
      checkNotBlocked(target);
      if (replaces != null) {
        checkReplaces(bs, replaces);
      }
      DirtyBitmap syncBitmap = incrementalBitmap(bitmapName, sync, bs, granularityArg);
      if ((sync == MirrorSyncMode.INCREMENTAL && syncBitmap == null)
          || sync == MirrorSyncMode.BITMAP) {
        throw QmpError.generic("Sync mode '" + sync.qapiName() + "' not supported");
      }
      boolean noneMode = sync == MirrorSyncMode.NONE;
      BlockNode base = sync == MirrorSyncMode.TOP ? Chains.below(Chains.skipFilters(bs)) : null;
      MirrorJob job = startMirror(jobId, "mirror", bs, target, replaces, base, noneMode,
          zeroTarget, copyMode == MirrorCopyMode.WRITE_BLOCKING,
          syncBitmap != null ? syncBitmap.granularityBytes() : granularity,
          bufSizeArg == null ? 0 : bufSizeArg, onSourceError, onTargetError, unmap, null,
          autoFinalize, autoDismiss, speedArg == null ? 0 : speedArg);
      job.useSyncBitmap(syncBitmap);
      job.ownTarget(existing ? MirrorJob.OPEN_BACKING_CHAIN : MirrorJob.SOURCE_BACKING_CHAIN);
      manager.start(job);
    } catch (QmpError e) {
      layer().release(target);
      throw e;
    }
    return null;
  }

  /**
   * proposal:incremental-mirror (docs/variants.md): sync 'incremental' with a bitmap of the
   * source, as the "mirror: implement incremental and bitmap modes" series proposed it (sugar for
   * sync 'bitmap' with bitmap-mode 'on-success'). The checks are backup's for the same arguments
   * (qmp_backup of QEMU 7.2: the bitmap is required, must exist and be usable; a bitmap the job
   * clears may not be readonly); the bitmap's granularity is the job's. Returns null when the
   * variant is off or no bitmap was given (QEMU 7.2's path).
   */
  private DirtyBitmap incrementalBitmap(String bitmapName, MirrorSyncMode sync, BlockNode bs,
      Long granularityArg) throws QmpError {
    if (!layer().variant(Variant.INCREMENTAL_MIRROR)) {
      return null;
    }
    if (sync == MirrorSyncMode.INCREMENTAL && bitmapName == null) {
      throw QmpError.generic("must provide a valid bitmap name for 'incremental' sync mode");
    }
    if (bitmapName == null) {
      return null;
    }
    if (sync != MirrorSyncMode.INCREMENTAL) {
      // blocksim's wording: the proposal takes a bitmap only with sync 'incremental'.
      throw QmpError.generic("a bitmap can only be given with sync mode 'incremental'");
    }
    DirtyBitmap bitmap = bs.bitmap(bitmapName);
    if (bitmap == null) {
      throw QmpError.generic("Bitmap '" + bitmapName + "' could not be found");
    }
    String refusal = bitmap.checkUsable(DirtyBitmap.CHECK_DEFAULT);
    if (refusal != null) {
      throw QmpError.generic(refusal);
    }
    if (granularityArg != null && granularityArg != 0) {
      throw QmpError.generic("granularity cannot be specified when a bitmap is provided");
    }
    return bitmap;
  }

  private long checkGranularity(Long granularityArg) throws QmpError {
    long granularity = granularityArg == null ? 0 : granularityArg;
    if (granularity != 0 && (granularity < 512 || granularity > 64L * 1048576)) {
      throw QmpError.generic("Parameter 'granularity' expects a value in range [512B, 64MB]");
    }
    if ((granularity & (granularity - 1)) != 0) {
      throw QmpError.generic("Parameter 'granularity' expects a power of 2");
    }
    return granularity;
  }

  private void checkReplaces(BlockNode bs, String replaces) throws QmpError {
    BlockNode toReplace = layer().graph().find(replaces);
    if (toReplace == null) {
      throw QmpError.generic("Failed to find node with node-name='" + replaces + "'");
    }
    if (toReplace.length() != bs.length()) {
      throw QmpError.generic("cannot replace image with a mirror image of different size");
    }
  }

  /** bdrv_img_create for the formats blocksim knows. */
  private void createImage(String path, String format, long size, BlockNode backing)
      throws QmpError {
    io.blocksim.model.port.HostFile file;
    try {
      file = layer().storage().create(path);
      if (format.equals("raw")) {
        // raw_co_create: truncated to 0, then to the size (allocate_first_block).
        io.blocksim.model.port.HostFile.truncateFile(file, size);
        return;
      }
    } catch (io.blocksim.model.port.HostIoException e) {
      throw QmpError.generic("Could not create '" + path + "': "
          + io.blocksim.model.port.HostIoException.strerror(e.errno()));
    }
    FormatCreator creator = manager.formatCreator(format);
    if (creator == null) {
      throw QmpError.generic("Format '" + format + "' does not support image creation");
    }
    CreateJob.formatOnFile(manager, path, format, size, backing, creator);
  }

  private String probeFormat(String path) throws QmpError {
    try {
      io.blocksim.model.port.HostFile file = layer().storage().open(path);
      byte[] magic = new byte[4];
      file.read(0, magic, 0, 4);
      boolean qcow2 = magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I'
          && (magic[3] & 0xff) == 0xfb;
      return qcow2 ? "qcow2" : "raw";
    } catch (io.blocksim.model.port.HostIoException e) {
      throw QmpError.generic("Could not open '" + path + "': "
          + io.blocksim.model.port.HostIoException.strerror(e.errno()));
    }
  }

  /**
   * blk_insert_bs of s->target, after block_job_create: the target takes write, and its files
   * test the image locks of the daemon's other file nodes (BlockLayer.checkLocks); a refusal
   * fails the job early.
   */
  private void checkTargetLocks(MirrorJob job, BlockNode target, boolean sharing)
      throws QmpError {
    BlockNode.JobChild probe = new BlockNode.JobChild("an unnamed block device", "root",
        sharing, sharing, true);
    target.jobChildren().add(probe);
    try {
      layer().checkLocks(null, List.of());
    } catch (QmpError e) {
      manager.dismissEarly(job);
      throw e;
    } finally {
      target.jobChildren().remove(probe);
    }
  }

  /** mirror_start_job, up to (not including) job_start. */
  private MirrorJob startMirror(String jobId, String type, BlockNode bs, BlockNode target,
      String replaces, BlockNode base, boolean noneMode, boolean zeroTarget,
      boolean writeBlocking, long granularityArg, long bufSizeArg, ErrorPolicy onSourceError,
      ErrorPolicy onTargetError, boolean unmap, String filterNodeName, boolean autoFinalize,
      boolean autoDismiss, long speed) throws QmpError {
    long granularity = granularityArg != 0 ? granularityArg
        : DirtyBitmap.defaultGranularityBytes(target.driver().clusterSize());
    if (bufSizeArg < 0) {
      throw QmpError.generic("Invalid parameter 'buf-size'");
    }
    long bufSize = bufSizeArg == 0 ? MirrorJob.DEFAULT_BUF_SIZE : bufSizeArg;
    if (Chains.skipFilters(bs) == Chains.skipFilters(target)) {
      throw QmpError.generic("Can't mirror node into itself");
    }
    boolean targetIsBacking = Chains.contains(bs, target);
    if (!targetIsBacking && Chains.contains(bs, Chains.skipFilters(target))) {
      throw QmpError.generic("Cannot mirror to a filter on top of a node in the source's "
          + "backing chain");
    }
    BlockNode mirrorTop = JobFilterDriver.insert(layer(), "mirror_top", bs, filterNodeName);
    MirrorJob job = new MirrorJob(manager, jobId, type, bs, target, base, noneMode, zeroTarget,
        writeBlocking, granularity, bufSize, onSourceError, onTargetError, unmap, replaces);
    try {
      manager.create(job, null, autoFinalize, autoDismiss);
      applySpeed(job, speed);
      checkTargetLocks(job, target, type.equals("commit"));
    } catch (QmpError e) {
      JobFilterDriver.drop(layer(), mirrorTop);
      throw e;
    }
    job.attachMirrorTop(mirrorTop);
    ((JobFilterDriver) mirrorTop.driver()).setWriteListener(new JobFilterDriver.WriteListener() {
      @Override
      public void beforeWrite(long offset, long length) {
        job.beforeActiveWrite(offset, length);
      }

      @Override
      public void written(long offset, long length, byte[] buf, int pos, boolean zero)
          throws io.blocksim.model.port.HostIoException {
        job.activeWrite(offset, length, buf, pos, zero);
      }
    });
    job.attachBackend(target);
    // s->target shares only unchanged writes, unless the target is the source's own backing
    // chain (active commit), where it also shares consistent read and write.
    boolean activeCommit = job.type().equals("commit");
    job.holdBackendChild(target, activeCommit, activeCommit);
    job.block(mirrorTop);
    job.block(bs);
    job.block(target);
    return job;
  }
}
