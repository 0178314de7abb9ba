package io.blocksim.model.driver.file;

import io.blocksim.model.driver.BlockStatus;
import io.blocksim.model.driver.Driver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;

/** The {@code file} protocol driver: a host file of the case's scratch directory. */
public final class FileDriver implements Driver {
  private final HostFile file;
  private final String filename;

  public FileDriver(HostFile file, String filename) {
    this.file = file;
    this.filename = filename;
  }

  public HostFile hostFile() {
    return file;
  }

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
    file.writeZeroes(offset, length);
  }

  @Override
  public void discard(BlockNode node, long offset, long length) throws HostIoException {
    file.discard(offset, length);
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
}
