package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostIoException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The qcow2 header and its extensions (docs/interop/qcow2.txt), parsed and rebuilt the way QEMU
 * 7.2's qcow2_do_open / qcow2_read_extensions / qcow2_update_header do. Byte offsets of the
 * fixed fields are constants here because QEMU also rewrites single fields in place (L1 table
 * switch, refcount table switch, size).
 */
final class Qcow2Header {
  static final int MAGIC = 0x514649fb;
  static final int OFFSET_BACKING_FILE_OFFSET = 8;
  static final int OFFSET_SIZE = 24;
  static final int OFFSET_L1_SIZE = 36;
  static final int OFFSET_L1_TABLE_OFFSET = 40;
  static final int OFFSET_REFCOUNT_TABLE_OFFSET = 48;
  static final int OFFSET_INCOMPATIBLE_FEATURES = 72;
  static final int V2_LENGTH = 72;
  static final int V3_LENGTH = 112;

  static final int EXT_END = 0;
  static final int EXT_BACKING_FORMAT = 0xe2792aca;
  static final int EXT_FEATURE_TABLE = 0x6803f857;
  static final int EXT_CRYPTO_HEADER = 0x0537be77;
  /**
   * Persistent dirty bitmaps (docs/qemu-behaviour.md §11): nb_bitmaps, reserved, directory size and
   * offset, parsed into {@link #nbBitmaps} and friends and rebuilt by {@link #build} after the
   * feature table, where QEMU writes it. See {@link Qcow2Bitmaps}.
   */
  static final int EXT_BITMAPS = 0x23852875;
  static final int EXT_DATA_FILE = 0x44415441;

  static final long INCOMPAT_DIRTY = 1;
  static final long INCOMPAT_CORRUPT = 2;
  static final long INCOMPAT_DATA_FILE = 4;
  static final long INCOMPAT_COMPRESSION = 8;
  static final long INCOMPAT_EXTL2 = 16;
  static final long INCOMPAT_MASK = 31;
  static final long COMPAT_LAZY_REFCOUNTS = 1;
  static final long AUTOCLEAR_BITMAPS = 1;
  static final long AUTOCLEAR_DATA_FILE_RAW = 2;
  static final long AUTOCLEAR_MASK = 3;

  int version;
  long backingFileOffset;
  int backingFileSize;
  int clusterBits;
  long size;
  int cryptMethod;
  int l1Size;
  long l1TableOffset;
  long refcountTableOffset;
  int refcountTableClusters;
  int nbSnapshots;
  long snapshotsOffset;
  long incompatibleFeatures;
  long compatibleFeatures;
  long autoclearFeatures;
  int refcountOrder = 4;
  int headerLength;
  int compressionType;
  /** Header bytes beyond the 112 QEMU knows (kept, as QEMU does). */
  byte[] unknownHeaderFields = new byte[0];
  String backingFile;
  String backingFormat;
  /**
   * The external data file name of extension 0x44415441 (QEMU's image_data_file), or null. It
   * is written back only while the image has a data file (INCOMPAT_DATA_FILE).
   */
  String dataFile;
  /** Persistent bitmaps in the directory (0: no extension is written). */
  int nbBitmaps;
  long bitmapDirectoryOffset;
  long bitmapDirectorySize;
  /**
   * Set when the extension was present but the autoclear bit was clear: a bitmap-unaware
   * program wrote the image, so QEMU ignores the bitmaps and rewrites the header without them
   * when the image is writable.
   */
  boolean bitmapsExtensionDropped;
  /** Extensions QEMU does not know, in file order: {magic, data}. */
  final List<Object[]> unknownExtensions = new ArrayList<>();

  private static final Object[][] FEATURES = {
    {0, 0, "dirty bit"},
    {0, 1, "corrupt bit"},
    {0, 2, "external data file"},
    {0, 3, "compression type"},
    {0, 4, "extended L2 entries"},
    {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},
    {2, 1, "raw external data"},
  };

  long clusterSize() {
    return 1L << clusterBits;
  }

  /** Whether data clusters live in an external data file (QEMU's has_data_file). */
  boolean hasDataFile() {
    return (incompatibleFeatures & INCOMPAT_DATA_FILE) != 0;
  }

  /** Whether the data file is a standalone raw image (QEMU's data_file_is_raw). */
  boolean dataFileIsRaw() {
    return (autoclearFeatures & AUTOCLEAR_DATA_FILE_RAW) != 0;
  }

  /**
   * Whether everything {@link #parse} reads lies within prefix, a start of the first cluster: the
   * header, the extensions up to their end marker (or the backing file name's offset) and the
   * backing file name. Any doubt (a malformed header) answers false, so that the whole cluster
   * is read and parse reports what it reports.
   */
  static boolean parsedWithin(byte[] prefix) {
    if (prefix.length < V3_LENGTH || Bytes.getInt(prefix, 0) != MAGIC) {
      return false;
    }
    int version = Bytes.getInt(prefix, 4);
    if (version != 2 && version != 3) {
      return false;
    }
    long headerLength = version == 2 ? V2_LENGTH : Integer.toUnsignedLong(Bytes.getInt(prefix, 100));
    long backingOffset = Bytes.getLong(prefix, 8);
    long backingSize = Integer.toUnsignedLong(Bytes.getInt(prefix, 16));
    if (headerLength > prefix.length || backingOffset < 0 || backingOffset > prefix.length
        || (backingOffset != 0 && backingOffset + backingSize > prefix.length)) {
      return false;
    }
    long end = backingOffset != 0 ? backingOffset : Long.MAX_VALUE;
    long at = headerLength;
    while (at < end) {
      if (at + 8 > prefix.length) {
        return false;
      }
      int magic = Bytes.getInt(prefix, (int) at);
      long len = Integer.toUnsignedLong(Bytes.getInt(prefix, (int) at + 4));
      at += 8;
      if (magic == EXT_END) {
        return true;
      }
      if (len > prefix.length - at) {
        return false;
      }
      at += (len + 7) & ~7L;
    }
    return true;
  }

  /** Parses and validates the header in the first cluster (qcow2_do_open, header part). */
  static Qcow2Header parse(byte[] first, boolean readOnly) throws HostIoException {
    Qcow2Header h = new Qcow2Header();
    if (Bytes.getInt(first, 0) != MAGIC) {
      throw error(HostIoException.EINVAL, "Image is not in qcow2 format");
    }
    h.version = Bytes.getInt(first, 4);
    if (h.version < 2 || h.version > 3) {
      throw error(HostIoException.ENOTSUP, "Unsupported qcow2 version " + h.version);
    }
    h.backingFileOffset = Bytes.getLong(first, 8);
    h.backingFileSize = Bytes.getInt(first, 16);
    h.clusterBits = Bytes.getInt(first, 20);
    if (h.clusterBits < 9 || h.clusterBits > 21) {
      throw error(HostIoException.EINVAL,
          "Unsupported cluster size: 2^" + Integer.toUnsignedString(h.clusterBits));
    }
    h.size = Bytes.getLong(first, 24);
    h.cryptMethod = Bytes.getInt(first, 32);
    h.l1Size = Bytes.getInt(first, 36);
    h.l1TableOffset = Bytes.getLong(first, 40);
    h.refcountTableOffset = Bytes.getLong(first, 48);
    h.refcountTableClusters = Bytes.getInt(first, 56);
    h.nbSnapshots = Bytes.getInt(first, 60);
    h.snapshotsOffset = Bytes.getLong(first, 64);
    if (h.version == 2) {
      h.headerLength = V2_LENGTH;
    } else {
      h.incompatibleFeatures = Bytes.getLong(first, 72);
      h.compatibleFeatures = Bytes.getLong(first, 80);
      h.autoclearFeatures = Bytes.getLong(first, 88);
      h.refcountOrder = Bytes.getInt(first, 96);
      h.headerLength = Bytes.getInt(first, 100);
      if (Integer.compareUnsigned(h.headerLength, 104) < 0) {
        throw error(HostIoException.EINVAL, "qcow2 header too short");
      }
    }
    if (Integer.toUnsignedLong(h.headerLength) > h.clusterSize()) {
      throw error(HostIoException.EINVAL, "qcow2 header exceeds cluster size");
    }
    if (h.headerLength > V3_LENGTH) {
      h.unknownHeaderFields = java.util.Arrays.copyOfRange(first, V3_LENGTH, h.headerLength);
    }
    if (h.headerLength > 104) {
      h.compressionType = first[104] & 0xff;
    }
    if (Long.compareUnsigned(h.backingFileOffset, h.clusterSize()) > 0) {
      throw error(HostIoException.EINVAL, "Invalid backing file offset");
    }
    h.validateFeatures(readOnly);
    h.readExtensions(first);
    h.readBackingFileName(first);
    return h;
  }

  private void validateFeatures(boolean readOnly) throws HostIoException {
    if ((incompatibleFeatures & ~INCOMPAT_MASK) != 0) {
      throw error(HostIoException.ENOTSUP, String.format(Locale.ROOT,
          "Unsupported qcow2 feature(s): Unknown incompatible feature: %x",
          incompatibleFeatures & ~INCOMPAT_MASK));
    }
    if ((incompatibleFeatures & INCOMPAT_CORRUPT) != 0 && !readOnly) {
      throw error(13, "qcow2: Image is corrupt; cannot be opened read/write");
    }
    long unsupported = incompatibleFeatures & (INCOMPAT_DIRTY | INCOMPAT_EXTL2);
    if (unsupported != 0) {
      throw error(HostIoException.ENOTSUP, String.format(Locale.ROOT,
          "blocksim: qcow2 incompatible feature bits %#x are not modelled", unsupported));
    }
    if (compressionType != 0 && (incompatibleFeatures & INCOMPAT_COMPRESSION) == 0) {
      throw error(HostIoException.EINVAL, "compression_type field is non-zero "
          + "(" + compressionType + ") while the compression type bit is not set");
    }
    if (refcountOrder > 6 || refcountOrder < 0) {
      throw error(HostIoException.EINVAL,
          "Reference count entry width too large; may not exceed 64 bits");
    }
    if (cryptMethod != 0) {
      throw error(HostIoException.ENOTSUP, "blocksim: encrypted qcow2 images are not modelled");
    }
    if (refcountTableClusters == 0) {
      throw error(HostIoException.EINVAL, "Image does not contain a reference count table");
    }
  }

  private void readExtensions(byte[] first) throws HostIoException {
    long end = backingFileOffset != 0 ? backingFileOffset : clusterSize();
    int at = headerLength;
    while (at < end) {
      if (at + 8 > first.length) {
        throw error(HostIoException.EINVAL, "Header extension too large");
      }
      int magic = Bytes.getInt(first, at);
      long len = Integer.toUnsignedLong(Bytes.getInt(first, at + 4));
      at += 8;
      if (at > end || len > end - at) {
        throw error(HostIoException.EINVAL, "Header extension too large");
      }
      if (magic == EXT_END) {
        return;
      }
      byte[] data = java.util.Arrays.copyOfRange(first, at, at + (int) len);
      if (magic == EXT_BACKING_FORMAT) {
        backingFormat = new String(data, StandardCharsets.UTF_8);
      } else if (magic == EXT_BITMAPS) {
        readBitmapsExtension(data);
      } else if (magic == EXT_DATA_FILE) {
        dataFile = new String(data, StandardCharsets.UTF_8);
      } else if (magic == EXT_CRYPTO_HEADER) {
        throw error(HostIoException.ENOTSUP, String.format(Locale.ROOT,
            "blocksim: qcow2 header extension %#x is not modelled", magic));
      } else if (magic != EXT_FEATURE_TABLE) {
        unknownExtensions.add(new Object[] {magic, data});
      }
      at += (int) ((len + 7) & ~7L);
    }
  }

  /** qcow2_read_extensions, QCOW2_EXT_MAGIC_BITMAPS case, with QEMU's messages. */
  private void readBitmapsExtension(byte[] data) throws HostIoException {
    if (data.length != 24) {
      throw error(HostIoException.EINVAL, "bitmaps_ext: Invalid extension length");
    }
    if ((autoclearFeatures & AUTOCLEAR_BITMAPS) == 0) {
      bitmapsExtensionDropped = true;
      return;
    }
    if (Bytes.getInt(data, 4) != 0) {
      throw error(HostIoException.EINVAL, "bitmaps_ext: Reserved field is not zero");
    }
    long nb = Integer.toUnsignedLong(Bytes.getInt(data, 0));
    long size = Bytes.getLong(data, 8);
    long offset = Bytes.getLong(data, 16);
    if (nb > Qcow2Bitmaps.MAX_BITMAPS) {
      throw error(HostIoException.EINVAL, "bitmaps_ext: Image has " + nb
          + " bitmaps, exceeding the QEMU supported maximum of " + Qcow2Bitmaps.MAX_BITMAPS);
    }
    if (nb == 0) {
      throw error(HostIoException.EINVAL, "found bitmaps extension with zero bitmaps");
    }
    if ((offset & (clusterSize() - 1)) != 0) {
      throw error(HostIoException.EINVAL, "bitmaps_ext: invalid bitmap directory offset");
    }
    if (Long.compareUnsigned(size, Qcow2Bitmaps.MAX_DIRECTORY_SIZE) > 0) {
      throw error(HostIoException.EINVAL, "bitmaps_ext: bitmap directory size ("
          + Long.toUnsignedString(size) + ") exceeds the maximum supported size ("
          + Qcow2Bitmaps.MAX_DIRECTORY_SIZE + ")");
    }
    nbBitmaps = (int) nb;
    bitmapDirectorySize = size;
    bitmapDirectoryOffset = offset;
  }

  /** Returns the 24 bytes of the bitmaps extension, or null when there are no bitmaps. */
  byte[] bitmapsExtension() {
    if (nbBitmaps == 0) {
      return null;
    }
    byte[] ext = new byte[24];
    Bytes.putInt(ext, 0, nbBitmaps);
    Bytes.putLong(ext, 8, bitmapDirectorySize);
    Bytes.putLong(ext, 16, bitmapDirectoryOffset);
    return ext;
  }

  private void readBackingFileName(byte[] first) throws HostIoException {
    if (backingFileOffset == 0) {
      return;
    }
    long len = Integer.toUnsignedLong(backingFileSize);
    if (len > Math.min(1023, clusterSize() - backingFileOffset)) {
      throw error(HostIoException.EINVAL, "Backing file name too long");
    }
    backingFile = new String(first, (int) backingFileOffset, (int) len, StandardCharsets.UTF_8);
  }

  /** Builds the whole first cluster exactly as qcow2_update_header writes it. */
  byte[] build(int refcountTableEntries) throws HostIoException {
    int clusterSize = (int) clusterSize();
    byte[] b = new byte[clusterSize];
    Bytes.putInt(b, 0, MAGIC);
    Bytes.putInt(b, 4, version);
    Bytes.putInt(b, 20, clusterBits);
    Bytes.putLong(b, 24, size);
    Bytes.putInt(b, 32, cryptMethod);
    Bytes.putInt(b, 36, l1Size);
    Bytes.putLong(b, 40, l1TableOffset);
    Bytes.putLong(b, 48, refcountTableOffset);
    Bytes.putInt(b, 56, refcountTableEntries >> (clusterBits - 3));
    Bytes.putInt(b, 60, nbSnapshots);
    Bytes.putLong(b, 64, snapshotsOffset);
    int at;
    if (version == 2) {
      at = V2_LENGTH;
    } else {
      Bytes.putLong(b, 72, incompatibleFeatures);
      Bytes.putLong(b, 80, compatibleFeatures);
      Bytes.putLong(b, 88, autoclearFeatures);
      Bytes.putInt(b, 96, refcountOrder);
      Bytes.putInt(b, 100, V3_LENGTH + unknownHeaderFields.length);
      b[104] = (byte) compressionType;
      at = V3_LENGTH;
    }
    at = copy(b, at, unknownHeaderFields);
    if (backingFormat != null) {
      at = addExtension(b, at, EXT_BACKING_FORMAT, backingFormat.getBytes(StandardCharsets.UTF_8));
    }
    if (hasDataFile() && dataFile != null) {
      at = addExtension(b, at, EXT_DATA_FILE, dataFile.getBytes(StandardCharsets.UTF_8));
    }
    if (version >= 3 && clusterSize > 4096) {
      at = addExtension(b, at, EXT_FEATURE_TABLE, featureTable());
    }
    byte[] bitmaps = bitmapsExtension();
    if (bitmaps != null) {
      at = addExtension(b, at, EXT_BITMAPS, bitmaps);
    }
    for (Object[] ext : unknownExtensions) {
      at = addExtension(b, at, (Integer) ext[0], (byte[]) ext[1]);
    }
    at = addExtension(b, at, EXT_END, new byte[0]);
    if (backingFile != null) {
      byte[] name = backingFile.getBytes(StandardCharsets.UTF_8);
      if (name.length > clusterSize - at) {
        throw error(HostIoException.ENOSPC, "backing file name does not fit the header");
      }
      copy(b, at, name);
      Bytes.putLong(b, 8, at);
      Bytes.putInt(b, 16, name.length);
      backingFileOffset = at;
      backingFileSize = name.length;
    } else {
      backingFileOffset = 0;
      backingFileSize = 0;
    }
    headerLength = version == 2 ? V2_LENGTH : V3_LENGTH + unknownHeaderFields.length;
    return b;
  }

  private static byte[] featureTable() {
    byte[] t = new byte[FEATURES.length * 48];
    for (int i = 0; i < FEATURES.length; i++) {
      t[i * 48] = (byte) (int) (Integer) FEATURES[i][0];
      t[i * 48 + 1] = (byte) (int) (Integer) FEATURES[i][1];
      byte[] name = ((String) FEATURES[i][2]).getBytes(StandardCharsets.US_ASCII);
      System.arraycopy(name, 0, t, i * 48 + 2, name.length);
    }
    return t;
  }

  private static int addExtension(byte[] b, int at, int magic, byte[] data)
      throws HostIoException {
    int padded = (data.length + 7) & ~7;
    if (8 + padded > b.length - at) {
      throw error(HostIoException.ENOSPC, "header extensions do not fit the first cluster");
    }
    Bytes.putInt(b, at, magic);
    Bytes.putInt(b, at + 4, data.length);
    System.arraycopy(data, 0, b, at + 8, data.length);
    return at + 8 + padded;
  }

  private static int copy(byte[] b, int at, byte[] data) {
    System.arraycopy(data, 0, b, at, data.length);
    return at + data.length;
  }

  static HostIoException error(int errno, String message) {
    return new HostIoException(errno, message);
  }
}
