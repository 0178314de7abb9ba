package io.blocksim.model.driver.qcow2;

/**
 * Runtime options of an opened image (the qcow2 blockdev-add options the engine models).
 *
 * @param readOnly open without write access
 * @param l2CacheSizeBytes {@code l2-cache-size}, or -1 for QEMU's default (enough to cover the
 *     whole disk, at most 32 MiB; 4 KiB slices when that does not cover the disk)
 * @param refcountCacheSizeBytes {@code refcount-cache-size}, or -1 for the default (4 clusters)
 * @param discardUnmap the node was opened with {@code discard=unmap}: QEMU then passes discards
 *     of clusters freed on request (guest discards, zero writes with MAY_UNMAP) through to the
 *     file ({@code pass-discard-request} defaults to on)
 * @param fileUnmap the file child was opened with {@code discard=unmap}: bdrv_co_pdiscard on it
 *     does anything at all (QCOW2_DISCARD_ALWAYS ones too)
 */
public record Qcow2OpenOptions(
    boolean readOnly,
    long l2CacheSizeBytes,
    long refcountCacheSizeBytes,
    boolean discardUnmap,
    boolean fileUnmap) {
  /** Options whose node and file child share one discard setting. */
  public Qcow2OpenOptions(boolean readOnly, long l2CacheSizeBytes, long refcountCacheSizeBytes,
      boolean discardUnmap) {
    this(readOnly, l2CacheSizeBytes, refcountCacheSizeBytes, discardUnmap, discardUnmap);
  }

  /** Returns QEMU's defaults, read-only or read-write. */
  public static Qcow2OpenOptions defaults(boolean readOnly) {
    return new Qcow2OpenOptions(readOnly, -1, -1, false);
  }
}
