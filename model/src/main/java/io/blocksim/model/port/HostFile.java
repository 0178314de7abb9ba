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

  /** Returns the bytes the host file system allocates for the file (st_blocks * 512). */
  default long allocatedBytes() {
    long total = 0;
    long length = length();
    for (long offset = 0; offset < length; ) {
      long run = allocationRun(offset, length - offset);
      if (run > 0) {
        total += run;
      }
      offset += Math.abs(run);
    }
    // File systems allocate whole 4 KiB blocks.
    return (total + 4095) & ~4095L;
  }
}
