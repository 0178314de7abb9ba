package io.blocksim.model.driver.file;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.Driver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.List;
import java.util.Map;

/** The {@code file} protocol driver: a host file of the case's scratch directory. */
public final class FileDriver implements Driver {
  /** Opens a {@code file} node (QEMU's raw_open in file-posix.c). */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    String filename = args.str("filename");
    String aio = args.optEnum("aio", List.of("threads", "native", "io_uring"));
    args.unmodelled("aio", aio, "threads", "native");
    // "auto" (QEMU's default: OFD locks exist on Linux) and "on" take the lock bytes of the
    // node's permissions (raw_handle_perm_lock), which qemu-img steps check (FileLocks); "off"
    // takes none. Two file nodes of the daemon on one file test each other's bytes too
    // (FileLocks.Table, BlockLayer.checkLocks).
    String locking = args.optEnum("locking", List.of("auto", "on", "off"));
    args.unmodelled("pr-manager", args.optStr("pr-manager"));
    args.unmodelled("drop-cache", args.optBool("drop-cache"), true);
    args.unmodelled("x-check-cache-dropped", args.optBool("x-check-cache-dropped"), false);
    args.unmodelled("aio-max-batch", args.optInt("aio-max-batch"), 0L);
    HostFile file;
    try {
      file = layer.storage().open(filename);
    } catch (HostIoException e) {
      throw QmpError.generic("Could not open '" + filename + "': "
          + HostIoException.strerror(e.errno()));
    }
    if ("native".equals(aio)) {
      // raw_open_common: Linux AIO needs O_DIRECT, and cache.direct=on is refused as not
      // modelled before a file node opens, so aio=native always fails as in QEMU without it.
      throw QmpError.generic("aio=native was specified, but it requires cache.direct=on, which"
          + " was not specified.");
    }
    node.setDriver(new FileDriver(file, filename, !"off".equals(locking)));
  }

  private final HostFile file;
  private final String filename;
  private final boolean locking;

  public FileDriver(HostFile file, String filename) {
    this(file, filename, true);
  }

  public FileDriver(HostFile file, String filename, boolean locking) {
    this.file = file;
    this.filename = filename;
    this.locking = locking;
  }

  @Override
  public String lockedFile() {
    return locking ? filename : null;
  }

  @Override
  public HostFile hostFile() {
    return file;
  }

  @Override
  public String filename() {
    return filename;
  }

  @Override
  public String name() {
    return "file";
  }

  @Override
  public long length() {
    return file.length();
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    file.read(offset, buf, pos, length);
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    file.write(offset, buf, pos, length);
  }

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    // raw_do_pwrite_zeroes: with MAY_UNMAP (which bdrv_co_pwrite_zeroes keeps only on a child
    // opened with discard=unmap, but a BlockBackend's root always keeps, see
    // BlockIo.blkWriteZeroes) handle_aiocb_write_zeroes_unmap punches a hole (KEEP_SIZE, so only
    // inside the file); otherwise handle_aiocb_write_zeroes uses FALLOC_FL_ZERO_RANGE, which
    // leaves the range allocated.
    if (RequestFlags.has(flags, RequestFlags.MAY_UNMAP)
        && offset + length <= file.length()) {
      file.discard(offset, length);
    } else {
      file.writeZeroes(offset, length);
    }
  }

  @Override
  public void discard(BlockNode node, long offset, long length) throws HostIoException {
    file.discard(offset, length);
  }

  /** raw_co_truncate of file-posix: ftruncate, any size (see {@link HostFile#truncateFile}). */
  @Override
  public void truncate(BlockNode node, long length) throws HostIoException {
    HostFile.truncateFile(file, length);
  }



  @Override
  public void flushToDisk(BlockNode node) throws HostIoException {
    file.flush();
  }

  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength) {
    long run = file.allocationRun(offset, maxLength);
    // A protocol node decides its own contents: holes read as zeroes (SEEK_HOLE).
    return run > 0 ? BlockStatus.data(run) : BlockStatus.zero(-run);
  }

  @Override
  public Long allocatedFileSize(BlockNode node) {
    return hostFile().allocatedBytes();
  }
}
