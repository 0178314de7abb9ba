package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;

/**
 * The file as the engine uses it: after every request it calls back, so that the engine's
 * write scheduler can treat requests made while allocating as yield points of the request's
 * coroutine (see Qcow2WriteScheduler).
 */
final class YieldingHostFile implements HostFile {
  private final HostFile inner;
  private final Runnable afterRequest;

  YieldingHostFile(HostFile inner, Runnable afterRequest) {
    this.inner = inner;
    this.afterRequest = afterRequest;
  }

  private void issued() {
    afterRequest.run();
  }

  @Override
  public long length() {
    return inner.length();
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int length)
      throws HostIoException {
    inner.read(offset, dst, dstOffset, length);
    issued();
  }

  /** Reads as {@link #read}, running whenRead once the bytes are in, before the yield point. */
  void read(long offset, byte[] dst, int dstOffset, int length, Runnable whenRead)
      throws HostIoException {
    inner.read(offset, dst, dstOffset, length);
    whenRead.run();
    issued();
  }

  @Override
  public void write(long offset, byte[] src, int srcOffset, int length)
      throws HostIoException {
    inner.write(offset, src, srcOffset, length);
    issued();
  }

  @Override
  public void writeZeroes(long offset, long length) throws HostIoException {
    inner.writeZeroes(offset, length);
    issued();
  }

  @Override
  public void discard(long offset, long length) throws HostIoException {
    inner.discard(offset, length);
    issued();
  }

  @Override
  public void truncate(long length) throws HostIoException {
    inner.truncate(length);
    issued();
  }

  @Override
  public void flush() throws HostIoException {
    inner.flush();
    issued();
  }

  @Override
  public long allocationRun(long offset, long maxLength) {
    return inner.allocationRun(offset, maxLength);
  }
}
