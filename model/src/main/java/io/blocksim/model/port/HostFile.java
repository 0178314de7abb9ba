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

  /**
   * Resizes a regular file as file-posix does without preallocation (handle_aiocb_truncate, for
   * raw_co_truncate and raw_co_create alike): ftruncate, and when that grows an empty file,
   * allocate_first_block writes zeroes at offset 0 so that later alignment probing reads an
   * allocated block: 512 bytes when the new length is under 4 KiB (MAX_BLOCKSIZE), else 4 KiB.
   * The page it allocates shows in the file's allocated size ({@code actual-size}, {@code disk
   * size}); a 512-byte write into a shorter file lengthens it, as pwrite does.
   */
  static void truncateFile(HostFile file, long length) throws HostIoException {
    boolean wasEmpty = file.length() == 0;
    file.truncate(length);
    if (wasEmpty && length > 0) {
      int first = length < 4096 ? 512 : 4096;
      file.write(0, new byte[first], 0, first);
    }
  }

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
