package io.blocksim.model.qmp;

import io.blocksim.model.semantics.Variant;
import io.blocksim.model.driver.blockcopy.BlockCopy;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.filter.CopyBeforeWriteDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.job.BackupJob;
import io.blocksim.model.job.BitmapSyncMode;
import io.blocksim.model.job.CreateJob;
import io.blocksim.model.job.ErrorPolicy;
import io.blocksim.model.job.FormatCreator;
import io.blocksim.model.job.Job;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.job.JobTxn;
import io.blocksim.model.job.MirrorSyncMode;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.qmp.TransactionCommand.TransactionContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code blockdev-backup} and {@code drive-backup}, as commands and as transaction actions
 * (blockdev.c: *_backup_prepare/commit/abort/clean, do_backup_common; block/backup.c:
 * backup_job_create), with QEMU 7.2's checks in QEMU's order (docs/qemu-behaviour.md §6.1).
 */
final class BackupCommands {
  private final JobManager manager;

  BackupCommands(JobManager manager) {
    this.manager = manager;
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    for (String type : List.of("blockdev-backup", "drive-backup")) {
      handlers.put(type, args -> {
        // QEMU runs the command as a one-action transaction (blockdev_do_action), which
        // starts by draining all I/O.
        Options options = parse(type, args, manager.layer().variant(Variant.BITMAP_SLICES));
        options.undrained = manager.layer().variant(type.equals("drive-backup")
            ? Variant.DRIVE_BACKUP_COMMAND_UNDRAINED : Variant.BACKUP_COMMAND_UNDRAINED);
        if (!options.undrained) {
          manager.drainAll();
        }
        BackupAction action = new BackupAction(type, args, null);
        action.parsed = options;
        try {
          action.prepare();
        } catch (QmpError e) {
          action.abort();
          action.clean();
          throw e;
        }
        action.commit();
        action.clean();
        return null;
      });
    }
  }






  TransactionAction transactionAction(String type, Args data, TransactionContext context) {
    if (!type.equals("blockdev-backup") && !type.equals("drive-backup")) {
      return null;
    }
    JobTxn txn = null;
    if (context != null && context.grouped()) {
      if (context.jobTransaction() == null) {
        context.setJobTransaction(new JobTxn());
      }
      txn = (JobTxn) context.jobTransaction();
    }
    return new BackupAction(type, data, txn);
  }

  /** The options common to both commands (BackupCommon), after QAPI parsing. */
  private static final class Options {
    String jobId;
    String device;
    MirrorSyncMode sync;
    long speed;
    String bitmap;
    BitmapSyncMode bitmapMode;
    boolean compress;
    ErrorPolicy onSourceError;
    ErrorPolicy onTargetError;
    boolean autoFinalize;
    boolean autoDismiss;
    String filterNodeName;
    long maxWorkers = BlockCopy.MAX_WORKERS;
    long maxChunk;
    String target;
    String format;
    String mode;
    /** The plain command under a *-command-undrained variant: no drained section. */
    boolean undrained;
    /** proposal:bitmap-slices: the slice the backup starts from (0: the bitmap alone). */
    long slice;
  }

  private static Options parse(String type, Args args, boolean slices) throws QmpError {
    Options o = new Options();
    o.jobId = args.optStr("job-id");
    o.device = args.str("device");
    o.sync = args.optEnum("sync", MirrorSyncMode.class);
    if (o.sync == null) {
      throw args.missing("sync");
    }
    Long speed = args.optInt("speed");
    o.speed = speed == null ? 0 : speed;
    o.bitmap = args.optStr("bitmap");
    o.bitmapMode = args.optEnum("bitmap-mode", BitmapSyncMode.class);
    o.compress = args.bool("compress", false);
    o.onSourceError = ErrorPolicy.orDefault(args.optEnum("on-source-error", ErrorPolicy.class));
    o.onTargetError = ErrorPolicy.orDefault(args.optEnum("on-target-error", ErrorPolicy.class));
    o.autoFinalize = args.bool("auto-finalize", true);
    o.autoDismiss = args.bool("auto-dismiss", true);
    o.filterNodeName = args.optStr("filter-node-name");
    Args perf = args.optObject("x-perf");
    if (perf != null) {
      perf.unmodelled("use-copy-range", perf.optBool("use-copy-range"), false);
      Long workers = perf.optInt("max-workers");
      if (workers != null) {
        o.maxWorkers = workers;
      }
      Long chunk = perf.optInt("max-chunk");
      if (chunk != null) {
        o.maxChunk = chunk;
      }
      perf.checkNoExtra();
    }
    o.target = args.str("target");
    if (type.equals("drive-backup")) {
      o.format = args.optStr("format");
      o.mode = args.optEnum("mode", List.of("existing", "absolute-paths"));
    }
    if (slices) {
      // proposal:bitmap-slices; QEMU 7.2's backups have no 'slice' argument.
      Long slice = args.optUnsigned("slice", 32);
      o.slice = slice == null ? 0 : slice;
    }
    args.checkNoExtra();
    return o;
  }

  /** One backup action: prepare creates the job, commit starts it, abort cancels it. */
  private final class BackupAction implements TransactionAction {
    private final String type;
    private final Args args;
    private final JobTxn txn;
    private BackupJob job;
    private JobManager.DrainedSection drained;
    /** The options when QAPI parsing already happened (the plain command), else null. */
    private Options parsed;

    BackupAction(String type, Args args, JobTxn txn) {
      this.type = type;
      this.args = args;
      this.txn = txn;
    }

    @Override
    public void prepare() throws QmpError {
      Options o = parsed != null ? parsed
          : parse(type, args, manager.layer().variant(Variant.BITMAP_SLICES));
      if (txn != null && o.bitmapMode == BitmapSyncMode.ALWAYS
          && manager.layer().variant(Variant.ALWAYS_NOT_GROUPED)) {
        // The proposal's refusal; its text is blocksim's, QEMU never had one.
        throw QmpError.generic("bitmap-mode 'always' cannot be used in a transaction with "
            + "completion-mode 'grouped'");
      }
      BlockNode source = lookup(o.device);
      if (source.parents().isEmpty() && source.users().isEmpty()
          && !manager.layer().graph().isMonitorOwned(source)) {
        // Only an earlier blockdev-snapshot-sync action of this transaction holds the node; its
        // clean drops that reference, the job's end drops the last one and QEMU 7.2 aborts in
        // bdrv_close (the block-copy bitmap is still on the node: docs/qemu-behaviour.md §24.4).
        throw QmpError.generic("A backup of node '" + source.name() + "', which only this"
            + " transaction's blockdev-snapshot-sync holds, is not modelled by blocksim (QEMU 7.2"
            + " aborts when the job ends)");
      }
      if (type.equals("blockdev-backup")) {
        BlockNode target = lookup(o.target);
        drained = o.undrained ? null : manager.drainedBegin(source);
        job = doBackupCommon(o, source, target, false, txn);
      } else {
        drained = o.undrained ? null : manager.drainedBegin(source);
        job = driveBackup(o, source, txn);
      }
    }

    @Override
    public void commit() {
      manager.start(job);
    }

    @Override
    public void abort() {
      if (job != null) {
        manager.cancelSync(job);
      }
    }

    @Override
    public void clean() {
      // The end of the drained section that prepare began: the jobs may now run.
      if (drained != null) {
        manager.drainedEnd(drained);
        drained = null;
      }
      if (job != null) {
        manager.endCreationDrain(job);
      }
    }
  }

  private BlockNode lookup(String name) throws QmpError {
    BlockNode node = manager.layer().graph().find(name);
    if (node == null) {
      throw QmpError.generic("Cannot find device='" + name + "' nor node-name='" + name + "'");
    }
    return node;
  }

  // ---------------------------------------------------------------- drive-backup

  /** drive_backup_prepare: creates (unless mode=existing) and opens the target image. */
  private BackupJob driveBackup(Options o, BlockNode source, JobTxn txn) throws QmpError {
    BlockLayer layer = manager.layer();
    String mode = o.mode == null ? "absolute-paths" : o.mode;
    String format = o.format;
    if (format == null && !mode.equals("existing")) {
      format = source.driver().name();
    }
    checkNotBlocked(source);
    BlockNode backing = null;
    if (o.sync == MirrorSyncMode.TOP) {
      backing = BlockIo.cowChild(skipFilters(source));
      if (backing == null) {
        o.sync = MirrorSyncMode.FULL;
      }
    }
    if (o.sync == MirrorSyncMode.NONE) {
      backing = source;
    }
    long size = source.length();
    if (!mode.equals("existing")) {
      createImage(o.target, format, size, backing);
    }
    if (format == null) {
      format = probeFormat(o.target);
    }
    Map<String, Object> fileOptions = new LinkedHashMap<>();
    fileOptions.put("driver", "file");
    fileOptions.put("filename", o.target);
    Map<String, Object> options = new LinkedHashMap<>();
    options.put("driver", format);
    options.put("file", fileOptions);
    options.put("discard", "unmap");
    // QEMU's drive-backup also opens the target with detect-zeroes=unmap (blockdev.c); blocksim
    // does not model zero detection (blockdev-add refuses the option), so it is left out here
    // and a zero cluster the job copies reaches the target as a data write.
    List<BlockNode> created = new ArrayList<>();
    BlockNode target;
    try {
      // BlockLayer.child opens an inline definition like blockdev-add's children, with
      // a generated node name and no monitor reference, which is what bdrv_open gives QEMU.
      Map<String, Object> holder = new LinkedHashMap<>();
      holder.put("target", options);
      target = layer.child(Args.of(holder), "target", true, null,
          created);
    } catch (QmpError e) {
      for (int i = created.size() - 1; i >= 0; i--) {
        BlockNode node = created.get(i);
        layer.graph().remove(node);
        for (String role : new ArrayList<>(node.children().keySet())) {
          node.setChild(role, null);
        }
      }
      throw e;
    }
    if (o.sync == MirrorSyncMode.NONE && target.driver().supportsBacking()) {
      target.setChild(BlockNode.BACKING, source);
    }
    try {
      return doBackupCommon(o, source, target, true, txn);
    } catch (QmpError e) {
      layer.release(target);
      throw e;
    }
  }

  private static BlockNode skipFilters(BlockNode node) {
    BlockNode n = node;
    while (n.driver().isFilter() && n.primaryChild() != null) {
      n = n.primaryChild();
    }
    return n;
  }

  /** bdrv_img_create for the formats blocksim knows. */
  private void createImage(String path, String format, long size, BlockNode backing)
      throws QmpError {
    BlockLayer layer = manager.layer();
    HostFile file;
    try {
      file = layer.storage().create(path);
      if (format.equals("raw")) {
        // raw_co_create: truncated to 0, then to the size (allocate_first_block).
        HostFile.truncateFile(file, size);
        return;
      }
    } catch (HostIoException e) {
      throw QmpError.generic("Could not create '" + path + "': "
          + HostIoException.strerror(e.errno()));
    }
    FormatCreator creator = manager.formatCreator(format);
    if (creator == null) {
      throw QmpError.generic("Format driver '" + format + "' does not support image creation");
    }
    CreateJob.formatOnFile(manager, path, format, size, backing, creator);
  }

  private String probeFormat(String path) throws QmpError {
    try {
      HostFile file = manager.layer().storage().open(path);
      byte[] magic = new byte[4];
      file.read(0, magic, 0, 4);
      boolean qcow2 = magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I'
          && (magic[3] & 0xff) == 0xfb;
      return qcow2 ? "qcow2" : "raw";
    } catch (HostIoException e) {
      throw QmpError.generic("Could not open '" + path + "': "
          + HostIoException.strerror(e.errno()));
    }
  }

  // ---------------------------------------------------------------- do_backup_common

  private BackupJob doBackupCommon(Options o, BlockNode source, BlockNode target,
      boolean ownsTarget, JobTxn txn) throws QmpError {
    if (o.sync == MirrorSyncMode.BITMAP || o.sync == MirrorSyncMode.INCREMENTAL) {
      if (o.bitmap == null) {
        throw QmpError.generic("must provide a valid bitmap name for '" + o.sync.qapiName()
            + "' sync mode");
      }
    }
    if (o.sync == MirrorSyncMode.INCREMENTAL) {
      if (o.bitmapMode != null && o.bitmapMode != BitmapSyncMode.ON_SUCCESS) {
        throw QmpError.generic("Bitmap sync mode must be 'on-success' when using sync mode "
            + "'incremental'");
      }
      o.sync = MirrorSyncMode.BITMAP;
      o.bitmapMode = BitmapSyncMode.ON_SUCCESS;
    }
    DirtyBitmap bitmap = null;
    if (o.bitmap != null) {
      bitmap = source.bitmap(o.bitmap);
      if (bitmap == null) {
        throw QmpError.generic("Bitmap '" + o.bitmap + "' could not be found");
      }
      if (o.bitmapMode == null) {
        throw QmpError.generic("Bitmap sync mode must be given when providing a bitmap");
      }
      check(bitmap.checkUsable(DirtyBitmap.CHECK_ALLOW_RO));
      if (o.sync == MirrorSyncMode.NONE) {
        throw QmpError.generic("sync mode 'none' does not produce meaningful bitmap outputs");
      }
      if (o.bitmapMode == BitmapSyncMode.NEVER && o.sync != MirrorSyncMode.BITMAP) {
        throw QmpError.generic("Bitmap sync mode 'never' has no meaningful effect when combined"
            + " with sync mode '" + o.sync.qapiName() + "'");
      }
    }
    if (o.bitmap == null && o.bitmapMode != null) {
      throw QmpError.generic("Cannot specify bitmap sync mode without a bitmap");
    }
    checkSlices(o, bitmap);
    return createJob(o, source, target, bitmap, ownsTarget, txn);
  }

  private static void check(String error) throws QmpError {
    if (error != null) {
      throw QmpError.generic(error);
    }
  }

  private static void checkNotBlocked(BlockNode node) throws QmpError {
    if (node.blockingJobType() != null) {
      throw QmpError.generic("Node '" + node.name() + "' is busy: block device is in use by "
          + "block job: " + node.blockingJobType());
    }
  }

  /**
   * proposal:bitmap-slices (docs/variants.md; texts are blocksim's): a backup from slice K needs
   * sync 'bitmap' and a slice K that the bitmap keeps; a backup that would save a slice past the
   * retention is refused unless the retention was set with force-cycle.
   */
  private static void checkSlices(Options o, DirtyBitmap bitmap) throws QmpError {
    io.blocksim.model.bitmap.BitmapSlices slices = bitmap == null ? null : bitmap.slices();
    if (o.slice != 0) {
      if (bitmap == null || o.sync != MirrorSyncMode.BITMAP) {
        throw QmpError.generic("a slice can only be given with a bitmap and sync mode 'bitmap'"
            + " or 'incremental'");
      }
      if (slices == null || slices.slice((int) Math.min(o.slice, Integer.MAX_VALUE)) == null) {
        throw QmpError.generic("Bitmap '" + o.bitmap + "' has no slice " + o.slice);
      }
    }
    if (slices != null && slices.full() && !slices.forceCycle()
        && o.bitmapMode != BitmapSyncMode.NEVER) {
      throw QmpError.generic("Bitmap '" + o.bitmap + "' already keeps " + slices.retention()
          + " slices, its retention; set the retention with force-cycle to drop the oldest");
    }
  }

  /** backup_job_create. */
  private BackupJob createJob(Options o, BlockNode source, BlockNode target, DirtyBitmap bitmap,
      boolean ownsTarget, JobTxn txn) throws QmpError {
    if (source == target) {
      throw QmpError.generic("Source and target cannot be the same");
    }
    if (o.compress && !target.driver().name().equals("qcow2")) {
      throw QmpError.generic("Compression is not supported for this drive ");
    }
    checkNotBlocked(source);
    checkNotBlocked(target);
    if (o.maxWorkers < 1 || o.maxWorkers > Integer.MAX_VALUE) {
      throw QmpError.generic("max-workers must be between 1 and 2147483647");
    }
    if (o.maxChunk < 0) {
      throw QmpError.generic("max-chunk must be zero (which means no limit) or positive");
    }
    BlockLayer layer = manager.layer();
    if (bitmap != null) {
      if (manager.layer().variant(Variant.READONLY_BITMAP_BACKUP_ACCEPTED)) {
        // Before 4.0 backup_job_create checked only that the bitmap was not frozen.
        check(bitmap.checkUsable(DirtyBitmap.CHECK_ALLOW_RO));
      } else if (o.bitmapMode != BitmapSyncMode.NEVER
          || manager.layer().variant(Variant.READONLY_BITMAP_NEVER_REFUSED)) {
        check(bitmap.checkUsable(DirtyBitmap.CHECK_DEFAULT));
      }
      check(bitmap.checkCreateSuccessor());
      source.bitmaps().add(0, bitmap.createSuccessor());
    }
    BlockCopy bcs = null;
    BlockNode filter = null;
    try {
      if (target.length() != source.length()
          && !manager.layer().variant(Variant.BACKUP_SIZE_MISMATCH)) {
        throw QmpError.generic("Source and target image have different sizes");
      }
      CopyBeforeWriteDriver.checkNodeName(layer, o.filterNodeName);
      bcs = new BlockCopy(layer, source, target);
      bcs.setCompress(o.compress);
      filter = CopyBeforeWriteDriver.insert(layer, source, target, o.filterNodeName, bcs);
      long clusterSize = bcs.clusterSize();
      if (o.maxChunk != 0 && o.maxChunk < clusterSize) {
        throw QmpError.generic("Required max-chunk (" + o.maxChunk + ") is less than backup "
            + "cluster size (" + clusterSize + ")");
      }
      BackupJob job = new BackupJob(manager, o.jobId == null ? "" : o.jobId, source, target,
          o.sync, bitmap, o.bitmapMode, o.onSourceError, o.onTargetError, (int) o.maxWorkers,
          o.maxChunk, ownsTarget);
      job.fromSlice((int) o.slice);
      manager.create(job, txn, o.autoFinalize, o.autoDismiss);
      // block_job_create's block_job_add_bdrv on the filter: with a parent, the filter stops
      // sharing write on the source, whose files test the image locks of the daemon's other
      // file nodes (the target's among them: BlockLayer.checkLocks).
      filter.setBlockingJobType("backup");
      try {
        layer.checkLocks(null, List.of());
      } catch (QmpError e) {
        filter.setBlockingJobType(null);
        manager.dismissEarly(job);
        throw e;
      }
      if (o.speed < 0) {
        manager.dismissEarly(job);
        throw QmpError.generic("Parameter 'speed' expects a non-negative value");
      }
      job.attachCopyBeforeWrite(filter, bcs, o.speed);
      filter.setBlockingJobType("backup");
      target.setBlockingJobType("backup");
      // The job is created inside the action's drained section (and any other one of the
      // transaction that quiesces its nodes): it starts paused once per section, unless the
      // command is undrained (bug:backup-command-undrained).
      if (!o.undrained && !manager.pauseForActiveSections(job)) {
        job.beginCreationDrain();
      }
      return job;
    } catch (QmpError e) {
      if (bitmap != null) {
        DirtyBitmap.Handover handover = bitmap.reclaim();
        source.bitmaps().remove(handover.released());
      }
      BackupJob.removeFromNodes(manager, filter, target, bcs, false);
      throw e;
    }
  }
}
