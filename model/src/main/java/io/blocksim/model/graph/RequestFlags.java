package io.blocksim.model.graph;

/** QEMU's BdrvRequestFlags that matter to the simulated block layer. */
public final class RequestFlags {
  public static final int NONE = 0;
  /** The write leaves guest-visible data unchanged (copy-on-read, stream). */
  public static final int WRITE_UNCHANGED = 1 << 0;
  /** A write-zeroes request may punch a hole. */
  public static final int MAY_UNMAP = 1 << 1;
  /** Copy-on-read population write: bypasses the tracked write path (no bitmap dirtying). */
  public static final int COPY_ON_READ_POPULATE = 1 << 2;

  private RequestFlags() {}

  public static boolean has(int flags, int flag) {
    return (flags & flag) != 0;
  }
}
