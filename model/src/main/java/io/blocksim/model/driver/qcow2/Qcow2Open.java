package io.blocksim.model.driver.qcow2;

import static io.blocksim.model.driver.qcow2.Qcow2State.ceilDiv;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;

/**
 * Creating and opening images, following block/qcow2.c: qcow2_co_create writes a new image,
 * qcow2_do_open validates the header and reads the tables, read_cache_sizes sizes the caches
 * from the runtime options. {@link Qcow2Image}'s static methods are the public face of these.
 */
final class Qcow2Open {
  static final long DEFAULT_L2_CACHE_MAX_SIZE = 32L * 1024 * 1024;
  static final int MIN_L2_CACHE_ENTRIES = 2;
  static final int MIN_REFCOUNT_CACHE_CLUSTERS = 4;

  private Qcow2Open() {}

  /** The cache sizes qcow2_update_options_prepare applies. */
  record CacheSizes(int l2Entries, int l2EntryBytes, int refcountEntries) {}

  /** See {@link Qcow2Image#create(HostFile, HostFile, long, Qcow2CreateOptions)}. */
  static void create(HostFile file, HostFile dataFile, long sizeBytes, Qcow2CreateOptions o)
      throws HostIoException {
    Check.that(sizeBytes >= 0, "image size (%d) negative", sizeBytes);
    if (sizeBytes % 512 != 0) {
      throw new HostIoException(HostIoException.EINVAL,
          "Image size must be a multiple of 512 bytes");
    }
    int cs = (int) o.clusterSizeBytes();
    file.truncate(0);
    byte[] first = new byte[cs];
    Bytes.putInt(first, 0, Qcow2Header.MAGIC);
    Bytes.putInt(first, 4, o.version());
    Bytes.putInt(first, 20, Integer.numberOfTrailingZeros(cs));
    Bytes.putLong(first, 48, cs);
    Bytes.putInt(first, 56, 1);
    Bytes.putInt(first, 96, Integer.numberOfTrailingZeros(o.refcountBits()));
    Bytes.putInt(first, 100, Qcow2Header.V3_LENGTH);
    if (dataFile != null) {
      Check.that(o.dataFile() != null && o.version() == 3, "data file without name or v3");
      Bytes.putLong(first, 72, Qcow2Header.INCOMPAT_DATA_FILE);
      if (o.dataFileRaw()) {
        Bytes.putLong(first, 88, Qcow2Header.AUTOCLEAR_DATA_FILE_RAW);
      }
    }
    file.write(0, first, 0, cs);
    byte[] reftable = new byte[2 * cs];
    Bytes.putLong(reftable, 0, 2L * cs);
    file.write(cs, reftable, 0, reftable.length);

    // QEMU opens the image with BDRV_O_NO_FLUSH until the final reopen; flushes are no-ops.
    HostFile noFlush = new NoFlushHostFile(file);
    // The header just written, parsed from the bytes written rather than read back.
    Qcow2Header h = Qcow2Header.parse(first, false);
    if (o.version() == 2) {
      h.refcountOrder = 4;
    }
    Qcow2Image image = openParsed(noFlush, dataFile == null ? null
        : new NoFlushHostFile(dataFile), h, Qcow2OpenOptions.defaults(false), Qcow2Events.NONE);
    Qcow2State s = image.s;
    long headerClusters = s.refcounts.allocClusters(3L * cs);
    Check.that(headerClusters == 0, "first cluster of a new image at %d", headerClusters);
    if (dataFile != null) {
      s.header.dataFile = o.dataFile();
    }
    s.updateHeader();
    image.map.growL1Table(image.map.sizeToL1(sizeBytes), true);
    if (dataFile != null && o.dataFileRaw()) {
      image.writer.preallocateMetadata(0, sizeBytes);
    } else if (dataFile != null && dataFile.length() < sizeBytes) {
      // qcow2_co_truncate forwards the resize (not exact) to the data file.
      Qcow2Writer.growDataFile(dataFile, sizeBytes);
    }
    s.header.size = sizeBytes;
    s.writeSync(Qcow2Header.OFFSET_SIZE, Bytes.ofLong(sizeBytes));
    if (o.backingFile() != null) {
      s.header.backingFile = o.backingFile();
      s.header.backingFormat = o.backingFormat();
      s.updateHeader();
    }
    image.close();
    file.flush();
  }

  /**
   * Reads and parses the header (failing with QEMU's message on a bad one); the first cluster
   * is read whole once the cluster size is known.
   */
  static Qcow2Header readHeader(HostFile file, boolean readOnly) throws HostIoException {
    byte[] probe = new byte[Qcow2Header.V3_LENGTH];
    file.read(0, probe, 0, probe.length);
    int clusterBits = Bytes.getInt(probe, 20);
    int cs = clusterBits >= 9 && clusterBits <= 21 ? 1 << clusterBits : probe.length;
    // QEMU reads the header, each extension and the backing file name (qcow2_do_open,
    // qcow2_read_extensions), never the rest of the first cluster: its first page is read, and
    // the whole cluster only when the extensions or the name reach past that page (each open
    // read and allocated the whole 64 KiB; the corpus opens about 10,000 images).
    byte[] first = readFirstCluster(file, Math.min(cs, FIRST_READ_BYTES));
    if (first.length < cs && !Qcow2Header.parsedWithin(first)) {
      first = readFirstCluster(file, cs);
    }
    return Qcow2Header.parse(first, readOnly);
  }

  private static final int FIRST_READ_BYTES = 4096;

  private static byte[] readFirstCluster(HostFile file, int clusterSize) throws HostIoException {
    byte[] first = new byte[Math.max(clusterSize, Qcow2Header.V3_LENGTH)];
    file.read(0, first, 0, first.length);
    return first;
  }

  /** The rest of qcow2_do_open once the header is parsed. */
  static Qcow2Image openParsed(HostFile file, HostFile dataFile, Qcow2Header h,
      Qcow2OpenOptions options, Qcow2Events events) throws HostIoException {
    long cs = h.clusterSize();
    validateTable(h.refcountTableOffset, (long) h.refcountTableClusters * cs / 8,
        Qcow2Refcounts.MAX_REFTABLE_SIZE, "Reference count table", cs);
    validateTable(h.l1TableOffset, Integer.toUnsignedLong(h.l1Size),
        Qcow2Image.MAX_L1_SIZE_BYTES, "Active L1 table", cs);
    int shift = h.clusterBits + h.clusterBits - 3;
    long l1VmStateIndex = (h.size + (1L << shift) - 1) >>> shift;
    if (l1VmStateIndex > Integer.MAX_VALUE) {
      throw new HostIoException(HostIoException.EFBIG, "Image is too big");
    }
    if (h.l1Size < l1VmStateIndex) {
      throw new HostIoException(HostIoException.EINVAL, "L1 table is too small");
    }
    Qcow2Image image = new Qcow2Image(file, dataFile, h, options);
    image.setEventListener(events);
    image.map.loadL1Table();
    image.s.refcounts.load();
    // qcow2_do_open: unknown autoclear bits and a dropped bitmaps extension need a header
    // update, which loading the bitmaps may already have done in place.
    boolean updateHeader = !options.readOnly()
        && ((h.autoclearFeatures & ~Qcow2Header.AUTOCLEAR_MASK) != 0 || h.bitmapsExtensionDropped);
    if (updateHeader) {
      h.autoclearFeatures &= Qcow2Header.AUTOCLEAR_MASK;
    }
    boolean loadUpdates = !options.readOnly() && h.nbBitmaps > 0;
    image.loadBitmaps(!options.readOnly());
    if (updateHeader && !(loadUpdates && image.hasUsableBitmapsLoaded())) {
      image.updateHeader();
    }
    return image;
  }

  /** qcow2_validate_table. */
  private static void validateTable(long offset, long entries, long maxBytes, String name,
      long clusterSize) throws HostIoException {
    if (entries > maxBytes / 8) {
      throw new HostIoException(HostIoException.EFBIG, name + " too large");
    }
    long size = entries * 8;
    if (offset < 0 || offset > Long.MAX_VALUE - size || (offset & (clusterSize - 1)) != 0) {
      throw new HostIoException(HostIoException.EINVAL,
          name + " offset invalid; image may be corrupt");
    }
  }

  /**
   * Returns the cache sizes as read_cache_sizes and qcow2_update_options_prepare compute them.
   * By default the L2 cache covers the whole disk up to 32 MiB (one entry per L2 table); when
   * it cannot, entries become 4 KiB slices, which is what makes l2_load happen at QEMU's
   * moments on large disks.
   */
  static CacheSizes cacheSizes(Qcow2Header header, Qcow2OpenOptions options) {
    long clusterSize = header.clusterSize();
    long maxL2Entries = ceilDiv(header.size / 512 * 512, clusterSize);
    long maxL2Cache = ceilDiv(maxL2Entries * 8, clusterSize) * clusterSize;
    long setting = options.l2CacheSizeBytes() >= 0 ? options.l2CacheSizeBytes()
        : DEFAULT_L2_CACHE_MAX_SIZE;
    long l2CacheSize = Math.min(maxL2Cache, setting);
    long entrySize = clusterSize;
    if (l2CacheSize < maxL2Cache) {
      entrySize = Math.min(clusterSize, 4096);
    }
    long l2Entries = Math.max(l2CacheSize / entrySize, MIN_L2_CACHE_ENTRIES);
    long refcountBytes = Math.max(options.refcountCacheSizeBytes(), 0);
    long refcountEntries = Math.max(refcountBytes / clusterSize, MIN_REFCOUNT_CACHE_CLUSTERS);
    Check.that(l2Entries <= Integer.MAX_VALUE, "L2 cache entries (%d) too many", l2Entries);
    return new CacheSizes((int) l2Entries, (int) entrySize, (int) refcountEntries);
  }
}
