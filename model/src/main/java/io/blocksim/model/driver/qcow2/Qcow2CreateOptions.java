package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;

/**
 * The {@code qemu-img create -f qcow2 -o ...} options the engine supports.
 *
 * @param clusterSizeBytes {@code cluster_size} (power of two, 512 B to 2 MiB; default 64 KiB)
 * @param version 3 ({@code compat=1.1}, the default) or 2 ({@code compat=0.10})
 * @param backingFile {@code backing_file}, or null
 * @param backingFormat {@code backing_fmt}, or null
 * @param refcountBits {@code refcount_bits} (default 16; v2 allows only 16)
 * @param dataFile {@code data_file}: the external data file name written to the header, or null
 * @param dataFileRaw {@code data_file_raw}: the data file stays a standalone raw image
 */
public record Qcow2CreateOptions(
    long clusterSizeBytes,
    int version,
    String backingFile,
    String backingFormat,
    int refcountBits,
    String dataFile,
    boolean dataFileRaw) {
  public Qcow2CreateOptions {
    Check.that(Long.bitCount(clusterSizeBytes) == 1, "cluster size (%d) is not a power of two",
        clusterSizeBytes);
    Check.that(clusterSizeBytes >= 512 && clusterSizeBytes <= 2 * 1024 * 1024,
        "cluster size (%d) outside 512..2M", clusterSizeBytes);
    Check.that(version == 2 || version == 3, "version (%d) is neither 2 nor 3", version);
    Check.that(Integer.bitCount(refcountBits) == 1 && refcountBits <= 64,
        "refcount bits (%d) not a power of two up to 64", refcountBits);
    if (version == 2) {
      Check.that(refcountBits == 16, "v2 image needs 16 refcount bits, not %d", refcountBits);
    }
    if (backingFormat != null) {
      Check.that(backingFile != null, "backing format '%s' without backing file", backingFormat);
    }
    Check.that(!dataFileRaw || dataFile != null, "data_file_raw without data_file");
    Check.that(!dataFileRaw || backingFile == null, "data_file_raw with a backing file");
    Check.that(dataFile == null || version == 3, "data file on a v%d image", version);
  }

  /** Options without an external data file. */
  public Qcow2CreateOptions(long clusterSizeBytes, int version, String backingFile,
      String backingFormat, int refcountBits) {
    this(clusterSizeBytes, version, backingFile, backingFormat, refcountBits, null, false);
  }

  /** Returns qemu-img's defaults: 64 KiB clusters, v3, no backing file, 16-bit refcounts. */
  public static Qcow2CreateOptions defaults() {
    return new Qcow2CreateOptions(65536, 3, null, null, 16, null, false);
  }

  /** Returns these options with another cluster size. */
  public Qcow2CreateOptions withClusterSize(long bytes) {
    return new Qcow2CreateOptions(bytes, version, backingFile, backingFormat, refcountBits,
        dataFile, dataFileRaw);
  }

  /** Returns these options with {@code compat=0.10} (2) or {@code compat=1.1} (3). */
  public Qcow2CreateOptions withVersion(int v) {
    return new Qcow2CreateOptions(clusterSizeBytes, v, backingFile, backingFormat, refcountBits,
        dataFile, dataFileRaw);
  }

  /** Returns these options with a backing file name and format (format may be null). */
  public Qcow2CreateOptions withBacking(String file, String format) {
    return new Qcow2CreateOptions(clusterSizeBytes, version, file, format, refcountBits,
        dataFile, dataFileRaw);
  }

  /** Returns these options with another refcount width. */
  public Qcow2CreateOptions withRefcountBits(int bits) {
    return new Qcow2CreateOptions(clusterSizeBytes, version, backingFile, backingFormat, bits,
        dataFile, dataFileRaw);
  }

  /** Returns these options with an external data file name, raw or not (name may be null). */
  public Qcow2CreateOptions withDataFile(String name, boolean raw) {
    return new Qcow2CreateOptions(clusterSizeBytes, version, backingFile, backingFormat,
        refcountBits, name, raw);
  }
}
