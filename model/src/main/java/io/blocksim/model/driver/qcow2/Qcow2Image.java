package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;
import io.blocksim.model.driver.qcow2.Qcow2Refcounts.DiscardType;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

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
 * the engine replays that with {@link Qcow2WriteScheduler}, a deterministic stand-in for
 * QEMU's thread-pool timing. Their host requests are QEMU's, but the order of requests between
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
 * {@link Qcow2Bitmaps}); their in-memory form belongs to the node layer. Guest requests of the
 * generic block layer (alignment of write-zeroes and discard, the zero-buffer fallback) are
 * done here; request tracking, dirty bitmaps, {@code discard=ignore} and the flush events
 * belong to the node layer.
 *
 * <p>This class is the public face; the work is done along QEMU's files: {@link Qcow2Open}
 * (qcow2.c: create, open, cache sizes), {@link Qcow2Reader} and {@link Qcow2Writer} (qcow2.c:
 * the request paths), {@link Qcow2WriteScheduler} and {@link Qcow2WriteTask} (the coroutines
 * of one guest write), {@link Qcow2ClusterMap} and {@link Qcow2ClusterAllocator}
 * (qcow2-cluster.c), {@link Qcow2Refcounts} (qcow2-refcount.c), {@link Qcow2Cache}
 * (qcow2-cache.c), {@link Qcow2Bitmaps} (qcow2-bitmap.c); {@link Qcow2State} is what they
 * share (BDRVQcow2State).
 */
public final class Qcow2Image {
  static final long L1E_OFFSET_MASK = 0x00fffffffffffe00L;
  static final long L2E_OFFSET_MASK = 0x00fffffffffffe00L;
  static final long OFLAG_COPIED = 1L << 63;
  static final long OFLAG_COMPRESSED = 1L << 62;
  static final long OFLAG_ZERO = 1L;
  static final long MAX_L1_SIZE_BYTES = 32L * 1024 * 1024;

  final Qcow2State s;
  final Qcow2ClusterMap map;
  final Qcow2Reader reader;
  final Qcow2Writer writer;
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

  /** A bitmap in memory as qcow2_reopen_bitmaps_rw checks it against its directory entry. */
  public record InMemoryBitmap(boolean readonly, boolean inconsistent) {}

  /** QEMU's errno for requests to a node whose driver was dropped after fatal corruption. */
  public static final int ENOMEDIUM = 123;

  /**
   * A corruption QEMU would signal (qcow2_signal_corruption): the node layer emits
   * BLOCK_IMAGE_CORRUPTED with this message. A fatal one (image writable) has set the corrupt
   * bit in the header and made the image unusable: every later request fails with ENOMEDIUM.
   */
  public record Corruption(String message, boolean fatal) {}

  /** What an image's header says about its external data file. */
  public record DataFileInfo(boolean hasDataFile, String dataFileName, boolean dataFileIsRaw) {}

  Qcow2Image(HostFile hostFile, HostFile dataHostFile, Qcow2Header header,
      Qcow2OpenOptions options) {
    // Every host request may be a yield point of the guest write in progress.
    this.s = new Qcow2State(hostFile, dataHostFile, header, options, this::hostRequestSubmitted);
    this.map = new Qcow2ClusterMap(s);
    this.reader = new Qcow2Reader(s, map);
    Qcow2ClusterAllocator allocator = new Qcow2ClusterAllocator(s, map, reader);
    this.writer = new Qcow2Writer(s, map, allocator, reader);
    this.bitmaps = new Qcow2Bitmaps(this, header, s.file, s.refcounts);
  }

  private void hostRequestSubmitted() {
    writer.hostRequestSubmitted();
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
    Qcow2Open.create(file, dataFile, sizeBytes, o);
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
    Qcow2Header h = Qcow2Open.readHeader(file, options.readOnly());
    return Qcow2Open.openParsed(file, null, h, options, events);
  }

  /**
   * Opens an image whose data clusters live in dataFile (null: the image has none, or it is not
   * opened, as qemu-img info does not open it; data I/O then fails with EIO). Checks what
   * qcow2_do_open checks about the {@code data-file} child.
   */
  public static Qcow2Image open(HostFile file, HostFile dataFile, Qcow2OpenOptions options,
      Qcow2Events events) throws HostIoException {
    Qcow2Header h = Qcow2Open.readHeader(file, options.readOnly());
    if (!h.hasDataFile() && dataFile != null) {
      throw new HostIoException(HostIoException.EINVAL,
          "'data-file' can only be set for images with an external data file");
    }
    return Qcow2Open.openParsed(file, dataFile, h, options, events);
  }

  /**
   * Parses the header of the image in file (failing as {@link #open} would on a bad header)
   * and returns its data file fields, so the caller can open the data-file child first.
   */
  public static DataFileInfo dataFileInfo(HostFile file, boolean readOnly)
      throws HostIoException {
    Qcow2Header h = Qcow2Open.readHeader(file, readOnly);
    return new DataFileInfo(h.hasDataFile(), h.dataFile, h.dataFileIsRaw());
  }

  /**
   * Returns the data file name recorded in the header of an image with an external data file
   * (QEMU's image_data_file), or null.
   */
  public String dataFileName() {
    return s.header.dataFile;
  }

  /** Whether the image keeps its data in an external data file (has_data_file). */
  public boolean hasDataFile() {
    return s.hasDataFile;
  }

  /** Whether the autoclear bit {@code data-file-raw} is set (data_file_is_raw). */
  public boolean dataFileIsRaw() {
    return s.header.dataFileIsRaw();
  }

  // ---------------------------------------------------------------- accessors

  /** Sets the listener that receives the blkdebug events raised on the file child. */
  public void setEventListener(Qcow2Events events) {
    s.setEventListener(events);
  }

  /** Attaches the backing chain (null = no backing file, as {@code bs->backing == NULL}). */
  public void setBackingReader(BackingReader reader) {
    s.backing = reader;
  }

  /** Returns the guest-visible size in bytes. */
  public long virtualSize() {
    return s.header.size;
  }

  /** Returns the cluster size in bytes. */
  public long clusterSize() {
    return s.clusterSize;
  }

  /** Returns the qcow2 version: 2 (compat=0.10) or 3 (compat=1.1). */
  public int version() {
    return s.header.version;
  }

  /** Returns the backing file name stored in the header, or null. */
  public String backingFileName() {
    return s.header.backingFile;
  }

  /** Returns the backing format extension, or null. */
  public String backingFormat() {
    return s.header.backingFormat;
  }

  /** Returns the incompatible feature bits. */
  public long incompatibleFeatures() {
    return s.header.incompatibleFeatures;
  }

  /** Returns the compatible feature bits. */
  public long compatibleFeatures() {
    return s.header.compatibleFeatures;
  }

  /** Returns the autoclear feature bits. */
  public long autoclearFeatures() {
    return s.header.autoclearFeatures;
  }

  /** Returns the refcount width in bits. */
  public int refcountBits() {
    return 1 << s.header.refcountOrder;
  }

  /** Returns whether the image was opened read-only. */
  public boolean readOnly() {
    return s.readOnly;
  }

  /** Returns the number of L2 cache entries (tables or 4 KiB slices). */
  public int l2CacheEntries() {
    return s.l2Cache.entryCount();
  }

  /** Returns the size of one L2 cache entry in bytes. */
  public int l2CacheEntryBytes() {
    return s.l2Cache.tableSizeBytes();
  }

  /** Returns the raw bytes of the persistent-bitmap header extension, or null. */
  public byte[] bitmapsExtension() {
    return s.header.bitmapsExtension();
  }

  /** Returns the first corruption signalled on this image, or null. */
  public Corruption corruption() {
    return s.firstCorruption();
  }

  /**
   * Returns an estimate of the heap the metadata held in memory occupies: the L1 table, the
   * cached L2 slices (sparse) and refcount blocks. QEMU would hold its whole cache arrays.
   */
  long metadataMemoryBytes() {
    return 8L * map.l1Entries() + 8L * s.refcounts.tableSize()
        + s.l2Cache.footprintBytes(L2Slice::footprintBytes)
        + s.refcounts.cache.footprintBytes(b -> b.length);
  }

  /** Allocates clusters that nothing references: a leak, for tests of the check. */
  long allocateClustersForTest(long bytes) throws HostIoException {
    return s.refcounts.allocClusters(bytes);
  }

  // ---------------------------------------------------------------- persistent bitmaps

  /** Loads the bitmaps at open (qcow2_load_dirty_bitmaps); see {@link #loadedBitmaps}. */
  void loadBitmaps(boolean canWrite) throws HostIoException {
    loadedBitmaps = bitmaps.load(canWrite);
  }

  boolean hasUsableBitmapsLoaded() {
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
    return s.header.bitmapsExtensionDropped;
  }

  /** Returns whether the autoclear bit of the bitmaps extension is set. */
  public boolean bitmapsConsistent() {
    return (s.header.autoclearFeatures & Qcow2Header.AUTOCLEAR_BITMAPS) != 0;
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
    if (s.header.version < 3) {
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
    s.checkUsable();
    bitmaps.store(toStore, !s.readOnly);
  }

  /**
   * The image becomes read-only or read-write (qcow2_reopen_commit): later stores and header
   * updates follow the new mode. Caches and the loaded bitmaps stay as they are.
   */
  public void setReadOnly(boolean readOnly) {
    s.readOnly = readOnly;
  }

  /** qcow2_reopen_bitmaps_rw; see {@link Qcow2Bitmaps#reopenReadWrite}. */
  public List<String> reopenBitmapsReadWrite(Map<String, InMemoryBitmap> inMemory)
      throws HostIoException {
    s.checkUsable();
    return bitmaps.reopenReadWrite(inMemory);
  }

  /** Resizes the image (qcow2_co_truncate); see {@link Qcow2Truncate}. */
  public void truncate(long newSize, boolean zeroNewArea) throws HostIoException {
    Qcow2Truncate.truncate(this, newSize, zeroNewArea);
  }

  /** Deletes a stored bitmap now (qcow2_co_remove_persistent_dirty_bitmap). */
  public void removeBitmap(String name) throws HostIoException {
    s.checkUsable();
    bitmaps.remove(name);
  }

  // ---------------------------------------------------------------- guest requests

  /**
   * Reads guest bytes (qcow2_co_preadv_part): data clusters from the file with one
   * {@code read_aio} per contiguous host run, zero clusters as zeroes without I/O, unallocated
   * ranges from the backing reader after {@code read_backing_aio} (zeroes without one).
   */
  public void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException {
    s.checkUsable();
    s.checkRange(offset, length);
    if (!(dstOffset >= 0 && dstOffset + length <= dst.length)) {
      throw Check.failure("read buffer range %d+%d outside %d bytes", dstOffset, length,
          dst.length);
    }
    reader.readOwnLayer(offset, dst, dstOffset, length);
  }

  /**
   * Returns the image's own status at offset for at most maxLength bytes
   * (qcow2_co_block_status): DATA with its host offset, ZERO, or UNALLOCATED.
   */
  public Qcow2BlockStatus blockStatus(long offset, long maxLength) throws HostIoException {
    return reader.blockStatus(offset, maxLength);
  }

  /**
   * Returns whether metadata preallocation was detected (QEMU then adds BDRV_BLOCK_RECURSE to
   * DATA runs). The scan goes through the refcount cache, as QEMU's does, so it evicts and
   * writes back refcount blocks at the same moment.
   */
  public boolean metadataPreallocation() {
    return reader.metadataPreallocation();
  }

  /**
   * Writes guest bytes (qcow2_co_pwritev_part): allocates clusters and L2 tables as needed,
   * zero-fills or copies (COW) the untouched parts of new clusters from this image's own view
   * (backing reader for unallocated ranges), writes the data, then links the clusters in L2.
   */
  public void write(long offset, byte[] src, int srcOffset, int length) throws HostIoException {
    s.checkUsable();
    s.checkWritable();
    s.checkRange(offset, length);
    if (!(srcOffset >= 0 && srcOffset + length <= src.length)) {
      throw Check.failure("write buffer range %d+%d outside %d bytes", srcOffset, length,
          src.length);
    }
    writer.write(offset, src, srcOffset, length);
  }

  /**
   * Writes zeroes as QEMU's generic bdrv_co_do_pwrite_zeroes drives qcow2: cluster-aligned parts
   * become zero clusters (v3) or are discarded (v2 without backing); unaligned heads and tails
   * that do not already read as zero, and everything on v2 with a backing file, fall back to
   * writing a zero buffer through the normal write path. mayUnmap is BDRV_REQ_MAY_UNMAP; as in
   * bdrv_co_pwrite_zeroes it only counts when the image was opened with discard=unmap.
   */
  public void writeZeroes(long offset, long length, boolean mayUnmap) throws HostIoException {
    s.checkUsable();
    s.checkWritable();
    s.checkRange(offset, length);
    writer.writeZeroes(offset, length, mayUnmap);
  }

  /**
   * Discards guest clusters as QEMU's bdrv_co_pdiscard drives qcow2: only whole clusters (and the
   * partial last cluster of the image) are discarded; they read as zeroes afterwards (v3, or v2
   * without backing). Partial clusters are ignored. Callers model {@code discard=ignore} by not
   * calling this at all, as QEMU's generic layer does.
   */
  public void discard(long offset, long length) throws HostIoException {
    s.checkUsable();
    s.checkWritable();
    s.checkRange(offset, length);
    writer.discard(offset, length);
  }

  /**
   * Empties the image so that every cluster falls through to the backing file (qcow2_make_empty,
   * as qemu-img commit leaves its top): discards every cluster completely, in steps of INT_MAX
   * rounded down to clusters. QEMU rebuilds a v3 image without bitmaps, snapshots or data file
   * from scratch instead (make_completely_empty); the guest sees the same, but the file keeps its
   * size here.
   */
  public void makeEmpty() throws HostIoException {
    s.checkUsable();
    s.checkWritable();
    long step = Integer.MAX_VALUE / s.clusterSize * s.clusterSize;
    for (long offset = 0; offset < s.header.size; offset += step) {
      map.discard(offset, Math.min(step, s.header.size - offset), DiscardType.SNAPSHOT, true);
    }
  }

  // ---------------------------------------------------------------- flush and close

  /**
   * Writes the L2 and refcount caches back to the file without flushing it
   * (qcow2_co_flush_to_os). QEMU's generic flush then raises {@code flush_to_disk} and flushes
   * the file; {@link #flush} does both steps without the events.
   */
  public void flushToOs() throws HostIoException {
    s.checkUsable();
    s.l2Cache.write();
    s.refcounts.cache.write();
  }

  /**
   * qcow2_co_check on the open image ({@code qemu-img check}, and {@code -r leaks}/{@code -r
   * all} with {@code fixLeaks}): the caches are written back first so that the check, which
   * reads the file, sees what qcow2_check_refcounts sees through them; a leak is repaired by
   * dropping the surplus references with QCOW2_DISCARD_ALWAYS (the freed cluster is discarded
   * on the file when its refcount reaches 0), and the caches are written back again.
   */
  public Qcow2Check.Result check(boolean fixLeaks) throws HostIoException {
    s.checkUsable();
    flushToOs();
    if (!fixLeaks) {
      return Qcow2Check.check(s.file);
    }
    s.checkWritable();
    Qcow2Check.Result result = Qcow2Check.check(s.file, (clusterIndex, by) -> {
      try {
        s.refcounts.updateRefcount(clusterIndex << s.clusterBits, s.clusterSize, by, true,
            Qcow2Refcounts.DiscardType.ALWAYS);
        return true;
      } catch (HostIoException e) {
        return false;
      }
    });
    flushToOs();
    return result;
  }

  /**
   * Changes the qcow2 version as {@code qemu-img amend -o compat=} does: qcow2_upgrade (v2 to
   * v3: the header rewritten, now with the v3 fields and the feature table) or the end of
   * qcow2_downgrade (v3 to v2: compatible and autoclear features cleared, the header rewritten
   * without them). The caller has refused what qcow2_downgrade would have to convert first
   * (zero clusters, a data file, refcount widths other than 16, persistent bitmaps).
   */
  public void amendVersion(int version) throws HostIoException {
    s.checkUsable();
    s.checkWritable();
    Check.that(version == 2 || version == 3, "qcow2 version %d", version);
    Qcow2Header h = s.header;
    int oldVersion = h.version;
    long oldCompatible = h.compatibleFeatures;
    long oldAutoclear = h.autoclearFeatures;
    h.version = version;
    if (version == 2) {
      h.compatibleFeatures = 0;
      h.autoclearFeatures = 0;
    }
    try {
      updateHeader();
    } catch (HostIoException e) {
      h.version = oldVersion;
      h.compatibleFeatures = oldCompatible;
      h.autoclearFeatures = oldAutoclear;
      throw e;
    }
  }

  /** qcow2_update_header as qcow2_amend_options calls it: the first cluster rewritten as is. */
  public void rewriteHeader() throws HostIoException {
    s.checkUsable();
    s.checkWritable();
    updateHeader();
  }

  /**
   * Whether any L2 entry is a zero cluster (QCOW_OFLAG_ZERO): what qcow2_expand_zero_clusters
   * would have to turn into data clusters before a downgrade to v2.
   */
  public boolean hasZeroClusters() throws HostIoException {
    s.checkUsable();
    flushToOs();
    Qcow2Header h = s.header;
    byte[] l1 = new byte[h.l1Size * 8];
    s.file.read(h.l1TableOffset, l1, 0, l1.length);
    byte[] l2 = new byte[(int) s.clusterSize];
    for (int i = 0; i < h.l1Size; i++) {
      long l2Offset = Bytes.getLong(l1, i * 8) & L1E_OFFSET_MASK;
      if (l2Offset == 0) {
        continue;
      }
      s.file.read(l2Offset, l2, 0, l2.length);
      for (int j = 0; j < l2.length; j += 8) {
        long entry = Bytes.getLong(l2, j);
        if ((entry & OFLAG_COMPRESSED) == 0 && (entry & OFLAG_ZERO) != 0) {
          return true;
        }
      }
    }
    return false;
  }

  /** Writes the caches back and flushes the file (what a guest flush leaves on disk). */
  public void flush() throws HostIoException {
    flushToOs();
    s.file.flush();
  }

  /** qcow2_flush_caches: both caches written back, then the file flushed. */
  void flushCaches() throws HostIoException {
    s.l2Cache.write();
    s.refcounts.cache.write();
    s.file.flush();
  }

  /**
   * Writes back and flushes both caches as qcow2_inactivate does on close. The generic layer's
   * flush that precedes it in bdrv_close is the caller's (see {@link #flush}).
   */
  public void close() throws HostIoException {
    if (s.readOnly) {
      return;
    }
    HostIoException first = null;
    try {
      s.l2Cache.flush();
    } catch (HostIoException e) {
      first = e;
    }
    try {
      s.refcounts.cache.flush();
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
    s.checkUsable();
    s.checkWritable();
    if (backingFile != null
        && backingFile.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 1023) {
      throw new HostIoException(HostIoException.EINVAL, "backing file name too long");
    }
    Qcow2Header header = s.header;
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
    s.updateHeader();
  }
}
