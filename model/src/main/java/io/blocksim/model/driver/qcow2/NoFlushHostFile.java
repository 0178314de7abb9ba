package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;

/** The file as qemu-img create sees it: BDRV_O_NO_FLUSH turns flushes into no-ops. */
final class NoFlushHostFile implements HostFile {
  private final HostFile inner;

  NoFlushHostFile(HostFile inner) {
    this.inner = inner;
  }

  @Override
  public long length() {
    return inner.length();
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int length)
      throws HostIoException {
    inner.read(offset, dst, dstOffset, length);
  }

  @Override
  public void write(long offset, byte[] src, int srcOffset, int length)
      throws HostIoException {
    inner.write(offset, src, srcOffset, length);
  }

  @Override
  public void writeZeroes(long offset, long length) throws HostIoException {
    inner.writeZeroes(offset, length);
  }

  @Override
  public void discard(long offset, long length) throws HostIoException {
    inner.discard(offset, length);
  }

  @Override
  public void truncate(long length) throws HostIoException {
    inner.truncate(length);
  }

  @Override
  public void flush() {}

  @Override
  public long allocationRun(long offset, long maxLength) {
    return inner.allocationRun(offset, maxLength);
  }
}
