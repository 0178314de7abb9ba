package io.blocksim.model.driver.qcow2;

import io.blocksim.model.driver.qcow2.Qcow2Refcounts.DiscardType;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The persistent-bitmap extension of one open image, following block/qcow2-bitmap.c of QEMU 7.2
 * function by function: the directory is read anew from the file for every operation (QEMU keeps
 * no in-memory copy either), new data clusters, tables and directories are allocated in QEMU's
 * order, and header updates are written and flushed where QEMU flushes them, so that what a
 * crash leaves on disk is what QEMU would leave.
 */
final class Qcow2Bitmaps {
  static final int MAX_BITMAPS = 65535;
  static final long MAX_DIRECTORY_SIZE = 1024L * MAX_BITMAPS;
  static final long MAX_TABLE_SIZE = 0x8000000L;
  static final long MAX_PHYS_SIZE = 0x20000000L;
  static final int MAX_GRANULARITY_BITS = 31;
  static final int MIN_GRANULARITY_BITS = 9;
  static final int MAX_NAME_SIZE = 1023;
  static final int FLAG_IN_USE = 1;
  static final int FLAG_AUTO = 2;
  static final int RESERVED_FLAGS = 0xfffffffc;
  static final long TABLE_ENTRY_RESERVED_MASK = 0xff000000000001feL;
  static final long TABLE_ENTRY_OFFSET_MASK = 0x00fffffffffffe00L;
  static final long TABLE_ENTRY_ALL_ONES = 1;
  private static final int ENTRY_HEADER_BYTES = 24;

  private final Qcow2Image image;
  private final Qcow2Header header;
  private final HostFile file;
  private final Qcow2Refcounts refcounts;
  private final long clusterSize;

  Qcow2Bitmaps(Qcow2Image image, Qcow2Header header, HostFile file, Qcow2Refcounts refcounts) {
    this.image = image;
    this.header = header;
    this.file = file;
    this.refcounts = refcounts;
    this.clusterSize = header.clusterSize();
  }

  /** One directory entry as QEMU's Qcow2Bitmap holds it. */
  static final class Entry {
    long tableOffset;
    int tableSize;
    int flags;
    int granularityBits;
    String name;
    Qcow2Image.BitmapToStore source;

    Qcow2Image.BitmapEntry toPublic() {
      return new Qcow2Image.BitmapEntry(name, granularityBits, flags, tableOffset, tableSize);
    }
  }

  static int entrySize(int nameBytes) {
    return (ENTRY_HEADER_BYTES + nameBytes + 7) & ~7;
  }

  static int nameBytes(String name) {
    return name.getBytes(StandardCharsets.UTF_8).length;
  }

  /** Returns the serialized size of a bitmap: whole 64-bit words, as hbitmap serializes. */
  static long serializedBytes(long lengthBytes, long granularityBytes) {
    long bits = ceilDiv(lengthBytes, granularityBytes);
    return ceilDiv(bits, 64) * 8;
  }

  /** check_constraints_on_bitmap: returns QEMU's message, or null. */
  String constraintProblem(String name, long granularityBytes) {
    int bits = Long.numberOfTrailingZeros(granularityBytes);
    if (bits > MAX_GRANULARITY_BITS) {
      return "Granularity exceeds maximum (2147483648 bytes)";
    }
    if (bits < MIN_GRANULARITY_BITS) {
      return "Granularity is under minimum (512 bytes)";
    }
    long bitmapBytes = ceilDiv(ceilDiv(image.virtualSize(), granularityBytes), 8);
    if (bitmapBytes > MAX_PHYS_SIZE || bitmapBytes > MAX_TABLE_SIZE * clusterSize) {
      return "Too much space will be occupied by the bitmap. Use larger granularity";
    }
    if (nameBytes(name) > MAX_NAME_SIZE) {
      return "Name length exceeds maximum (1023 characters)";
    }
    return null;
  }

  // ---------------------------------------------------------------- directory

  /** bitmap_list_load: the directory, checked, in file order. Empty when there is none. */
  List<Entry> loadList() throws HostIoException {
    return parseDirectory(file, header, image.virtualSize());
  }

  /** bitmap_list_load for an image of virtualSize bytes. */
  static List<Entry> parseDirectory(HostFile file, Qcow2Header header, long virtualSize)
      throws HostIoException {
    long clusterSize = header.clusterSize();
    List<Entry> list = new ArrayList<>();
    if (header.nbBitmaps == 0) {
      return list;
    }
    long size = header.bitmapDirectorySize;
    if (size == 0) {
      throw invalid("Requested bitmap directory size is zero");
    }
    if (size > MAX_DIRECTORY_SIZE) {
      throw invalid("Requested bitmap directory size is too big");
    }
    byte[] dir = new byte[(int) size];
    file.read(header.bitmapDirectoryOffset, dir, 0, dir.length);
    int at = 0;
    int count = 0;
    while (at < dir.length) {
      if (at + ENTRY_HEADER_BYTES > dir.length) {
        throw invalid("Broken bitmap directory");
      }
      if (++count > header.nbBitmaps) {
        throw invalid("More bitmaps found than specified in header extension");
      }
      Entry e = new Entry();
      e.tableOffset = Bytes.getLong(dir, at);
      e.tableSize = Bytes.getInt(dir, at + 8);
      e.flags = Bytes.getInt(dir, at + 12);
      int type = dir[at + 16] & 0xff;
      e.granularityBits = dir[at + 17] & 0xff;
      int nameSize = ((dir[at + 18] & 0xff) << 8) | (dir[at + 19] & 0xff);
      long extra = Integer.toUnsignedLong(Bytes.getInt(dir, at + 20));
      long next = at + ((ENTRY_HEADER_BYTES + nameSize + extra + 7) & ~7L);
      if (next > dir.length) {
        throw invalid("Broken bitmap directory");
      }
      if (extra != 0) {
        throw invalid("Bitmap extra data is not supported");
      }
      e.name = new String(dir, at + ENTRY_HEADER_BYTES, nameSize, StandardCharsets.UTF_8);
      if (!entryValid(e, type, nameSize, clusterSize, virtualSize)) {
        throw invalid("Bitmap '" + e.name + "' doesn't satisfy the constraints");
      }
      list.add(e);
      at = (int) next;
    }
    if (count != header.nbBitmaps) {
      throw invalid("Less bitmaps found than specified in header extension");
    }
    return list;
  }

  /** check_dir_entry. */
  private static boolean entryValid(Entry e, int type, int nameSize, long clusterSize,
      long virtualSize) {
    long tableSize = Integer.toUnsignedLong(e.tableSize);
    if (tableSize == 0 || e.tableOffset == 0 || (e.tableOffset & (clusterSize - 1)) != 0
        || tableSize > MAX_TABLE_SIZE || e.granularityBits > MAX_GRANULARITY_BITS
        || e.granularityBits < MIN_GRANULARITY_BITS || (e.flags & RESERVED_FLAGS) != 0
        || nameSize > MAX_NAME_SIZE || type != 1) {
      return false;
    }
    long physBytes = tableSize * clusterSize;
    if (physBytes > MAX_PHYS_SIZE) {
      return false;
    }
    long bits = physBytes * 8;
    long coverage = bits > (Long.MAX_VALUE >> e.granularityBits) ? Long.MAX_VALUE
        : bits << e.granularityBits;
    return (e.flags & FLAG_IN_USE) != 0 || virtualSize <= coverage;
  }

  /** bitmap_list_store: writes the directory (allocating it unless in place); returns offset. */
  private long storeList(List<Entry> list, long inPlaceOffset) throws HostIoException {
    int size = 0;
    for (Entry e : list) {
      size += entrySize(nameBytes(e.name));
    }
    if (size == 0 || size > MAX_DIRECTORY_SIZE) {
      throw new HostIoException(HostIoException.EINVAL, "bitmap directory size " + size);
    }
    byte[] dir = new byte[size];
    int at = 0;
    for (Entry e : list) {
      byte[] name = e.name.getBytes(StandardCharsets.UTF_8);
      Bytes.putLong(dir, at, e.tableOffset);
      Bytes.putInt(dir, at + 8, e.tableSize);
      Bytes.putInt(dir, at + 12, e.flags);
      dir[at + 16] = 1;
      dir[at + 17] = (byte) e.granularityBits;
      dir[at + 18] = (byte) (name.length >> 8);
      dir[at + 19] = (byte) name.length;
      System.arraycopy(name, 0, dir, at + ENTRY_HEADER_BYTES, name.length);
      if (!entryValid(e, 1, name.length, clusterSize, image.virtualSize())) {
        throw new HostIoException(HostIoException.EINVAL, "bitmap '" + e.name + "' invalid");
      }
      at += entrySize(name.length);
    }
    long offset = inPlaceOffset;
    if (offset == 0) {
      offset = refcounts.allocClusters(size);
    }
    try {
      file.write(offset, dir, 0, size);
    } catch (HostIoException ex) {
      if (inPlaceOffset == 0) {
        refcounts.freeClusters(offset, size, DiscardType.OTHER);
      }
      throw ex;
    }
    return offset;
  }

  private void updateHeaderSync() throws HostIoException {
    image.updateHeader();
    file.flush();
  }

  /** update_ext_header_and_dir_in_place: rewrites the directory where it is (flags only). */
  private void updateInPlace(List<Entry> list) throws HostIoException {
    if ((header.autoclearFeatures & Qcow2Header.AUTOCLEAR_BITMAPS) == 0 || list.isEmpty()
        || list.size() != header.nbBitmaps) {
      throw new HostIoException(HostIoException.EINVAL, "bitmap directory not updatable");
    }
    header.autoclearFeatures &= ~Qcow2Header.AUTOCLEAR_BITMAPS;
    updateHeaderSync();
    int size = 0;
    for (Entry e : list) {
      size += entrySize(nameBytes(e.name));
    }
    if (size != header.bitmapDirectorySize || header.bitmapDirectoryOffset == 0) {
      throw new HostIoException(HostIoException.EINVAL, "bitmap directory size changed");
    }
    storeList(list, header.bitmapDirectoryOffset);
    updateHeaderSync();
    header.autoclearFeatures |= Qcow2Header.AUTOCLEAR_BITMAPS;
    updateHeaderSync();
  }

  /** update_ext_header_and_dir: a new directory elsewhere, then the header, then the old freed. */
  private void updateExtension(List<Entry> list) throws HostIoException {
    long oldOffset = header.bitmapDirectoryOffset;
    long oldSize = header.bitmapDirectorySize;
    int oldCount = header.nbBitmaps;
    long oldAutoclear = header.autoclearFeatures;
    long newOffset = 0;
    long newSize = 0;
    if (!list.isEmpty()) {
      if (list.size() > MAX_BITMAPS) {
        throw new HostIoException(HostIoException.EINVAL, "too many bitmaps");
      }
      for (Entry e : list) {
        newSize += entrySize(nameBytes(e.name));
      }
      newOffset = storeList(list, 0);
      try {
        image.flushCaches();
      } catch (HostIoException ex) {
        refcounts.freeClusters(newOffset, newSize, DiscardType.OTHER);
        throw ex;
      }
      header.autoclearFeatures |= Qcow2Header.AUTOCLEAR_BITMAPS;
    } else {
      header.autoclearFeatures &= ~Qcow2Header.AUTOCLEAR_BITMAPS;
    }
    header.bitmapDirectoryOffset = newOffset;
    header.bitmapDirectorySize = newSize;
    header.nbBitmaps = list.size();
    try {
      updateHeaderSync();
    } catch (HostIoException ex) {
      if (newOffset > 0) {
        refcounts.freeClusters(newOffset, newSize, DiscardType.OTHER);
      }
      header.bitmapDirectoryOffset = oldOffset;
      header.bitmapDirectorySize = oldSize;
      header.nbBitmaps = oldCount;
      header.autoclearFeatures = oldAutoclear;
      throw ex;
    }
    if (oldSize > 0) {
      refcounts.freeClusters(oldOffset, oldSize, DiscardType.OTHER);
    }
  }

  // ---------------------------------------------------------------- tables and data

  private long[] loadTable(Entry e) throws HostIoException {
    byte[] raw = new byte[e.tableSize * 8];
    file.read(e.tableOffset, raw, 0, raw.length);
    long[] table = new long[e.tableSize];
    for (int i = 0; i < table.length; i++) {
      table[i] = Bytes.getLong(raw, i * 8);
      if (!tableEntryValid(table[i], clusterSize)) {
        throw new HostIoException(HostIoException.EINVAL, "bitmap table entry invalid");
      }
    }
    return table;
  }

  static boolean tableEntryValid(long entry, long clusterSize) {
    if ((entry & TABLE_ENTRY_RESERVED_MASK) != 0) {
      return false;
    }
    long offset = entry & TABLE_ENTRY_OFFSET_MASK;
    return offset == 0
        || ((entry & TABLE_ENTRY_ALL_ONES) == 0 && (offset & (clusterSize - 1)) == 0);
  }

  /** free_bitmap_clusters: every data cluster (ALWAYS), then the table (OTHER). */
  private void freeBitmapClusters(Entry e) throws HostIoException {
    long[] table = loadTable(e);
    clearTable(table);
    refcounts.freeClusters(e.tableOffset, e.tableSize * 8L, DiscardType.OTHER);
    e.tableOffset = 0;
    e.tableSize = 0;
  }

  private void clearTable(long[] table) {
    for (int i = 0; i < table.length; i++) {
      long address = table[i] & TABLE_ENTRY_OFFSET_MASK;
      if (address != 0) {
        refcounts.freeClusters(address, clusterSize, DiscardType.ALWAYS);
        table[i] = 0;
      }
    }
  }

  /**
   * load_bitmap_data: returns the serialized bitmap (whole words) of an entry for a disk of
   * lengthBytes, or throws EINVAL when the table does not fit the disk.
   */
  byte[] readData(Entry e, long lengthBytes) throws HostIoException {
    long granularity = 1L << e.granularityBits;
    long serialized = serializedBytes(lengthBytes, granularity);
    long tableSize = ceilDiv(serialized, clusterSize);
    if (tableSize != Integer.toUnsignedLong(e.tableSize) || tableSize > MAX_TABLE_SIZE) {
      throw new HostIoException(HostIoException.EINVAL, "Invalid argument");
    }
    long[] table = loadTable(e);
    byte[] data = new byte[(int) serialized];
    byte[] buffer = new byte[(int) clusterSize];
    for (int i = 0; i < table.length; i++) {
      int from = (int) (i * clusterSize);
      int count = (int) Math.min(clusterSize, serialized - from);
      long address = table[i] & TABLE_ENTRY_OFFSET_MASK;
      if (address == 0) {
        if ((table[i] & TABLE_ENTRY_ALL_ONES) != 0) {
          Arrays.fill(data, from, from + count, (byte) 0xff);
        }
        continue;
      }
      file.read(address, buffer, 0, buffer.length);
      System.arraycopy(buffer, 0, data, from, count);
    }
    return data;
  }

  /** store_bitmap_data then store_bitmap: data clusters where dirty, then the table. */
  private void storeBitmap(Entry e) throws HostIoException {
    byte[] data = e.source.serialized();
    long tableSize = ceilDiv(data.length, clusterSize);
    if (tableSize > MAX_TABLE_SIZE || tableSize * clusterSize > MAX_PHYS_SIZE) {
      throw new HostIoException(HostIoException.EINVAL, "Bitmap '" + e.name + "' is too big");
    }
    long[] table = new long[(int) tableSize];
    byte[] buffer = new byte[(int) clusterSize];
    try {
      for (int i = 0; i < table.length; i++) {
        int from = (int) (i * clusterSize);
        int count = (int) Math.min(clusterSize, data.length - from);
        if (Bytes.isZero(data, from, count)) {
          continue;
        }
        long offset = refcounts.allocClusters(clusterSize);
        table[i] = offset;
        Arrays.fill(buffer, (byte) 0);
        System.arraycopy(data, from, buffer, 0, count);
        file.write(offset, buffer, 0, buffer.length);
      }
    } catch (HostIoException ex) {
      clearTable(table);
      throw ex;
    }
    long tableOffset = 0;
    try {
      tableOffset = refcounts.allocClusters(tableSize * 8);
      byte[] raw = new byte[(int) tableSize * 8];
      for (int i = 0; i < table.length; i++) {
        Bytes.putLong(raw, i * 8, table[i]);
      }
      file.write(tableOffset, raw, 0, raw.length);
    } catch (HostIoException ex) {
      clearTable(table);
      if (tableOffset > 0) {
        refcounts.freeClusters(tableOffset, tableSize * 8, DiscardType.OTHER);
      }
      throw ex;
    }
    e.tableOffset = tableOffset;
    e.tableSize = (int) tableSize;
  }

  // ---------------------------------------------------------------- the three operations

  /**
   * qcow2_load_dirty_bitmaps: returns the bitmaps to create, in directory order, with their data
   * (null for an in-use entry, which becomes inconsistent); when writable, marks the loaded ones
   * in use on disk. An image whose extension was dropped has none.
   */
  List<Qcow2Image.LoadedBitmap> load(boolean canWrite) throws HostIoException {
    List<Qcow2Image.LoadedBitmap> loaded = new ArrayList<>();
    if (header.nbBitmaps == 0) {
      return loaded;
    }
    List<Entry> list = loadList();
    boolean needsUpdate = false;
    for (Entry e : list) {
      byte[] data = null;
      boolean inconsistent = (e.flags & FLAG_IN_USE) != 0;
      if (!inconsistent) {
        try {
          data = readData(e, image.virtualSize());
        } catch (HostIoException ex) {
          throw new HostIoException(ex.errno(), "Could not read bitmap '" + e.name
              + "' from image: " + HostIoException.strerror(ex.errno()));
        }
        e.flags |= FLAG_IN_USE;
        needsUpdate = true;
      }
      loaded.add(new Qcow2Image.LoadedBitmap(e.name, 1L << e.granularityBits,
          (e.flags & FLAG_AUTO) != 0, inconsistent, data));
    }
    if (needsUpdate && canWrite) {
      try {
        updateInPlace(list);
      } catch (HostIoException ex) {
        throw new HostIoException(ex.errno(), "Can't update bitmap directory: "
            + HostIoException.strerror(ex.errno()));
      }
    }
    return loaded;
  }

  /**
   * qcow2_store_persistent_dirty_bitmaps: bitmaps are the node's persistent, consistent bitmaps
   * in the node's list order. Throws with QEMU's message when they cannot be stored.
   */
  void store(List<Qcow2Image.BitmapToStore> bitmaps, boolean canWrite) throws HostIoException {
    List<Entry> list = loadList();
    List<Entry> dropTables = new ArrayList<>();
    boolean needWrite = false;
    int count = header.nbBitmaps;
    long dirSize = header.bitmapDirectorySize;
    for (Qcow2Image.BitmapToStore bitmap : bitmaps) {
      Entry e = find(list, bitmap.name());
      if (bitmap.readonly()) {
        if (e != null) {
          e.source = bitmap;
        }
        continue;
      }
      needWrite = true;
      String problem = constraintProblem(bitmap.name(), bitmap.granularityBytes());
      if (problem != null) {
        throw storeFailed(list, "Bitmap '" + bitmap.name() + "' doesn't satisfy the constraints: "
            + problem);
      }
      if (e == null) {
        if (++count > MAX_BITMAPS) {
          throw storeFailed(list, "Too many persistent bitmaps");
        }
        dirSize += entrySize(nameBytes(bitmap.name()));
        if (dirSize > MAX_DIRECTORY_SIZE) {
          throw storeFailed(list, "Bitmap directory is too large");
        }
        e = new Entry();
        e.name = bitmap.name();
        list.add(e);
      } else {
        if ((e.flags & FLAG_IN_USE) == 0) {
          throw storeFailed(list, "Bitmap '" + bitmap.name() + "' already exists in the image");
        }
        Entry old = new Entry();
        old.tableOffset = e.tableOffset;
        old.tableSize = e.tableSize;
        dropTables.add(old);
        e.tableOffset = 0;
        e.tableSize = 0;
      }
      e.flags = bitmap.enabled() ? FLAG_AUTO : 0;
      e.granularityBits = Long.numberOfTrailingZeros(bitmap.granularityBytes());
      e.source = bitmap;
    }
    if (!needWrite) {
      return;
    }
    if (!canWrite) {
      throw storeFailed(list, "No write access");
    }
    try {
      for (Entry e : list) {
        if (e.source != null && !e.source.readonly()) {
          storeBitmap(e);
        }
      }
      updateExtension(list);
    } catch (HostIoException ex) {
      throw storeFailed(list, ex.getMessage() == null ? "Failed to update bitmap extension"
          : ex.getMessage());
    }
    for (Entry old : dropTables) {
      freeBitmapClusters(old);
    }
  }

  /** The fail path of qcow2_store_persistent_dirty_bitmaps: frees what was newly written. */
  private HostIoException storeFailed(List<Entry> list, String message) {
    for (Entry e : list) {
      if (e.source == null || e.tableOffset == 0 || e.source.readonly()) {
        continue;
      }
      try {
        freeBitmapClusters(e);
      } catch (HostIoException ignored) {
        // QEMU ignores the result here too: the clusters leak.
      }
    }
    return new HostIoException(HostIoException.EINVAL, message);
  }

  /**
   * qcow2_reopen_bitmaps_rw: the directory is read again and matched by name against the bitmaps
   * in memory (none is loaded a second time); entries not in use are marked in use in place.
   * Returns the names of the entries whose readonly bitmaps may now become writable; throws with
   * QEMU's message, which leaves every bitmap readonly.
   */
  List<String> reopenReadWrite(Map<String, Qcow2Image.InMemoryBitmap> inMemory)
      throws HostIoException {
    List<String> writable = new ArrayList<>();
    if (header.nbBitmaps == 0) {
      return writable;
    }
    List<Entry> list = loadList();
    boolean needUpdate = false;
    for (Entry e : list) {
      Qcow2Image.InMemoryBitmap bitmap = inMemory.get(e.name);
      if (bitmap == null) {
        throw invalid("Unexpected bitmap '" + e.name + "' in image");
      }
      if ((e.flags & FLAG_IN_USE) == 0) {
        if (!bitmap.readonly()) {
          throw invalid("Corruption: bitmap '" + e.name + "' is not marked IN_USE in the image"
              + " and not marked readonly in RAM");
        }
        if (bitmap.inconsistent()) {
          throw invalid("Corruption: bitmap '" + e.name + "' is inconsistent but is not marked"
              + " IN_USE in the image");
        }
        e.flags |= FLAG_IN_USE;
        needUpdate = true;
      } else if (bitmap.readonly() && !bitmap.inconsistent()) {
        throw invalid("Corruption: bitmap '" + e.name + "' is marked IN_USE in the image but it"
            + " is readonly and consistent in RAM");
      }
      if (bitmap.readonly()) {
        writable.add(e.name);
      }
    }
    if (needUpdate) {
      try {
        updateInPlace(list);
      } catch (HostIoException ex) {
        throw new HostIoException(ex.errno(), "Cannot update bitmap directory: "
            + HostIoException.strerror(ex.errno()));
      }
    }
    return writable;
  }

  /** qcow2_co_remove_persistent_dirty_bitmap: absent is not an error. */
  void remove(String name) throws HostIoException {
    if (header.nbBitmaps == 0) {
      return;
    }
    List<Entry> list = loadList();
    Entry e = find(list, name);
    if (e == null) {
      return;
    }
    list.remove(e);
    updateExtension(list);
    try {
      freeBitmapClusters(e);
    } catch (HostIoException ignored) {
      // As QEMU: the result of free_bitmap_clusters is not checked; the clusters leak.
    }
  }

  private static Entry find(List<Entry> list, String name) {
    for (Entry e : list) {
      if (e.name.equals(name)) {
        return e;
      }
    }
    return null;
  }

  private static HostIoException invalid(String message) {
    return new HostIoException(HostIoException.EINVAL, message);
  }

  static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
