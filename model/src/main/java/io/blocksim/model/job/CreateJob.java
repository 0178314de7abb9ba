package io.blocksim.model.job;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.driver.file.FileDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code blockdev-create} (block/create.c): a job of type {@code create} that writes a new image,
 * with manual dismiss. The {@code file} driver is built in; other formats come from a
 * {@link FormatCreator} registered with the job manager (qcow2).
 */
public final class CreateJob extends Job {
  private static final List<String> NOT_CREATABLE = List.of("raw", "blkdebug", "copy-on-read",
      "null-co", "copy-before-write");

  private final FormatCreator.Creation creation;

  private CreateJob(JobManager manager, String id, FormatCreator.Creation creation) {
    super(manager, id);
    this.creation = creation;
  }

  @Override
  public String type() {
    return "create";
  }

  @Override
  public boolean isBlockJob() {
    return false;
  }

  /** qmp_blockdev_create. */
  public static Object start(JobManager manager, Args args) throws QmpError {
    String jobId = args.str("job-id");
    Args options = args.optObject("options");
    if (options == null) {
      throw args.missing("options");
    }
    args.checkNoExtra();
    String driver = options.optStr("driver");
    if (driver == null) {
      throw options.missing("driver");
    }
    FormatCreator.Creation creation;
    if (driver.equals("file")) {
      creation = prepareFile(manager.layer(), options);
    } else if (NOT_CREATABLE.contains(driver)) {
      throw QmpError.generic("Driver does not support blockdev-create");
    } else {
      FormatCreator creator = manager.formatCreator(driver);
      if (creator == null) {
        // TODO(qcow2): the qcow2 engine registers its creator with registerFormatCreator.
        throw QmpError.generic("Block driver '" + driver + "' not found or not supported");
      }
      creation = creator.prepare(options);
    }
    CreateJob job = new CreateJob(manager, jobId, creation);
    job.autoDismiss = false;
    manager.create(job, null);
    manager.start(job);
    return null;
  }

  private static FormatCreator.Creation prepareFile(BlockLayer layer, Args options)
      throws QmpError {
    String filename = options.str("filename");
    long size = options.integer("size");
    options.unmodelled("preallocation", options.optEnum("preallocation",
        List.of("off", "metadata", "falloc", "full")), "off");
    options.unmodelled("nocow", options.optBool("nocow"), false);
    options.unmodelled("extent-size-hint", options.optInt("extent-size-hint"), 1L << 20);
    options.checkNoExtra();
    return () -> {
      try {
        HostFile file = layer.storage().create(filename);
        // raw_co_create: truncated to 0, then to the size (allocate_first_block).
        HostFile.truncateFile(file, size);
      } catch (HostIoException e) {
        throw QmpError.generic("Could not create '" + filename + "': "
            + HostIoException.strerror(e.errno()));
      }
    };
  }

  @Override
  protected void run() {
    setRemaining(1);
    int result = 0;
    try {
      creation.run();
    } catch (QmpError e) {
      result = -HostIoException.EIO;
      error = e.desc();
    }
    workDone(1);
    int ret = result;
    long latencyNs = manager.layer().scheduler().ioLatencyNs(0);
    manager.layer().scheduler().schedule(latencyNs, () -> runReturned(ret));
  }

  /**
   * Formats an existing host file with a registered creator, as bdrv_img_create does for
   * drive-backup: a temporary file node is named in the options under "file".
   */
  public static void formatOnFile(JobManager manager, String path, String format, long size,
      BlockNode backing, FormatCreator creator) throws QmpError {
    BlockLayer layer = manager.layer();
    HostFile file;
    try {
      file = layer.storage().open(path);
    } catch (HostIoException e) {
      throw QmpError.generic("Could not open '" + path + "': "
          + HostIoException.strerror(e.errno()));
    }
    BlockNode fileNode = new BlockNode(layer.graph().generateName(), true,
        new FileDriver(file, path));
    layer.graph().add(fileNode);
    try {
      Map<String, Object> options = new LinkedHashMap<>();
      options.put("driver", format);
      options.put("file", fileNode.name());
      options.put("size", size);
      if (backing != null) {
        options.put("backing-file", filenameOf(backing));
        options.put("backing-fmt", backing.driver().name());
      }
      creator.prepare(Args.of(options)).run();
    } finally {
      layer.graph().remove(fileNode);
    }
  }

  private static String filenameOf(BlockNode node) {
    for (BlockNode n = node; n != null; n = n.primaryChild()) {
      if (n.driver() instanceof FileDriver f) {
        return f.filename();
      }
    }
    return node.name();
  }
}
