package io.blocksim.model.driver.qcow2;

/**
 * Runtime options of an opened image (the qcow2 blockdev-add options the engine models).
 *
 * @param readOnly open without write access
 * @param l2CacheSizeBytes {@code l2-cache-size}, or -1 for QEMU's default (enough to cover the
 *     whole disk, at most 32 MiB; 4 KiB slices when that does not cover the disk)
 * @param refcountCacheSizeBytes {@code refcount-cache-size}, or -1 for the default (4 clusters)
 * @param discardUnmap the node was opened with {@code discard=unmap}: QEMU then passes guest
 *     discards through to the file ({@code pass-discard-request} defaults to on) and the file
 *     node honours discards of freed clusters; with the default {@code discard=ignore} the file
 *     never sees a discard from qcow2
 */
public record Qcow2OpenOptions(
    boolean readOnly,
    long l2CacheSizeBytes,
    long refcountCacheSizeBytes,
    boolean discardUnmap) {
  /** Returns QEMU's defaults, read-only or read-write. */
  public static Qcow2OpenOptions defaults(boolean readOnly) {
    return new Qcow2OpenOptions(readOnly, -1, -1, false);
  }
}
