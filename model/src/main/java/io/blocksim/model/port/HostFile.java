package io.blocksim.model.port;

/**
 * One file of the host file system (the fake disk in the simulator). Operations are synchronous at
 * the data level; their duration is modelled by the caller through {@link Scheduler#ioLatencyNs}.
 * Reads past the end return zeroes; writes past the end extend the file.
 */
public interface HostFile {
  /** Returns the file length in bytes. */
  long length();

  /** Reads bytes into dst. */
  void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException;

  /** Writes bytes from src. */
  void write(long offset, byte[] src, int srcOffset, int length) throws HostIoException;

  /** Writes zeroes (the range may become a hole). */
  void writeZeroes(long offset, long length) throws HostIoException;

  /** Punches a hole: the range reads as zeroes afterwards. */
  void discard(long offset, long length) throws HostIoException;

  /** Sets the file length, zero-filling when growing. */
  void truncate(long length) throws HostIoException;

  /** Makes every completed write durable. */
  void flush() throws HostIoException;

  /**
   * Returns the length of the run starting at offset (at most maxLength) that is uniformly data
   * (positive) or uniformly hole (negative). Never returns 0 for maxLength > 0.
   */
  long allocationRun(long offset, long maxLength);
}
