package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;
import io.blocksim.model.driver.qcow2.Qcow2Refcounts.DiscardType;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.LinkedList;
import java.util.List;
import java.util.Locale;

/**
 * A qcow2 image over a {@link HostFile}, laid out on disk exactly as QEMU 7.2 lays it out. The
 * engine is synchronous and has no clock: every guest request runs to completion, and the caller
 * models latency. It follows block/qcow2.c, qcow2-cluster.c, qcow2-refcount.c and qcow2-cache.c
 * function by function, so that host offsets, the order and size of host requests, the blkdebug
 * events in between, and the metadata left on disk after a crash are QEMU's.
 *
 * <p>Fault model: every host request may fail with a {@link HostIoException}; the request then
 * fails with the same errno and the engine undoes in memory what QEMU undoes. Metadata is written
 * in QEMU's order: data before the L2 entry that points to it (the L2 cache depends on a file
 * flush after COW), refcounts before the L2 entries that use them (the L2 cache depends on the
 * refcount cache), a new L2 table before the L1 entry that points to it (written with a flush).
 * A crash at any point therefore leaves an image that {@code qemu-img check} may report leaks in,
 * but never corruption.
 *
 * <p>Caches: the L2 cache has QEMU's default size (enough entries to map the whole disk, at
 * most 32 MiB; when that is not enough, entries are 4 KiB slices, e.g. 8192 slices for a 1 TiB
 * disk at 64 KiB clusters) and the refcount cache 4 clusters, with QEMU's LRU slots, so cache
 * misses ({@code l2_load}) and write-backs happen when QEMU's happen. The time-based cache
 * cleaning ({@code cache-clean-interval}, 600 s) is not modelled: the engine has no clock.
 *
 * <p>Guest writes that QEMU splits into several host runs run as parallel coroutines there;
 * the engine replays that with {@link WriteScheduler}, a deterministic stand-in for QEMU's
 * thread-pool timing. Their host requests are QEMU's, but the order of requests between
 * concurrently running runs can differ from one QEMU run to the next, and so from the engine.
 *
 * <p>An external data file (incompatible bit 2, extension 0x44415441) holds the data clusters at
 * their guest offsets; the qcow2 file keeps the metadata (and persistent bitmaps), and data
 * clusters are not refcounted. With {@code data-file-raw} every cluster is mapped 1:1 at
 * creation and zero writes reach the data file too, so it reads as the disk on its own.
 *
 * <p>Not modelled (open fails with ENOTSUP): encryption, extended L2 entries,
 * the dirty bit (lazy refcounts), zstd compression. Compressed clusters are read (zlib), never
 * written. Internal snapshots are neither read nor written; clusters they share are handled
 * (COW on write) because the engine honours the COPIED flag. Persistent bitmaps (extension
 * 0x23852875) are loaded at open, marked in use, stored and removed as QEMU does it (see
 * {@link Qcow2Bitmaps}); their in-memory form belongs to the node layer. Guest requests of the generic block layer (alignment of
 * write-zeroes and discard, the zero-buffer fallback) are done here; request tracking, dirty
 * bitmaps, {@code discard=ignore} and the flush events belong to the node layer.
 */
public final class Qcow2Image {
  static final long L1E_OFFSET_MASK = 0x00fffffffffffe00L;
  static final long L2E_OFFSET_MASK = 0x00fffffffffffe00L;
  static final long OFLAG_COPIED = 1L << 63;
  static final long OFLAG_COMPRESSED = 1L << 62;
  static final long OFLAG_ZERO = 1L;
  static final long MAX_L1_SIZE_BYTES = 32L * 1024 * 1024;
  static final long REQUEST_MAX_BYTES = (Integer.MAX_VALUE >> 9) << 9;
  /** QEMU's MAX_BOUNCE_BUFFER: the chunk size of the write-zeroes fallback. */
  static final int MAX_BOUNCE_BUFFER = 32768 << 9;
  static final long DEFAULT_L2_CACHE_MAX_SIZE = 32L * 1024 * 1024;
  static final int MIN_L2_CACHE_ENTRIES = 2;
  static final int MIN_REFCOUNT_CACHE_CLUSTERS = 4;
  private static final long INVALID_OFFSET = -1;

  private final HostFile file;
  /**
   * Where data clusters live: the qcow2 file itself, the external data file, or null when the
   * image has a data file that was not opened (qemu-img info's BDRV_O_NO_IO).
   */
  private final HostFile data;
  private final boolean hasDataFile;
  private final Qcow2Header header;
  private final boolean readOnly;
  private final boolean discardUnmap;
  private final int clusterBits;
  private final long clusterSize;
  private final int l2Bits;
  private final int l2Size;
  private final int l2SliceSize;
  private final Qcow2Refcounts refcounts;
  private final Qcow2Cache<L2Slice> l2Cache;
  private long[] l1Table;
  private Qcow2Events listener = Qcow2Events.NONE;
  private BackingReader backing;
  private boolean metadataPreallocationChecked;
  private Corruption corruption;
  private boolean unusable;
  /** The task scheduler of the guest write in progress, or null (see WriteScheduler). */
  private WriteScheduler scheduler;
  private boolean metadataPreallocation;
  private final Qcow2Bitmaps bitmaps;
  private List<LoadedBitmap> loadedBitmaps = List.of();

  /**
   * A bitmap directory entry as {@code qemu-img info} shows it: flags bit 0 {@code in-use}, bit
   * 1 {@code auto}.
   */
  public record BitmapEntry(String name, int granularityBits, int flags, long tableOffset,
      int tableSize) {
    public static final int IN_USE = Qcow2Bitmaps.FLAG_IN_USE;
    public static final int AUTO = Qcow2Bitmaps.FLAG_AUTO;

    public long granularityBytes() {
      return 1L << granularityBits;
    }
  }

  /**
   * A bitmap found at open, in directory order: enabled when its entry had {@code auto};
   * inconsistent (no data) when its entry was already in use; data is the serialized bitmap
   * (64-bit little-endian words, LSB first), as {@code HBitmap.deserialize} takes it.
   */
  public record LoadedBitmap(String name, long granularityBytes, boolean enabled,
      boolean inconsistent, byte[] data) {}

  /**
   * A persistent bitmap to store on close, in the node's list order: data as
   * {@code HBitmap.serialize} makes it; a readonly bitmap is never rewritten.
   */
  public record BitmapToStore(String name, long granularityBytes, boolean enabled,
      boolean readonly, byte[] serialized) {}

  /** QEMU's errno for requests to a node whose driver was dropped after fatal corruption. */
  public static final int ENOMEDIUM = 123;

  /**
   * A corruption QEMU would signal (qcow2_signal_corruption): the node layer emits
   * BLOCK_IMAGE_CORRUPTED with this message. A fatal one (image writable) has set the corrupt
   * bit in the header and made the image unusable: every later request fails with ENOMEDIUM.
   */
  public record Corruption(String message, boolean fatal) {}

  /** The cluster types of qcow2_get_cluster_type (no extended L2, so subcluster = cluster). */
  enum ClusterType { UNALLOCATED, NORMAL, COMPRESSED, ZERO_PLAIN, ZERO_ALLOC }

  /** Result of qcow2_get_host_offset: a run of one type, contiguous on the host. */
  private record Mapping(long bytes, long hostOffset, ClusterType type) {}

  /** QEMU's QCowL2Meta: one allocation waiting for its L2 update. */
  private static final class L2Meta {
    long allocOffset;
    long offset;
    int clusterCount;
    boolean keepOld;
    long cowStartOffset;
    long cowStartBytes;
    long cowEndOffset;
    long cowEndBytes;
    boolean skipCow;
    byte[] data;
    int dataOffset;
  }

  /** The in/out arguments of handle_copied and handle_alloc. */
  private static final class AllocCursor {
    long clusterOffset = INVALID_OFFSET;
    long bytes;
    final LinkedList<L2Meta> metas = new LinkedList<>();
  }

  private Qcow2Image(HostFile hostFile, HostFile dataHostFile, Qcow2Header header,
      Qcow2OpenOptions options) throws HostIoException {
    Runnable onSubmit = () -> {
      WriteScheduler s = scheduler;
      if (s != null && s.mainInAlloc && s.current == s.main) {
        s.mainSubmitted();
      }
    };
    this.file = new YieldingHostFile(hostFile, onSubmit);
    this.hasDataFile = header.hasDataFile();
    if (!hasDataFile) {
      this.data = file;
    } else {
      this.data = dataHostFile == null ? null : new YieldingHostFile(dataHostFile, onSubmit);
    }
    this.header = header;
    this.readOnly = options.readOnly();
    this.discardUnmap = options.discardUnmap();
    this.clusterBits = header.clusterBits;
    this.clusterSize = 1L << clusterBits;
    this.l2Bits = clusterBits - 3;
    this.l2Size = 1 << l2Bits;
    Qcow2Events dispatch = name -> listener.event(name);
    long[] sizes = cacheSizes(options);
    this.l2SliceSize = (int) (sizes[1] / 8);
    this.l2Cache = new Qcow2Cache<>("L2 table", file, dispatch, L2Slice.codec(l2SliceSize),
        (int) sizes[0], (int) sizes[1], "l2_update", "l2_load");
    this.refcounts = new Qcow2Refcounts(file, dispatch, header, (int) sizes[2],
        options.discardUnmap(), options.discardUnmap());
    refcounts.attachL2Cache(l2Cache);
    refcounts.onCorruption = this::signalCorruption;
    this.bitmaps = new Qcow2Bitmaps(this, header, file, refcounts);
  }

  // ---------------------------------------------------------------- creation and opening

  /**
   * Writes a new empty image into file, byte for byte what {@code qemu-img create -f qcow2}
   * writes with the same options (qcow2_co_create: header, refcount table and block, then the
   * L1 table, then the backing file). The file is truncated first.
   */
  public static void create(HostFile file, long sizeBytes, Qcow2CreateOptions o)
      throws HostIoException {
    create(file, null, sizeBytes, o);
  }

  /**
   * Writes a new empty image as {@link #create(HostFile, long, Qcow2CreateOptions)} does, with
   * an external data file when dataFile is given ({@code data_file}, whose name the options
   * carry): qcow2_co_create sets the incompatible bit, names the file in the header and, for
   * {@code data_file_raw}, preallocates the metadata so every cluster maps 1:1; the data file
   * is grown to the image size. The data file's contents are left alone.
   */
  public static void create(HostFile file, HostFile dataFile, long sizeBytes,
      Qcow2CreateOptions o) throws HostIoException {
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
    Qcow2Header h = Qcow2Header.parse(readFirstCluster(noFlush, cs), false);
    if (o.version() == 2) {
      h.refcountOrder = 4;
    }
    Qcow2Image image = openParsed(noFlush, dataFile == null ? null
        : new NoFlushHostFile(dataFile), h, Qcow2OpenOptions.defaults(false), Qcow2Events.NONE);
    long headerClusters = image.refcounts.allocClusters(3L * cs);
    Check.that(headerClusters == 0, "first cluster of a new image at %d", headerClusters);
    if (dataFile != null) {
      image.header.dataFile = o.dataFile();
    }
    image.updateHeader();
    image.growL1Table(image.sizeToL1(sizeBytes), true);
    if (dataFile != null && o.dataFileRaw()) {
      image.preallocateMetadata(0, sizeBytes);
    } else if (dataFile != null && dataFile.length() < sizeBytes) {
      // qcow2_co_truncate forwards the resize (not exact) to the data file.
      growDataFile(dataFile, sizeBytes);
    }
    image.header.size = sizeBytes;
    image.writeSync(Qcow2Header.OFFSET_SIZE, Bytes.ofLong(sizeBytes));
    if (o.backingFile() != null) {
      image.header.backingFile = o.backingFile();
      image.header.backingFormat = o.backingFormat();
      image.updateHeader();
    }
    image.close();
    file.flush();
  }

  /** Opens an image with QEMU's default runtime options. */
  public static Qcow2Image open(HostFile file, boolean readOnly) throws HostIoException {
    return open(file, Qcow2OpenOptions.defaults(readOnly));
  }

  /**
   * Parses and validates the header, reads the L1 and refcount tables (qcow2_do_open). Errors
   * carry QEMU's message and errno.
   */
  public static Qcow2Image open(HostFile file, Qcow2OpenOptions options) throws HostIoException {
    return open(file, options, Qcow2Events.NONE);
  }

  /** Opens an image and raises the events of opening (reftable_load) on events already. */
  public static Qcow2Image open(HostFile file, Qcow2OpenOptions options, Qcow2Events events)
      throws HostIoException {
    byte[] probe = new byte[Qcow2Header.V3_LENGTH];
    file.read(0, probe, 0, probe.length);
    int clusterBits = Bytes.getInt(probe, 20);
    int cs = clusterBits >= 9 && clusterBits <= 21 ? 1 << clusterBits : probe.length;
    Qcow2Header h = Qcow2Header.parse(readFirstCluster(file, cs), options.readOnly());
    return openParsed(file, null, h, options, events);
  }

  /**
   * Opens an image whose data clusters live in dataFile (null: the image has none, or it is not
   * opened, as qemu-img info does not open it; data I/O then fails with EIO). Checks what
   * qcow2_do_open checks about the {@code data-file} child.
   */
  public static Qcow2Image open(HostFile file, HostFile dataFile, Qcow2OpenOptions options,
      Qcow2Events events) throws HostIoException {
    byte[] probe = new byte[Qcow2Header.V3_LENGTH];
    file.read(0, probe, 0, probe.length);
    int clusterBits = Bytes.getInt(probe, 20);
    int cs = clusterBits >= 9 && clusterBits <= 21 ? 1 << clusterBits : probe.length;
    Qcow2Header h = Qcow2Header.parse(readFirstCluster(file, cs), options.readOnly());
    if (!h.hasDataFile() && dataFile != null) {
      throw new HostIoException(HostIoException.EINVAL,
          "'data-file' can only be set for images with an external data file");
    }
    return openParsed(file, dataFile, h, options, events);
  }

  /** What an image's header says about its external data file. */
  public record DataFileInfo(boolean hasDataFile, String dataFileName, boolean dataFileIsRaw) {}

  /**
   * Parses the header of the image in file (failing as {@link #open} would on a bad header)
   * and returns its data file fields, so the caller can open the data-file child first.
   */
  public static DataFileInfo dataFileInfo(HostFile file, boolean readOnly)
      throws HostIoException {
    byte[] probe = new byte[Qcow2Header.V3_LENGTH];
    file.read(0, probe, 0, probe.length);
    int clusterBits = Bytes.getInt(probe, 20);
    int cs = clusterBits >= 9 && clusterBits <= 21 ? 1 << clusterBits : probe.length;
    Qcow2Header h = Qcow2Header.parse(readFirstCluster(file, cs), readOnly);
    return new DataFileInfo(h.hasDataFile(), h.dataFile, h.dataFileIsRaw());
  }

  /**
   * Returns the data file name recorded in the header of an image with an external data file
   * (QEMU's image_data_file), or null.
   */
  public String dataFileName() {
    return header.dataFile;
  }

  /** Whether the image keeps its data in an external data file (has_data_file). */
  public boolean hasDataFile() {
    return hasDataFile;
  }

  /** Whether the autoclear bit {@code data-file-raw} is set (data_file_is_raw). */
  public boolean dataFileIsRaw() {
    return header.dataFileIsRaw();
  }

  private static byte[] readFirstCluster(HostFile file, int clusterSize) throws HostIoException {
    byte[] first = new byte[Math.max(clusterSize, Qcow2Header.V3_LENGTH)];
    file.read(0, first, 0, first.length);
    return first;
  }

  private static Qcow2Image openParsed(HostFile file, HostFile dataFile, Qcow2Header h,
      Qcow2OpenOptions options, Qcow2Events events) throws HostIoException {
    long cs = h.clusterSize();
    validateTable(h.refcountTableOffset, (long) h.refcountTableClusters * cs / 8,
        Qcow2Refcounts.MAX_REFTABLE_SIZE, "Reference count table", cs);
    validateTable(h.l1TableOffset, Integer.toUnsignedLong(h.l1Size), MAX_L1_SIZE_BYTES,
        "Active L1 table", cs);
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
    image.l1Table = new long[h.l1Size];
    if (h.l1Size > 0) {
      byte[] raw = new byte[h.l1Size * 8];
      file.read(h.l1TableOffset, raw, 0, raw.length);
      for (int i = 0; i < h.l1Size; i++) {
        image.l1Table[i] = Bytes.getLong(raw, i * 8);
      }
    }
    image.refcounts.load();
    // qcow2_do_open: unknown autoclear bits and a dropped bitmaps extension need a header
    // update, which loading the bitmaps may already have done in place.
    boolean updateHeader = !options.readOnly()
        && ((h.autoclearFeatures & ~Qcow2Header.AUTOCLEAR_MASK) != 0 || h.bitmapsExtensionDropped);
    if (updateHeader) {
      h.autoclearFeatures &= Qcow2Header.AUTOCLEAR_MASK;
    }
    boolean loadUpdates = !options.readOnly() && h.nbBitmaps > 0;
    image.loadedBitmaps = image.bitmaps.load(!options.readOnly());
    if (updateHeader && !(loadUpdates && image.hasUsableBitmapsLoaded())) {
      image.updateHeader();
    }
    return image;
  }

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
   * Returns {L2 cache entries, L2 cache entry bytes, refcount cache entries} as
   * read_cache_sizes and qcow2_update_options_prepare compute them. By default the L2 cache
   * covers the whole disk up to 32 MiB (one entry per L2 table); when it cannot, entries become
   * 4 KiB slices, which is what makes l2_load happen at QEMU's moments on large disks.
   */
  private long[] cacheSizes(Qcow2OpenOptions options) {
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
    return new long[] {l2Entries, entrySize, refcountEntries};
  }

  // ---------------------------------------------------------------- accessors

  /** Sets the listener that receives the blkdebug events raised on the file child. */
  public void setEventListener(Qcow2Events events) {
    this.listener = events == null ? Qcow2Events.NONE : events;
  }

  /** Attaches the backing chain (null = no backing file, as {@code bs->backing == NULL}). */
  public void setBackingReader(BackingReader reader) {
    this.backing = reader;
  }

  /** Returns the guest-visible size in bytes. */
  public long virtualSize() {
    return header.size;
  }

  /** Returns the cluster size in bytes. */
  public long clusterSize() {
    return clusterSize;
  }

  /** Returns the qcow2 version: 2 (compat=0.10) or 3 (compat=1.1). */
  public int version() {
    return header.version;
  }

  /** Returns the backing file name stored in the header, or null. */
  public String backingFileName() {
    return header.backingFile;
  }

  /** Returns the backing format extension, or null. */
  public String backingFormat() {
    return header.backingFormat;
  }

  /** Returns the incompatible feature bits. */
  public long incompatibleFeatures() {
    return header.incompatibleFeatures;
  }

  /** Returns the compatible feature bits. */
  public long compatibleFeatures() {
    return header.compatibleFeatures;
  }

  /** Returns the autoclear feature bits. */
  public long autoclearFeatures() {
    return header.autoclearFeatures;
  }

  /** Returns the refcount width in bits. */
  public int refcountBits() {
    return 1 << header.refcountOrder;
  }

  /** Returns whether the image was opened read-only. */
  public boolean readOnly() {
    return readOnly;
  }

  /** Returns the number of L2 cache entries (tables or 4 KiB slices). */
  public int l2CacheEntries() {
    return l2Cache.entryCount();
  }

  /** Returns the size of one L2 cache entry in bytes. */
  public int l2CacheEntryBytes() {
    return l2Cache.tableSizeBytes();
  }

  /** Returns the raw bytes of the persistent-bitmap header extension, or null. */
  public byte[] bitmapsExtension() {
    return header.bitmapsExtension();
  }

  private boolean hasUsableBitmapsLoaded() {
    for (LoadedBitmap b : loadedBitmaps) {
      if (!b.inconsistent()) {
        return true;
      }
    }
    return false;
  }

  /** Returns the bitmaps found at open (directory order); the node layer creates them. */
  public List<LoadedBitmap> loadedBitmaps() {
    return loadedBitmaps;
  }

  /** Returns the bitmap directory as it is on disk now (qcow2_get_bitmap_info_list). */
  public List<BitmapEntry> bitmapDirectory() throws HostIoException {
    List<BitmapEntry> list = new ArrayList<>();
    for (Qcow2Bitmaps.Entry e : bitmaps.loadList()) {
      list.add(e.toPublic());
    }
    return list;
  }

  /**
   * Returns whether the image had a bitmaps extension that was ignored at open because the
   * autoclear bit was clear (a bitmap-unaware program wrote the image).
   */
  public boolean bitmapsDropped() {
    return header.bitmapsExtensionDropped;
  }

  /** Returns whether the autoclear bit of the bitmaps extension is set. */
  public boolean bitmapsConsistent() {
    return (header.autoclearFeatures & Qcow2Header.AUTOCLEAR_BITMAPS) != 0;
  }

  /**
   * Returns the serialized data of a stored bitmap for a disk of lengthBytes (load_bitmap_data),
   * whatever its in-use flag.
   */
  public byte[] bitmapData(BitmapEntry entry, long lengthBytes) throws HostIoException {
    Qcow2Bitmaps.Entry e = new Qcow2Bitmaps.Entry();
    e.name = entry.name();
    e.granularityBits = entry.granularityBits();
    e.flags = entry.flags();
    e.tableOffset = entry.tableOffset();
    e.tableSize = entry.tableSize();
    return bitmaps.readData(e, lengthBytes);
  }

  /**
   * Returns why a new persistent bitmap cannot be stored in this image
   * (qcow2_co_can_store_new_dirty_bitmap without the prefix), or null. persistentNames are the
   * node's persistent bitmaps already there.
   */
  public String canStoreNewBitmap(String name, long granularityBytes,
      List<String> persistentNames) {
    if (header.version < 3) {
      return "Cannot store dirty bitmaps in qcow2 v2 files";
    }
    String problem = bitmaps.constraintProblem(name, granularityBytes);
    if (problem != null) {
      return problem;
    }
    long count = 1;
    long dirSize = Qcow2Bitmaps.entrySize(Qcow2Bitmaps.nameBytes(name));
    for (String other : persistentNames) {
      count++;
      dirSize += Qcow2Bitmaps.entrySize(Qcow2Bitmaps.nameBytes(other));
    }
    if (count > Qcow2Bitmaps.MAX_BITMAPS) {
      return "Maximum number of persistent bitmaps is already reached";
    }
    if (dirSize > Qcow2Bitmaps.MAX_DIRECTORY_SIZE) {
      return "Not enough space in the bitmap directory";
    }
    return null;
  }

  /**
   * Stores persistent bitmaps (qcow2_store_persistent_dirty_bitmaps), as close does before the
   * caches are flushed. Throws with QEMU's message; the bitmaps are then lost.
   */
  public void storeBitmaps(List<BitmapToStore> toStore) throws HostIoException {
    checkUsable();
    bitmaps.store(toStore, !readOnly);
  }

  /** Deletes a stored bitmap now (qcow2_co_remove_persistent_dirty_bitmap). */
  public void removeBitmap(String name) throws HostIoException {
    checkUsable();
    bitmaps.remove(name);
  }

  /** Allocates clusters that nothing references: a leak, for tests of the check. */
  long allocateClustersForTest(long bytes) throws HostIoException {
    return refcounts.allocClusters(bytes);
  }

  /** qcow2_flush_caches: both caches written back, then the file flushed. */
  void flushCaches() throws HostIoException {
    l2Cache.write();
    refcounts.cache.write();
    file.flush();
  }

  /**
   * Returns an estimate of the heap the metadata held in memory occupies: the L1 table, the
   * cached L2 slices (sparse) and refcount blocks. QEMU would hold its whole cache arrays.
   */
  long metadataMemoryBytes() {
    return 8L * l1Table.length + 8L * refcounts.tableSize()
        + l2Cache.footprintBytes(L2Slice::footprintBytes)
        + refcounts.cache.footprintBytes(b -> b.length);
  }

  private void raise(String event) {
    listener.event(event);
  }

  // ---------------------------------------------------------------- guest reads

  /**
   * Reads guest bytes (qcow2_co_preadv_part): data clusters from the file with one
   * {@code read_aio} per contiguous host run, zero clusters as zeroes without I/O, unallocated
   * ranges from the backing reader after {@code read_backing_aio} (zeroes without one).
   */
  public void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException {
    checkUsable();
    checkRange(offset, length);
    Check.that(dstOffset >= 0 && dstOffset + length <= dst.length,
        "read buffer range %d+%d outside %d bytes", dstOffset, length, dst.length);
    readOwnLayer(offset, dst, dstOffset, length);
  }

  private void readOwnLayer(long offset, byte[] dst, int dstOffset, long length)
      throws HostIoException {
    while (length > 0) {
      Mapping m = hostOffset(offset, Math.min(length, Integer.MAX_VALUE));
      int n = (int) m.bytes();
      switch (m.type()) {
        case ZERO_PLAIN, ZERO_ALLOC -> java.util.Arrays.fill(dst, dstOffset, dstOffset + n,
            (byte) 0);
        case UNALLOCATED -> {
          if (backing == null) {
            java.util.Arrays.fill(dst, dstOffset, dstOffset + n, (byte) 0);
          } else {
            raise("read_backing_aio");
            backing.read(offset, dst, dstOffset, n);
          }
        }
        case COMPRESSED -> readCompressed(m.hostOffset(), offset, dst, dstOffset, n);
        case NORMAL -> {
          raise("read_aio");
          dataFile().read(m.hostOffset(), dst, dstOffset, n);
        }
        default -> throw Check.unreachable("cluster type %s", m.type());
      }
      offset += n;
      dstOffset += n;
      length -= n;
    }
  }

  private void readCompressed(long l2Entry, long offset, byte[] dst, int dstOffset, int length)
      throws HostIoException {
    if (header.compressionType != 0) {
      throw new HostIoException(HostIoException.ENOTSUP,
          "blocksim: zstd-compressed clusters are not modelled");
    }
    int csizeShift = 62 - (clusterBits - 8);
    long csizeMask = (1L << (clusterBits - 8)) - 1;
    long coffset = l2Entry & ((1L << csizeShift) - 1);
    long sectors = ((l2Entry >>> csizeShift) & csizeMask) + 1;
    int csize = (int) (sectors * 512 - (coffset & 511));
    byte[] compressed = new byte[csize];
    raise("read_compressed");
    file.read(coffset, compressed, 0, csize);
    byte[] cluster = new byte[(int) clusterSize];
    java.util.zip.Inflater inflater = new java.util.zip.Inflater(true);
    try {
      inflater.setInput(compressed);
      int got = inflater.inflate(cluster);
      if (got != clusterSize) {
        throw new HostIoException(HostIoException.EIO, "compressed cluster too short");
      }
    } catch (java.util.zip.DataFormatException e) {
      throw new HostIoException(HostIoException.EIO, "compressed cluster corrupt");
    } finally {
      inflater.end();
    }
    System.arraycopy(cluster, (int) (offset & (clusterSize - 1)), dst, dstOffset, length);
  }

  /**
   * Maps a guest range to the longest run of one cluster type, contiguous on the host, inside
   * one L2 slice (qcow2_get_host_offset).
   */
  private Mapping hostOffset(long offset, long bytes) throws HostIoException {
    long offsetInCluster = offset & (clusterSize - 1);
    long bytesNeeded = bytes + offsetInCluster;
    long bytesAvailable = (long) (l2SliceSize - sliceIndex(offset)) << clusterBits;
    bytesNeeded = Math.min(bytesNeeded, bytesAvailable);
    long l1Index = offset >>> (l2Bits + clusterBits);
    long l2Offset = l1Index < l1Table.length ? l1Table[(int) l1Index] & L1E_OFFSET_MASK : 0;
    ClusterType type = ClusterType.UNALLOCATED;
    long host = 0;
    if (l2Offset != 0) {
      if ((l2Offset & (clusterSize - 1)) != 0) {
        throw corruption("L2 table offset %#x unaligned (L1 index: %#x)", l2Offset, l1Index);
      }
      int slot = loadL2(offset, l2Offset);
      try {
        L2Slice slice = l2Cache.table(slot);
        int l2Index = sliceIndex(offset);
        long entry = slice.get(l2Index);
        type = clusterType(entry);
        if (header.version < 3
            && (type == ClusterType.ZERO_PLAIN || type == ClusterType.ZERO_ALLOC)) {
          throw corruption("Zero cluster entry found in pre-v3 image (L2 offset: %#x, "
              + "L2 index: %#x)", l2Offset, l2Index);
        }
        if (type == ClusterType.COMPRESSED) {
          if (hasDataFile) {
            throw corruption("Compressed cluster entry found in image with external data "
                + "file (L2 offset: %#x, L2 index: %#x)", l2Offset, l2Index);
          }
          host = entry;
        } else if (type == ClusterType.NORMAL || type == ClusterType.ZERO_ALLOC) {
          long cluster = entry & L2E_OFFSET_MASK;
          if ((cluster & (clusterSize - 1)) != 0) {
            throw corruption("Cluster allocation offset %#x unaligned (L2 offset: %#x, "
                + "L2 index: %#x)", cluster, l2Offset, l2Index);
          }
          host = cluster + offsetInCluster;
          if (hasDataFile && host != offset) {
            throw corruption("External data file host cluster offset %#x does not match "
                + "guest cluster offset: %#x, L2 index: %#x)", cluster,
                offset - offsetInCluster, l2Index);
          }
        }
        int clusters = (int) ceilDiv(bytesNeeded, clusterSize);
        bytesAvailable = (long) countContiguousClusters(clusters, slice, l2Index) << clusterBits;
      } finally {
        l2Cache.put(slot);
      }
    }
    bytesAvailable = Math.min(bytesAvailable, bytesNeeded);
    return new Mapping(bytesAvailable - offsetInCluster, host, type);
  }

  private int countContiguousClusters(int clusters, L2Slice slice, int l2Index) {
    long first = slice.get(l2Index);
    ClusterType expectedType = clusterType(first);
    if (expectedType == ClusterType.COMPRESSED) {
      return 1;
    }
    boolean checkOffset = expectedType == ClusterType.NORMAL
        || expectedType == ClusterType.ZERO_ALLOC;
    long expectedOffset = first & L2E_OFFSET_MASK;
    int count = 1;
    for (int i = 1; i < clusters; i++) {
      long entry = slice.get(l2Index + i);
      if (clusterType(entry) != expectedType) {
        break;
      }
      if (checkOffset) {
        expectedOffset += clusterSize;
        if (expectedOffset != (entry & L2E_OFFSET_MASK)) {
          break;
        }
      }
      count++;
    }
    return count;
  }

  ClusterType clusterType(long entry) {
    if ((entry & OFLAG_COMPRESSED) != 0) {
      return ClusterType.COMPRESSED;
    }
    if ((entry & OFLAG_ZERO) != 0) {
      return (entry & L2E_OFFSET_MASK) != 0 ? ClusterType.ZERO_ALLOC : ClusterType.ZERO_PLAIN;
    }
    if ((entry & L2E_OFFSET_MASK) == 0) {
      // Offset 0 is a valid data file offset; clusters there always have refcount 1, so the
      // COPIED flag tells them from unallocated ones.
      return hasDataFile && (entry & OFLAG_COPIED) != 0 ? ClusterType.NORMAL
          : ClusterType.UNALLOCATED;
    }
    return ClusterType.NORMAL;
  }

  private static boolean isAllocated(ClusterType t) {
    return t == ClusterType.COMPRESSED || t == ClusterType.NORMAL || t == ClusterType.ZERO_ALLOC;
  }

  private int sliceIndex(long offset) {
    return (int) ((offset >>> clusterBits) & (l2SliceSize - 1));
  }

  /** Loads the L2 slice covering offset into the cache (l2_load). */
  private int loadL2(long offset, long l2Offset) throws HostIoException {
    int l2Index = (int) ((offset >>> clusterBits) & (l2Size - 1));
    long startOfSlice = 8L * (l2Index - sliceIndex(offset));
    return l2Cache.get(l2Offset + startOfSlice);
  }

  // ---------------------------------------------------------------- block status

  /**
   * Returns the image's own status at offset for at most maxLength bytes
   * (qcow2_co_block_status): DATA with its host offset, ZERO, or UNALLOCATED.
   */
  public Qcow2BlockStatus blockStatus(long offset, long maxLength) throws HostIoException {
    checkUsable();
    Check.that(offset >= 0 && offset < header.size, "block status offset %d outside 0..%d",
        offset, header.size);
    Check.that(maxLength > 0, "block status length %d not positive", maxLength);
    if (!metadataPreallocationChecked) {
      metadataPreallocation = detectMetadataPreallocation();
      metadataPreallocationChecked = true;
    }
    long bytes = Math.min(Math.min(maxLength, header.size - offset), Integer.MAX_VALUE);
    Mapping m = hostOffset(offset, bytes);
    return switch (m.type()) {
      case NORMAL -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.DATA, m.bytes(), m.hostOffset());
      case COMPRESSED -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.DATA, m.bytes(), -1);
      case ZERO_ALLOC -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.ZERO, m.bytes(),
          m.hostOffset());
      case ZERO_PLAIN -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.ZERO, m.bytes(), -1);
      case UNALLOCATED -> new Qcow2BlockStatus(Qcow2BlockStatus.Kind.UNALLOCATED, m.bytes(),
          -1);
    };
  }

  /**
   * Returns whether metadata preallocation was detected (QEMU then adds BDRV_BLOCK_RECURSE to
   * DATA runs). The scan goes through the refcount cache, as QEMU's does, so it evicts and
   * writes back refcount blocks at the same moment.
   */
  public boolean metadataPreallocation() {
    return metadataPreallocation;
  }

  private boolean detectMetadataPreallocation() {
    try {
      long length = file.length();
      long allocated = 0;
      for (long at = 0; at < length; ) {
        long run = file.allocationRun(at, length - at);
        if (run > 0) {
          allocated += run;
        }
        at += Math.abs(run);
      }
      long realClusters = allocated / clusterSize;
      long threshold = Math.max(realClusters * 10 / 9, realClusters + 2);
      long endCluster = ceilDiv(length, clusterSize);
      long count = 0;
      for (long i = 0; i < endCluster && count < threshold; i++) {
        count += refcounts.getRefcount(i) != 0 ? 1 : 0;
      }
      return count >= threshold;
    } catch (HostIoException e) {
      return false;
    }
  }

  /** Returns whether the range reads as zeroes by one block-status run (bdrv_co_is_zero_fast). */
  private boolean isZeroFast(long offset, long bytes) throws HostIoException {
    if (bytes == 0) {
      return true;
    }
    if (offset >= header.size) {
      return false;
    }
    Qcow2BlockStatus st = blockStatus(offset, Math.min(bytes, header.size - offset));
    if (st.lengthBytes() != bytes) {
      return false;
    }
    return switch (st.kind()) {
      case ZERO -> true;
      case DATA -> false;
      case UNALLOCATED -> backing == null || backing.isZeroFast(offset, bytes);
    };
  }

  /** Returns whether the range reads as zeroes through the chain (is_zero in qcow2.c). */
  private boolean isZeroAbove(long offset, long bytes) throws HostIoException {
    if (offset + bytes > header.size) {
      bytes = header.size - offset;
    }
    while (bytes > 0) {
      Qcow2BlockStatus st = blockStatus(offset, bytes);
      boolean zero = switch (st.kind()) {
        case ZERO -> true;
        case DATA -> false;
        case UNALLOCATED -> backing == null || backing.isZeroFast(offset, st.lengthBytes());
      };
      if (!zero) {
        return false;
      }
      offset += st.lengthBytes();
      bytes -= st.lengthBytes();
    }
    return true;
  }

  // ---------------------------------------------------------------- guest writes

  /**
   * Writes guest bytes (qcow2_co_pwritev_part): allocates clusters and L2 tables as needed,
   * zero-fills or copies (COW) the untouched parts of new clusters from this image's own view
   * (backing reader for unallocated ranges), writes the data, then links the clusters in L2.
   */
  public void write(long offset, byte[] src, int srcOffset, int length) throws HostIoException {
    checkUsable();
    checkWritable();
    checkRange(offset, length);
    Check.that(srcOffset >= 0 && srcOffset + length <= src.length,
        "write buffer range %d+%d outside %d bytes", srcOffset, length, src.length);
    writeOwnLayer(offset, src, srcOffset, length);
  }

  /**
   * The loop of qcow2_co_pwritev_part. A request that fits one host run is written in place
   * of the caller, as QEMU does without a task pool; otherwise each run becomes a task of a
   * {@link WriteScheduler}, which interleaves the runs as QEMU's coroutines interleave.
   */
  private void writeOwnLayer(long offset, byte[] src, int srcOffset, int length)
      throws HostIoException {
    AllocCursor first = allocHostOffset(offset, length);
    if (first.bytes == length) {
      writeTask(first.clusterOffset, offset, length, src, srcOffset, first.metas);
      return;
    }
    Check.that(scheduler == null, "nested multi-run guest writes");
    WriteScheduler s = new WriteScheduler();
    scheduler = s;
    try {
      AllocCursor c = first;
      while (true) {
        int n = (int) c.bytes;
        s.unlockMain();
        s.startTask(new WriteTask(c.clusterOffset, offset, n, src, srcOffset, c.metas));
        offset += n;
        srcOffset += n;
        length -= n;
        if (length == 0 || s.failure != null) {
          break;
        }
        s.lockMain();
        s.mainInAlloc = true;
        try {
          c = allocHostOffset(offset, length);
        } catch (HostIoException e) {
          s.recordFailure(e);
          s.mainInAlloc = false;
          s.unlockMain();
          break;
        }
        s.mainInAlloc = false;
      }
      s.waitAll();
    } finally {
      scheduler = null;
    }
    if (s.failure != null) {
      throw s.failure;
    }
  }

  /**
   * Finds or allocates host clusters for as much of the range as is contiguous on the host
   * (qcow2_alloc_host_offset). On return the cursor holds the host offset of offset, the byte
   * count, and the allocations that still need their L2 update (most recent first).
   */
  private AllocCursor allocHostOffset(long offset, long bytes) throws HostIoException {
    AllocCursor c = new AllocCursor();
    long start = offset;
    long remaining = bytes;
    long hostOffset = INVALID_OFFSET;
    long curBytes = 0;
    try {
      while (true) {
        if (hostOffset == INVALID_OFFSET && c.clusterOffset != INVALID_OFFSET) {
          hostOffset = c.clusterOffset;
        }
        start += curBytes;
        remaining -= curBytes;
        if (c.clusterOffset != INVALID_OFFSET) {
          c.clusterOffset += curBytes;
        }
        if (remaining == 0) {
          break;
        }
        c.bytes = remaining;
        if (handleCopied(start, c)) {
          curBytes = c.bytes;
          continue;
        }
        if (c.bytes == 0) {
          break;
        }
        if (handleAlloc(start, c)) {
          curBytes = c.bytes;
          continue;
        }
        break;
      }
    } catch (HostIoException e) {
      abortMetas(c.metas);
      throw e;
    }
    c.bytes = bytes - remaining;
    c.clusterOffset = hostOffset;
    Check.that(c.bytes > 0, "allocation at %d made no progress", offset);
    return c;
  }

  /** Takes clusters that can be overwritten in place (handle_copied). */
  private boolean handleCopied(long guestOffset, AllocCursor c) throws HostIoException {
    long offsetInCluster = guestOffset & (clusterSize - 1);
    int l2Index = sliceIndex(guestOffset);
    long clusters = Math.min(ceilDiv(offsetInCluster + c.bytes, clusterSize),
        l2SliceSize - l2Index);
    clusters = Math.min(clusters, REQUEST_MAX_BYTES >>> clusterBits);
    int slot = clusterTable(guestOffset);
    long clusterOffset;
    try {
      L2Slice slice = l2Cache.table(slot);
      long entry = slice.get(l2Index);
      clusterOffset = entry & L2E_OFFSET_MASK;
      if (needsNewAlloc(entry)) {
        return false;
      }
      if ((clusterOffset & (clusterSize - 1)) != 0) {
        throw corruption("%s cluster offset %#x unaligned (guest offset: %#x)",
            (entry & OFLAG_ZERO) != 0 ? "Preallocated zero" : "Data", clusterOffset,
            guestOffset);
      }
      if (c.clusterOffset != INVALID_OFFSET && clusterOffset != c.clusterOffset) {
        c.bytes = 0;
        return false;
      }
      int keep = countSingleWriteClusters((int) clusters, slice, l2Index, false);
      c.bytes = Math.min(c.bytes, keep * clusterSize - offsetInCluster);
      calculateL2Meta(clusterOffset, guestOffset, c.bytes, slice, l2Index, c.metas, true);
    } finally {
      l2Cache.put(slot);
    }
    c.clusterOffset = clusterOffset + offsetInCluster;
    return true;
  }

  /** Allocates new clusters for the start of the range (handle_alloc). */
  private boolean handleAlloc(long guestOffset, AllocCursor c) throws HostIoException {
    long offsetInCluster = guestOffset & (clusterSize - 1);
    int l2Index = sliceIndex(guestOffset);
    long clusters = Math.min(ceilDiv(offsetInCluster + c.bytes, clusterSize),
        l2SliceSize - l2Index);
    clusters = Math.min(clusters, REQUEST_MAX_BYTES >>> clusterBits);
    int slot = clusterTable(guestOffset);
    try {
      L2Slice slice = l2Cache.table(slot);
      clusters = countSingleWriteClusters((int) clusters, slice, l2Index, true);
      Check.that(clusters > 0, "handle_alloc found nothing to allocate at %d", guestOffset);
      long allocOffset;
      if (hasDataFile) {
        // do_alloc_cluster_offset: data clusters sit at their guest offset, unrefcounted.
        allocOffset = guestOffset & ~(clusterSize - 1);
      } else if (c.clusterOffset == INVALID_OFFSET) {
        allocOffset = refcounts.allocClusters(clusters * clusterSize);
      } else {
        allocOffset = c.clusterOffset & ~(clusterSize - 1);
        clusters = refcounts.allocClustersAt(allocOffset, clusters);
      }
      if (clusters == 0) {
        c.bytes = 0;
        return false;
      }
      long requested = c.bytes + offsetInCluster;
      long available = clusters << clusterBits;
      long nbBytes = Math.min(requested, available);
      c.clusterOffset = allocOffset + offsetInCluster;
      c.bytes = Math.min(c.bytes, nbBytes - offsetInCluster);
      calculateL2Meta(allocOffset, guestOffset, c.bytes, slice, l2Index, c.metas, false);
      return true;
    } finally {
      l2Cache.put(slot);
    }
  }

  private boolean needsNewAlloc(long entry) {
    return switch (clusterType(entry)) {
      case NORMAL, ZERO_ALLOC -> (entry & OFLAG_COPIED) == 0;
      case UNALLOCATED, COMPRESSED, ZERO_PLAIN -> true;
    };
  }

  private int countSingleWriteClusters(int clusters, L2Slice slice, int l2Index,
      boolean newAlloc) {
    long expected = slice.get(l2Index) & L2E_OFFSET_MASK;
    int i;
    for (i = 0; i < clusters; i++) {
      long entry = slice.get(l2Index + i);
      if (needsNewAlloc(entry) != newAlloc) {
        break;
      }
      if (!newAlloc) {
        if (expected != (entry & L2E_OFFSET_MASK)) {
          break;
        }
        expected += clusterSize;
      }
    }
    return i;
  }

  /** Records the COW regions of an allocation (calculate_l2_meta, without subclusters). */
  private void calculateL2Meta(long hostClusterOffset, long guestOffset, long bytes,
      L2Slice slice, int l2Index, LinkedList<L2Meta> metas, boolean keepOld) {
    long cowStartTo = guestOffset & (clusterSize - 1);
    long cowEndFrom = cowStartTo + bytes;
    int clusters = (int) ceilDiv(cowEndFrom, clusterSize);
    Check.that(clusters <= l2SliceSize - l2Index, "L2 meta of %d clusters crosses the slice",
        clusters);
    boolean skipCow = keepOld;
    for (int i = 0; i < clusters && skipCow; i++) {
      if (clusterType(slice.get(l2Index + i)) != ClusterType.NORMAL) {
        skipCow = false;
      }
    }
    if (skipCow) {
      return;
    }
    ClusterType firstType = clusterType(slice.get(l2Index));
    ClusterType lastType = clusterType(slice.get(l2Index + clusters - 1));
    long cowStartFrom = keepOld && firstType == ClusterType.NORMAL ? cowStartTo : 0;
    long cowEndTo = keepOld && lastType == ClusterType.NORMAL ? cowEndFrom
        : ceilDiv(cowEndFrom, clusterSize) * clusterSize;
    L2Meta m = new L2Meta();
    m.allocOffset = hostClusterOffset;
    m.offset = guestOffset & ~(clusterSize - 1);
    m.clusterCount = clusters;
    m.keepOld = keepOld;
    m.cowStartOffset = cowStartFrom;
    m.cowStartBytes = cowStartTo - cowStartFrom;
    m.cowEndOffset = cowEndFrom;
    m.cowEndBytes = cowEndTo - cowEndFrom;
    metas.addFirst(m);
  }

  /** Writes one host run and links its allocations (qcow2_co_pwritev_task). */
  private void writeTask(long hostOffset, long offset, int bytes, byte[] src, int srcOffset,
      LinkedList<L2Meta> metas) throws HostIoException {
    try {
      handleAllocSpace(metas);
      if (!mergeCow(offset, bytes, src, srcOffset, metas)) {
        raise("write_aio");
        dataFile().write(hostOffset, src, srcOffset, bytes);
      }
    } catch (HostIoException e) {
      abortMetas(metas);
      throw e;
    }
    linkAll(metas);
  }

  /** Frees the clusters of allocations that will not be linked (qcow2_alloc_cluster_abort). */
  private void abortMetas(LinkedList<L2Meta> metas) {
    for (L2Meta m : metas) {
      if (!m.keepOld && !hasDataFile) {
        refcounts.freeClusters(m.allocOffset, (long) m.clusterCount << clusterBits,
            DiscardType.NEVER);
      }
    }
    metas.clear();
  }

  /** Zero-fills new clusters whose COW regions read as zeroes (handle_alloc_space). */
  private void handleAllocSpace(List<L2Meta> metas) throws HostIoException {
    for (L2Meta m : metas) {
      if (hasCow(m) && isZeroCow(m)) {
        zeroFillCluster(m);
      }
    }
  }

  private static boolean hasCow(L2Meta m) {
    return m.cowStartBytes != 0 || m.cowEndBytes != 0;
  }

  private boolean isZeroCow(L2Meta m) throws HostIoException {
    return isZeroFast(m.offset + m.cowStartOffset, m.cowStartBytes)
        && isZeroFast(m.offset + m.cowEndOffset, m.cowEndBytes);
  }

  private void zeroFillCluster(L2Meta m) throws HostIoException {
    long start = m.allocOffset + m.cowStartOffset;
    long bytes = m.cowEndOffset + m.cowEndBytes - m.cowStartOffset;
    raise("cluster_alloc_space");
    try {
      dataFile().writeZeroes(start, bytes);
    } catch (HostIoException e) {
      if (e.errno() != HostIoException.ENOTSUP) {
        throw e;
      }
      return;
    }
    m.skipCow = true;
  }

  /** Links every allocation of a finished run, or frees them all after a failure. */
  private void linkAll(LinkedList<L2Meta> metas) throws HostIoException {
    while (!metas.isEmpty()) {
      L2Meta m = metas.getFirst();
      try {
        linkL2(m);
      } catch (HostIoException e) {
        abortMetas(metas);
        throw e;
      }
      metas.removeFirst();
    }
  }

  /** Attaches the guest data to the allocation whose COW regions surround it (merge_cow). */
  private static boolean mergeCow(long offset, int bytes, byte[] src, int srcOffset,
      List<L2Meta> metas) {
    for (L2Meta m : metas) {
      if ((m.cowStartBytes == 0 && m.cowEndBytes == 0) || m.skipCow) {
        continue;
      }
      if (m.offset + m.cowStartOffset + m.cowStartBytes != offset) {
        continue;
      }
      if (m.offset + m.cowEndOffset != offset + bytes) {
        continue;
      }
      m.data = src;
      m.dataOffset = srcOffset;
      return true;
    }
    return false;
  }

  /** Copies the untouched parts of new clusters (perform_cow). */
  private void performCow(L2Meta m) throws HostIoException {
    long dataBytes = m.cowEndOffset - (m.cowStartOffset + m.cowStartBytes);
    if ((m.cowStartBytes == 0 && m.cowEndBytes == 0) || m.skipCow) {
      return;
    }
    int startBytes = (int) m.cowStartBytes;
    int endBytes = (int) m.cowEndBytes;
    byte[] startBuffer = new byte[startBytes];
    byte[] endBuffer = new byte[endBytes];
    boolean mergeReads = startBytes > 0 && endBytes > 0 && dataBytes <= 16384;
    if (mergeReads) {
      byte[] all = new byte[(int) (startBytes + dataBytes + endBytes)];
      cowRead(m.offset + m.cowStartOffset, all);
      System.arraycopy(all, 0, startBuffer, 0, startBytes);
      System.arraycopy(all, all.length - endBytes, endBuffer, 0, endBytes);
    } else {
      cowRead(m.offset + m.cowStartOffset, startBuffer);
      cowRead(m.offset + m.cowEndOffset, endBuffer);
    }
    if (m.data != null) {
      byte[] all = new byte[(int) (startBytes + dataBytes + endBytes)];
      System.arraycopy(startBuffer, 0, all, 0, startBytes);
      System.arraycopy(m.data, m.dataOffset, all, startBytes, (int) dataBytes);
      System.arraycopy(endBuffer, 0, all, (int) (startBytes + dataBytes), endBytes);
      raise("write_aio");
      cowWrite(m.allocOffset + m.cowStartOffset, all);
    } else {
      cowWrite(m.allocOffset + m.cowStartOffset, startBuffer);
      cowWrite(m.allocOffset + m.cowEndOffset, endBuffer);
    }
    l2Cache.dependOnFlush();
  }

  private void cowRead(long guestOffset, byte[] buffer) throws HostIoException {
    if (buffer.length == 0) {
      return;
    }
    raise("cow_read");
    readOwnLayer(guestOffset, buffer, 0, buffer.length);
  }

  private void cowWrite(long hostOffset, byte[] buffer) throws HostIoException {
    if (buffer.length == 0) {
      return;
    }
    raise("cow_write");
    dataFile().write(hostOffset, buffer, 0, buffer.length);
  }

  /** Performs COW, then points the L2 entries at the new clusters (link_l2). */
  private void linkL2(L2Meta m) throws HostIoException {
    performCow(m);
    l2Cache.setDependency(refcounts.cache);
    int slot = clusterTable(m.offset);
    int l2Index = sliceIndex(m.offset);
    List<Long> oldEntries = new ArrayList<>();
    try {
      l2Cache.markDirty(slot);
      L2Slice slice = l2Cache.table(slot);
      for (int i = 0; i < m.clusterCount; i++) {
        long hostCluster = m.allocOffset + ((long) i << clusterBits);
        long old = slice.get(l2Index + i);
        if (old != 0) {
          oldEntries.add(old);
        }
        slice.set(l2Index + i, hostCluster | OFLAG_COPIED);
      }
    } finally {
      l2Cache.put(slot);
    }
    if (!m.keepOld) {
      for (long old : oldEntries) {
        freeAnyCluster(old, DiscardType.NEVER);
      }
    }
  }

  private void freeAnyCluster(long entry, DiscardType type) {
    ClusterType clusterType = clusterType(entry);
    if (hasDataFile) {
      // qcow2_free_any_cluster: nothing is refcounted; a passed-through discard reaches the
      // data file at once, its result ignored (bdrv_pdiscard).
      if (refcounts.passesDiscard(type)
          && (clusterType == ClusterType.NORMAL || clusterType == ClusterType.ZERO_ALLOC)
          && data != null) {
        try {
          data.discard(entry & L2E_OFFSET_MASK, clusterSize);
        } catch (HostIoException e) {
          // ignored, as QEMU ignores it
        }
      }
      return;
    }
    switch (clusterType) {
      case COMPRESSED -> {
        int csizeShift = 62 - (clusterBits - 8);
        long coffset = entry & ((1L << csizeShift) - 1);
        long sectors = ((entry >>> csizeShift) & ((1L << (clusterBits - 8)) - 1)) + 1;
        refcounts.freeClusters(coffset, sectors * 512 - (coffset & 511), type);
      }
      case NORMAL, ZERO_ALLOC -> {
        long offset = entry & L2E_OFFSET_MASK;
        if ((offset & (clusterSize - 1)) == 0) {
          refcounts.freeClusters(offset, clusterSize, type);
        }
      }
      case ZERO_PLAIN, UNALLOCATED -> { }
      default -> throw Check.unreachable("cluster type of %x", entry);
    }
  }

  // ---------------------------------------------------------------- L1 and L2 tables

  /** Returns the cache slot of the L2 slice for offset, allocating its table if needed. */
  private int clusterTable(long offset) throws HostIoException {
    long l1Index = offset >>> (l2Bits + clusterBits);
    if (l1Index >= l1Table.length) {
      growL1Table(l1Index + 1, false);
    }
    long l2Offset = l1Table[(int) l1Index] & L1E_OFFSET_MASK;
    if ((l2Offset & (clusterSize - 1)) != 0) {
      throw corruption("L2 table offset %#x unaligned (L1 index: %#x)", l2Offset, l1Index);
    }
    if ((l1Table[(int) l1Index] & OFLAG_COPIED) == 0) {
      allocateL2((int) l1Index);
      if (l2Offset != 0) {
        refcounts.freeClusters(l2Offset, clusterSize, DiscardType.OTHER);
      }
      l2Offset = l1Table[(int) l1Index] & L1E_OFFSET_MASK;
    }
    return loadL2(offset, l2Offset);
  }

  /** Allocates and writes a new L2 table, then points the L1 entry at it (l2_allocate). */
  private void allocateL2(int l1Index) throws HostIoException {
    long oldEntry = l1Table[l1Index];
    long l2Offset = refcounts.allocClusters(clusterSize);
    if (l2Offset == 0) {
      throw corruption("Preventing invalid allocation of L2 table at offset 0");
    }
    int sliceBytes = l2SliceSize * 8;
    int slices = (int) (clusterSize / sliceBytes);
    try {
      refcounts.cache.flush();
      for (int s = 0; s < slices; s++) {
        int slot = l2Cache.getEmpty(l2Offset + (long) s * sliceBytes);
        try {
          long oldL2 = oldEntry & L1E_OFFSET_MASK;
          if (oldL2 != 0) {
            raise("l2_alloc_cow_read");
            int oldSlot = l2Cache.get(oldL2 + (long) s * sliceBytes);
            l2Cache.setTable(slot, l2Cache.table(oldSlot).copy());
            l2Cache.put(oldSlot);
          }
          raise("l2_alloc_write");
          l2Cache.markDirty(slot);
        } finally {
          l2Cache.put(slot);
        }
      }
      l2Cache.flush();
      l1Table[l1Index] = l2Offset | OFLAG_COPIED;
      writeL1Entry(l1Index);
    } catch (HostIoException e) {
      l1Table[l1Index] = oldEntry;
      refcounts.freeClusters(l2Offset, clusterSize, DiscardType.ALWAYS);
      throw e;
    }
  }

  /** Writes one L1 entry and flushes (qcow2_write_l1_entry with byte request alignment). */
  private void writeL1Entry(int l1Index) throws HostIoException {
    raise("l1_update");
    writeSync(header.l1TableOffset + 8L * l1Index, Bytes.ofLong(l1Table[l1Index]));
  }

  /** Moves the L1 table to a larger new place (qcow2_grow_l1_table). */
  private void growL1Table(long minSize, boolean exactSize) throws HostIoException {
    if (minSize <= l1Table.length) {
      return;
    }
    if (minSize > Integer.MAX_VALUE / 8) {
      throw new HostIoException(HostIoException.EFBIG, "L1 table too large");
    }
    long newSize;
    if (exactSize) {
      newSize = minSize;
    } else {
      newSize = Math.max(l1Table.length, 1);
      while (minSize > newSize) {
        newSize = ceilDiv(newSize * 3, 2);
      }
    }
    if (newSize > MAX_L1_SIZE_BYTES / 8) {
      throw new HostIoException(HostIoException.EFBIG, "L1 table too large");
    }
    long[] newTable = java.util.Arrays.copyOf(l1Table, (int) newSize);
    raise("l1_grow_alloc_table");
    long newOffset = refcounts.allocClusters(newSize * 8);
    try {
      refcounts.cache.flush();
      byte[] raw = new byte[(int) newSize * 8];
      for (int i = 0; i < l1Table.length; i++) {
        Bytes.putLong(raw, i * 8, newTable[i]);
      }
      raise("l1_grow_write_table");
      writeSync(newOffset, raw);
      byte[] fields = new byte[12];
      Bytes.putInt(fields, 0, (int) newSize);
      Bytes.putLong(fields, 4, newOffset);
      raise("l1_grow_activate_table");
      writeSync(Qcow2Header.OFFSET_L1_SIZE, fields);
    } catch (HostIoException e) {
      refcounts.freeClusters(newOffset, newSize * 8, DiscardType.OTHER);
      throw e;
    }
    long oldOffset = header.l1TableOffset;
    long oldSize = l1Table.length;
    header.l1TableOffset = newOffset;
    header.l1Size = (int) newSize;
    l1Table = newTable;
    refcounts.freeClusters(oldOffset, oldSize * 8, DiscardType.OTHER);
  }

  private long sizeToL1(long size) {
    int shift = clusterBits + l2Bits;
    return (size + (1L << shift) - 1) >>> shift;
  }

  // ---------------------------------------------------------------- zeroes and discard

  /**
   * Writes zeroes as QEMU's generic bdrv_co_do_pwrite_zeroes drives qcow2: cluster-aligned parts
   * become zero clusters (v3) or are discarded (v2 without backing); unaligned heads and tails
   * that do not already read as zero, and everything on v2 with a backing file, fall back to
   * writing a zero buffer through the normal write path. mayUnmap is BDRV_REQ_MAY_UNMAP; as in
   * bdrv_co_pwrite_zeroes it only counts when the image was opened with discard=unmap.
   */
  public void writeZeroes(long offset, long length, boolean mayUnmap) throws HostIoException {
    checkUsable();
    checkWritable();
    checkRange(offset, length);
    // bdrv_co_pwrite_zeroes drops MAY_UNMAP unless the node has discard=unmap; qcow2 v2
    // supports no zero flags at all.
    boolean unmap = mayUnmap && discardUnmap && header.version >= 3;
    long alignment = clusterSize;
    long head = offset % alignment;
    long tail = (offset + length) % alignment;
    while (length > 0) {
      long num = length;
      if (head != 0) {
        num = Math.min(Math.min(length, MAX_BOUNCE_BUFFER), alignment - head);
        head = (head + num) % alignment;
      } else if (tail != 0 && num > alignment) {
        num -= tail;
      }
      if (!tryWriteZeroes(offset, num, unmap)) {
        num = Math.min(num, MAX_BOUNCE_BUFFER);
        writeOwnLayer(offset, new byte[(int) num], 0, (int) num);
      }
      offset += num;
      length -= num;
    }
  }

  /**
   * Returns false for QEMU's -ENOTSUP: the driver cannot express these zeroes with metadata
   * (qcow2_co_pwrite_zeroes).
   */
  private boolean tryWriteZeroes(long offset, long bytes, boolean mayUnmap)
      throws HostIoException {
    long head = offset & (clusterSize - 1);
    long tail = ceilDiv(offset + bytes, clusterSize) * clusterSize - (offset + bytes);
    if (offset + bytes == header.size) {
      tail = 0;
    }
    if (head != 0 || tail != 0) {
      Check.that(head + bytes + tail <= clusterSize, "unaligned zero write %d+%d spans clusters",
          offset, bytes);
      if (!(isZeroAbove(offset - head, head) && isZeroAbove(offset + bytes, tail))) {
        return false;
      }
      offset -= head;
      bytes = clusterSize;
      ClusterType type = hostOffset(offset, clusterSize).type();
      if (type != ClusterType.UNALLOCATED && type != ClusterType.ZERO_PLAIN
          && type != ClusterType.ZERO_ALLOC) {
        return false;
      }
    }
    return zeroize(offset, bytes, mayUnmap);
  }

  /** Marks clusters as zero (qcow2_subcluster_zeroize); false means ENOTSUP. */
  private boolean zeroize(long offset, long bytes, boolean mayUnmap) throws HostIoException {
    if (header.version < 3) {
      if (backing == null) {
        clusterDiscard(offset, bytes, DiscardType.REQUEST, false);
        return true;
      }
      return false;
    }
    if (header.dataFileIsRaw() && hasDataFile) {
      // Keep the raw data file in sync: zero it first (qcow2_subcluster_zeroize).
      dataFile().writeZeroes(offset, bytes);
    }
    long end = offset + bytes;
    Check.that((offset & (clusterSize - 1)) == 0, "zeroize offset %d unaligned", offset);
    Check.that((end & (clusterSize - 1)) == 0 || end >= header.size,
        "zeroize end %d unaligned", end);
    long clusters = ceilDiv(end - offset, clusterSize);
    refcounts.cacheDiscards = true;
    boolean ok = false;
    try {
      while (clusters > 0) {
        long cleared = zeroInL2Slice(offset, clusters, mayUnmap);
        clusters -= cleared;
        offset += cleared * clusterSize;
      }
      ok = true;
    } finally {
      refcounts.cacheDiscards = false;
      refcounts.processDiscards(ok);
    }
    return true;
  }

  private long zeroInL2Slice(long offset, long clusters, boolean mayUnmap)
      throws HostIoException {
    int slot = clusterTable(offset);
    int l2Index = sliceIndex(offset);
    clusters = Math.min(clusters, l2SliceSize - l2Index);
    List<Long> toFree = new ArrayList<>();
    try {
      L2Slice slice = l2Cache.table(slot);
      for (int i = 0; i < clusters; i++) {
        long old = slice.get(l2Index + i);
        ClusterType type = clusterType(old);
        boolean unmap = type == ClusterType.COMPRESSED || (mayUnmap && isAllocated(type));
        long updated = (unmap ? 0 : old) | OFLAG_ZERO;
        if (old == updated) {
          continue;
        }
        l2Cache.markDirty(slot);
        slice.set(l2Index + i, updated);
        if (unmap) {
          freeAnyCluster(old, DiscardType.REQUEST);
        }
      }
    } finally {
      l2Cache.put(slot);
    }
    return clusters;
  }

  /**
   * Discards guest clusters as QEMU's bdrv_co_pdiscard drives qcow2: only whole clusters (and the
   * partial last cluster of the image) are discarded; they read as zeroes afterwards (v3, or v2
   * without backing). Partial clusters are ignored. Callers model {@code discard=ignore} by not
   * calling this at all, as QEMU's generic layer does.
   */
  public void discard(long offset, long length) throws HostIoException {
    checkUsable();
    checkWritable();
    checkRange(offset, length);
    long alignment = clusterSize;
    long head = offset % alignment;
    long tail = (offset + length) % alignment;
    while (length > 0) {
      long num = length;
      if (head != 0) {
        num = Math.min(length, alignment - head);
        head = (head + num) % alignment;
      } else if (tail != 0 && num > alignment) {
        num -= tail;
      }
      tryDiscard(offset, num);
      offset += num;
      length -= num;
    }
  }

  private void tryDiscard(long offset, long bytes) throws HostIoException {
    if (header.version < 3 && backing != null) {
      return;
    }
    if (((offset | bytes) & (clusterSize - 1)) != 0) {
      if ((offset & (clusterSize - 1)) != 0 || offset + bytes != header.size) {
        return;
      }
    }
    clusterDiscard(offset, bytes, DiscardType.REQUEST, false);
  }

  private void clusterDiscard(long offset, long bytes, DiscardType type, boolean fullDiscard)
      throws HostIoException {
    long clusters = ceilDiv(bytes, clusterSize);
    refcounts.cacheDiscards = true;
    boolean ok = false;
    try {
      while (clusters > 0) {
        long cleared = discardInL2Slice(offset, clusters, type, fullDiscard);
        clusters -= cleared;
        offset += cleared * clusterSize;
      }
      ok = true;
    } finally {
      refcounts.cacheDiscards = false;
      refcounts.processDiscards(ok);
    }
  }

  private long discardInL2Slice(long offset, long clusters, DiscardType type,
      boolean fullDiscard) throws HostIoException {
    int slot = clusterTable(offset);
    int l2Index = sliceIndex(offset);
    clusters = Math.min(clusters, l2SliceSize - l2Index);
    try {
      L2Slice slice = l2Cache.table(slot);
      for (int i = 0; i < clusters; i++) {
        long old = slice.get(l2Index + i);
        long updated = old;
        if (fullDiscard) {
          updated = 0;
        } else if (backing != null || isAllocated(clusterType(old))) {
          updated = header.version >= 3 ? OFLAG_ZERO : 0;
        }
        if (old == updated) {
          continue;
        }
        l2Cache.markDirty(slot);
        slice.set(l2Index + i, updated);
        freeAnyCluster(old, type);
      }
    } finally {
      l2Cache.put(slot);
    }
    return clusters;
  }

  // ---------------------------------------------------------------- flush and close

  /**
   * Writes the L2 and refcount caches back to the file without flushing it
   * (qcow2_co_flush_to_os). QEMU's generic flush then raises {@code flush_to_disk} and flushes
   * the file; {@link #flush} does both steps without the events.
   */
  public void flushToOs() throws HostIoException {
    checkUsable();
    l2Cache.write();
    refcounts.cache.write();
  }

  /** Writes the caches back and flushes the file (what a guest flush leaves on disk). */
  public void flush() throws HostIoException {
    flushToOs();
    file.flush();
  }

  /**
   * Writes back and flushes both caches as qcow2_inactivate does on close. The generic layer's
   * flush that precedes it in bdrv_close is the caller's (see {@link #flush}).
   */
  public void close() throws HostIoException {
    if (readOnly) {
      return;
    }
    HostIoException first = null;
    try {
      l2Cache.flush();
    } catch (HostIoException e) {
      first = e;
    }
    try {
      refcounts.cache.flush();
    } catch (HostIoException e) {
      first = first == null ? e : first;
    }
    if (first != null) {
      throw first;
    }
  }

  /**
   * Records a new backing file name and format in the header, or removes both with null
   * (qcow2_change_backing_file, as block-stream, block-commit and {@code qemu-img rebase -u}
   * use it). The first cluster is rewritten without a flush.
   */
  public void changeBackingFile(String backingFile, String backingFormat)
      throws HostIoException {
    checkUsable();
    checkWritable();
    if (backingFile != null
        && backingFile.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 1023) {
      throw new HostIoException(HostIoException.EINVAL, "backing file name too long");
    }
    String oldFile = header.backingFile;
    String oldFormat = header.backingFormat;
    header.backingFile = backingFile;
    header.backingFormat = backingFile == null ? null : backingFormat;
    try {
      updateHeader();
    } catch (HostIoException e) {
      header.backingFile = oldFile;
      header.backingFormat = oldFormat;
      throw e;
    }
  }

  /** Rewrites the whole first cluster from the in-memory header (qcow2_update_header). */
  void updateHeader() throws HostIoException {
    byte[] b = header.build(refcounts.tableSize());
    file.write(0, b, 0, b.length);
  }

  /**
   * Maps every cluster of [offset, offset + bytes) (preallocate_co with metadata
   * preallocation, as data_file_raw enforces), then grows the data file to cover them.
   */
  private void preallocateMetadata(long offset, long bytes) throws HostIoException {
    long hostEnd = 0;
    while (bytes > 0) {
      long chunk = Math.min(bytes, (Integer.MAX_VALUE / clusterSize) * clusterSize);
      AllocCursor c = allocHostOffset(offset, chunk);
      linkAll(c.metas);
      hostEnd = c.clusterOffset + c.bytes;
      bytes -= c.bytes;
      offset += c.bytes;
    }
    if (hostEnd > dataFile().length()) {
      growDataFile(dataFile(), hostEnd);
    }
  }

  /**
   * Grows the data file as file-posix truncates: growing an empty file also allocates its
   * first block (allocate_first_block), which shows in its allocated size.
   */
  private static void growDataFile(HostFile dataFile, long length) throws HostIoException {
    boolean wasEmpty = dataFile.length() == 0;
    dataFile.truncate(length);
    if (wasEmpty && length > 0) {
      int first = (int) Math.min(4096, length);
      dataFile.write(0, new byte[first], 0, first);
    }
  }

  /** The file holding data clusters; EIO when the image's data file was not opened. */
  private HostFile dataFile() throws HostIoException {
    if (data == null) {
      throw new HostIoException(HostIoException.EIO,
          "blocksim: the external data file of this image is not open");
    }
    return data;
  }

  // ---------------------------------------------------------------- helpers

  private void writeSync(long offset, byte[] data) throws HostIoException {
    file.write(offset, data, 0, data.length);
    file.flush();
  }

  private void checkRange(long offset, long length) {
    Check.that(offset >= 0 && length >= 0, "request %d+%d negative", offset, length);
    Check.that(offset + length <= header.size, "request %d+%d beyond image size %d", offset,
        length, header.size);
  }

  private void checkWritable() throws HostIoException {
    if (readOnly) {
      throw new HostIoException(HostIoException.EPERM, "blocksim: qcow2 image is read-only");
    }
  }

  private HostIoException corruption(String format, Object... args) {
    return signalCorruption(String.format(Locale.ROOT, format, args));
  }

  /**
   * Records a corruption and, when the image is writable, marks it corrupt on disk and makes it
   * unusable, as qcow2_signal_corruption with fatal=true does. Returns the EIO to fail with.
   */
  private HostIoException signalCorruption(String formatted) {
    // C's %#x prints zero as "0", Java's as "0x0".
    String message = formatted.replaceAll("\\b0x0\\b", "0");
    boolean fatal = !readOnly;
    boolean marked = (header.incompatibleFeatures & Qcow2Header.INCOMPAT_CORRUPT) != 0;
    if (corruption == null || (fatal && !marked)) {
      corruption = new Corruption(message, fatal);
      if (fatal) {
        header.incompatibleFeatures |= Qcow2Header.INCOMPAT_CORRUPT;
        try {
          updateHeader();
        } catch (HostIoException e) {
          // QEMU ignores the result of qcow2_mark_corrupt here too.
        }
        unusable = true;
      }
    }
    return new HostIoException(HostIoException.EIO, message);
  }

  /** Returns the first corruption signalled on this image, or null. */
  public Corruption corruption() {
    return corruption;
  }

  private void checkUsable() throws HostIoException {
    if (unusable) {
      throw new HostIoException(ENOMEDIUM, "No medium found");
    }
  }

  static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }

  /**
   * QEMU runs the host runs of one guest write as coroutines of an AioTaskPool (at most 8 at
   * once) while the request's own coroutine ("main") allocates the next run under
   * {@code s->lock}. This class replays that interleaving deterministically. Host requests go to
   * QEMU's thread pool, whose completion bottom half (util/thread-pool.c) wakes the coroutines of
   * all finished requests newest first, rescanning after each one; the model assumes that every
   * request submitted before a scan started has finished and none submitted during it has. So:
   * a "round" takes all outstanding requests and resumes their coroutines newest first; requests
   * they submit wait for the next round. Lock hand-over follows CoMutex: unlock passes the lock
   * to the first waiter, which runs as soon as the unlocking coroutine yields. A task yields
   * after its zero-fill and after its data write; its status check and its L2 update (with COW)
   * take the lock and are atomic here. Main yields after each host request it makes while
   * allocating, when it waits for the lock or a pool slot, and at the end. The host request
   * order this produces matches qemu-io traces (Qcow2ImageQemuTest).
   */
  private final class WriteScheduler {
    static final int MAX_WORKERS = 8;
    final Object main = new Object();
    Object lockOwner = main;
    final java.util.ArrayDeque<Object> lockWaiters = new java.util.ArrayDeque<>();
    /** Submitted requests not yet picked up by a round, oldest first: tasks or main markers. */
    final List<Object> outstanding = new ArrayList<>();
    /** The rest of the round in progress, next to resume first. */
    final java.util.ArrayDeque<Object> round = new java.util.ArrayDeque<>();
    final java.util.Map<Object, List<Object>> wakeups = new java.util.IdentityHashMap<>();
    Object current = main;
    boolean mainInAlloc;
    boolean mainRunnable;
    int busyTasks;
    HostIoException failure;

    /** A host request of main; processed when its round reaches it. */
    final class MainRequest {
      boolean completed;
    }

    void recordFailure(HostIoException e) {
      if (failure == null) {
        failure = e;
      }
    }

    boolean tryLock(Object who) {
      if (lockOwner == who) {
        return true;
      }
      if (lockOwner == null) {
        lockOwner = who;
        return true;
      }
      lockWaiters.add(who);
      return false;
    }

    void unlock(Object who) {
      Check.that(lockOwner == who, "s->lock released by a coroutine that does not hold it");
      Object next = lockWaiters.poll();
      lockOwner = next;
      if (next != null) {
        wakeups.computeIfAbsent(who, k -> new ArrayList<>()).add(next);
      }
    }

    void unlockMain() {
      unlock(main);
    }

    /** Runs the coroutines woken by who, now that who has yielded. */
    void runWakeups(Object who) {
      List<Object> woken = wakeups.remove(who);
      if (woken == null) {
        return;
      }
      for (int i = 0; i < woken.size(); i++) {
        Object w = woken.get(i);
        if (w == main) {
          mainRunnable = true;
          List<Object> rest = woken.subList(i + 1, woken.size());
          if (!rest.isEmpty()) {
            wakeups.computeIfAbsent(main, k -> new ArrayList<>()).addAll(rest);
          }
          return;
        }
        resume((WriteTask) w);
      }
    }

    void resume(WriteTask t) {
      Object previous = current;
      current = t;
      boolean done;
      try {
        done = t.step();
      } finally {
        current = previous;
      }
      if (done) {
        busyTasks--;
      }
      runWakeups(t);
    }

    void startTask(WriteTask t) {
      if (busyTasks >= MAX_WORKERS) {
        yieldMainUntil(() -> busyTasks < MAX_WORKERS);
      }
      busyTasks++;
      resume(t);
    }

    /** A task submitted a host request and yields until its round comes. */
    void taskSubmitted(WriteTask t) {
      outstanding.add(t);
    }

    /** Main submitted a host request while allocating and yields until it completes. */
    void mainSubmitted() {
      MainRequest r = new MainRequest();
      outstanding.add(r);
      yieldMainUntil(() -> r.completed);
    }

    void lockMain() {
      if (tryLock(main)) {
        return;
      }
      mainRunnable = false;
      yieldMainUntil(() -> mainRunnable);
      Check.that(lockOwner == main, "main coroutine woke without s->lock");
    }

    void waitAll() {
      yieldMainUntil(() -> busyTasks == 0);
    }

    private void yieldMainUntil(java.util.function.BooleanSupplier condition) {
      runWakeups(main);
      while (!condition.getAsBoolean()) {
        if (round.isEmpty()) {
          Check.that(!outstanding.isEmpty(), "write tasks deadlocked (lock owner %s)",
              lockOwner);
          for (Object o : outstanding) {
            round.addFirst(o);
          }
          outstanding.clear();
        }
        Object next = round.poll();
        if (next instanceof MainRequest r) {
          r.completed = true;
        } else {
          resume((WriteTask) next);
        }
      }
    }
  }

  /** One host run of a multi-run guest write: qcow2_co_pwritev_task as a resumable task. */
  private final class WriteTask {
    final long hostOffset;
    final long offset;
    final int bytes;
    final byte[] src;
    final int srcOffset;
    final LinkedList<L2Meta> metas;
    private int nextMeta;
    private boolean dataWritten;
    private boolean failed;

    WriteTask(long hostOffset, long offset, int bytes, byte[] src, int srcOffset,
        LinkedList<L2Meta> metas) {
      this.hostOffset = hostOffset;
      this.offset = offset;
      this.bytes = bytes;
      this.src = src;
      this.srcOffset = srcOffset;
      this.metas = metas;
    }

    /** Runs until the next yield; returns true when the task has finished. */
    boolean step() {
      WriteScheduler s = scheduler;
      if (failed) {
        return abortUnderLock(s);
      }
      try {
        while (nextMeta < metas.size()) {
          L2Meta m = metas.get(nextMeta);
          if (!hasCow(m)) {
            nextMeta++;
            continue;
          }
          if (!s.tryLock(this)) {
            return false;
          }
          boolean zero;
          try {
            zero = isZeroCow(m);
          } finally {
            s.unlock(this);
          }
          nextMeta++;
          if (zero) {
            zeroFillCluster(m);
            s.taskSubmitted(this);
            return false;
          }
        }
        if (!dataWritten) {
          dataWritten = true;
          if (!mergeCow(offset, bytes, src, srcOffset, metas)) {
            raise("write_aio");
            dataFile().write(hostOffset, src, srcOffset, bytes);
            s.taskSubmitted(this);
            return false;
          }
        }
        if (!s.tryLock(this)) {
          return false;
        }
        try {
          linkAll(metas);
        } finally {
          s.unlock(this);
        }
        return true;
      } catch (HostIoException e) {
        s.recordFailure(e);
        failed = true;
        return abortUnderLock(s);
      }
    }

    /**
     * Frees the run's allocations after a failure, under s->lock as QEMU's out_unlocked path
     * does: a task whose data write failed waits for the lock before touching metadata.
     */
    private boolean abortUnderLock(WriteScheduler s) {
      if (!s.tryLock(this)) {
        return false;
      }
      try {
        abortMetas(metas);
      } finally {
        s.unlock(this);
      }
      return true;
    }
  }
}
