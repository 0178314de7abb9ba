package io.blocksim.sim.disk;

/**
 * One completed mutating request or flush on the fake disk, as seen by a {@link DiskOpListener}.
 * {@code sequence} counts these requests on the whole disk from 1; reads are not counted. For
 * {@link Kind#TRUNCATE}, {@code lengthBytes} is the new file length and {@code offsetBytes} is 0;
 * for {@link Kind#FLUSH} both are 0.
 */
public record DiskOp(long sequence, String path, Kind kind, long offsetBytes, long lengthBytes) {

  /** What the request did. */
  public enum Kind {
    WRITE,
    WRITE_ZEROES,
    DISCARD,
    TRUNCATE,
    FLUSH
  }
}
