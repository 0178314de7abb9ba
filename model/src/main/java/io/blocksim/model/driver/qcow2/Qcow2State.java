package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.Locale;

/**
 * What every part of one open image shares, as QEMU's BDRVQcow2State ({@code s}) is passed to
 * every function of block/qcow2*.c: the file and data-file children, the header, the cluster
 * geometry, the L2 cache and the refcounts, the event listener and the backing chain, and the
 * corruption state that qcow2_signal_corruption sets.
 */
final class Qcow2State {
  final HostFile file;
  /**
   * Where data clusters live: the qcow2 file itself, the external data file, or null when the
   * image has a data file that was not opened (qemu-img info's BDRV_O_NO_IO).
   */
  private final HostFile data;
  final boolean hasDataFile;
  final Qcow2Header header;
  /** Changes only on a reopen (qcow2_reopen_commit). */
  boolean readOnly;
  final int clusterBits;
  final long clusterSize;
  final int l2Bits;
  final int l2Size;
  final int l2SliceSize;
  final Qcow2Cache<L2Slice> l2Cache;
  final Qcow2Refcounts refcounts;
  private Qcow2Events listener = Qcow2Events.NONE;
  /** The backing chain, or null: QEMU's {@code bs->backing == NULL}. */
  BackingReader backing;
  private Qcow2Image.Corruption corruption;
  private boolean unusable;

  /**
   * Wraps the children so that every host request calls onSubmit afterwards (the write
   * scheduler's yield points), and sets up the caches with the sizes read_cache_sizes computes.
   */
  Qcow2State(HostFile hostFile, HostFile dataHostFile, Qcow2Header header,
      Qcow2OpenOptions options, Runnable onSubmit) {
    this.file = new YieldingHostFile(hostFile, onSubmit);
    this.hasDataFile = header.hasDataFile();
    if (!hasDataFile) {
      this.data = file;
    } else {
      this.data = dataHostFile == null ? null : new YieldingHostFile(dataHostFile, onSubmit);
    }
    this.header = header;
    this.readOnly = options.readOnly();
    this.clusterBits = header.clusterBits;
    this.clusterSize = 1L << clusterBits;
    this.l2Bits = clusterBits - 3;
    this.l2Size = 1 << l2Bits;
    Qcow2Events dispatch = name -> listener.event(name);
    Qcow2Open.CacheSizes sizes = Qcow2Open.cacheSizes(header, options);
    this.l2SliceSize = sizes.l2EntryBytes() / 8;
    this.l2Cache = new Qcow2Cache<>("L2 table", file, dispatch, L2Slice.codec(l2SliceSize),
        sizes.l2Entries(), sizes.l2EntryBytes(), "l2_update", "l2_load");
    this.refcounts = new Qcow2Refcounts(file, dispatch, header, sizes.refcountEntries(),
        options.discardUnmap(), options.fileUnmap());
    refcounts.attachL2Cache(l2Cache);
    refcounts.onCorruption = this::signalCorruption;
  }

  void setEventListener(Qcow2Events events) {
    this.listener = events == null ? Qcow2Events.NONE : events;
  }

  /** Raises a blkdebug event on the file child (BLKDBG_EVENT(bs->file, ...)). */
  void raise(String event) {
    listener.event(event);
  }

  /**
   * The data file child, or QEMU's s->data_file; EIO when the image's data file was not opened.
   */
  HostFile dataFile() throws HostIoException {
    if (data == null) {
      throw new HostIoException(HostIoException.EIO,
          "blocksim: the external data file of this image is not open");
    }
    return data;
  }

  /** The data file child when it is open, else null (for requests whose result is ignored). */
  HostFile dataFileIfOpen() {
    return data;
  }

  /** Index of offset's L2 entry inside its L2 slice (offset_to_l2_slice_index). */
  int sliceIndex(long offset) {
    return (int) ((offset >>> clusterBits) & (l2SliceSize - 1));
  }

  /** A write followed by a flush, as bdrv_pwrite_sync does it. */
  void writeSync(long offset, byte[] bytes) throws HostIoException {
    file.write(offset, bytes, 0, bytes.length);
    file.flush();
  }

  /** Rewrites the whole first cluster from the in-memory header (qcow2_update_header). */
  void updateHeader() throws HostIoException {
    byte[] b = header.build(refcounts.tableSize());
    file.write(0, b, 0, b.length);
  }

  void checkRange(long offset, long length) {
    if (!(offset >= 0 && length >= 0)) {
      throw Check.failure("request %d+%d negative", offset, length);
    }
    if (!(offset + length <= header.size)) {
      throw Check.failure("request %d+%d beyond image size %d", offset, length, header.size);
    }
  }

  void checkWritable() throws HostIoException {
    if (readOnly) {
      throw new HostIoException(HostIoException.EPERM, "blocksim: qcow2 image is read-only");
    }
  }

  /** ENOMEDIUM once a fatal corruption has dropped the driver. */
  void checkUsable() throws HostIoException {
    if (unusable) {
      throw new HostIoException(Qcow2Image.ENOMEDIUM, "No medium found");
    }
  }

  HostIoException corruption(String format, Object... args) {
    return signalCorruption(String.format(Locale.ROOT, format, args));
  }

  /**
   * Records a corruption and, when the image is writable, marks it corrupt on disk and makes it
   * unusable, as qcow2_signal_corruption with fatal=true does. Returns the EIO to fail with.
   */
  HostIoException signalCorruption(String formatted) {
    // C's %#x prints zero as "0", Java's as "0x0".
    String message = formatted.replaceAll("\\b0x0\\b", "0");
    boolean fatal = !readOnly;
    boolean marked = (header.incompatibleFeatures & Qcow2Header.INCOMPAT_CORRUPT) != 0;
    if (corruption == null || (fatal && !marked)) {
      corruption = new Qcow2Image.Corruption(message, fatal);
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

  /** The first corruption signalled on this image, or null. */
  Qcow2Image.Corruption firstCorruption() {
    return corruption;
  }

  static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
