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
  /**
   * Force unit access (BDRV_REQ_FUA): no driver in QEMU 7.2's model supports it natively, so the
   * node that receives it flushes itself after the request and before the request's completion
   * bumps its write generation (bdrv_driver_pwritev's emulate_fua, bdrv_co_do_pwrite_zeroes'
   * need_flush; bdrv_co_write_req_finish comes later), and it is not passed to children.
   */
  public static final int FUA = 1 << 3;

  private RequestFlags() {}

  public static boolean has(int flags, int flag) {
    return (flags & flag) != 0;
  }
}
