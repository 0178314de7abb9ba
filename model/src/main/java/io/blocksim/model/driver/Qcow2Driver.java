package io.blocksim.model.driver;

import io.blocksim.model.driver.qcow2.Qcow2BlockStatus;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.driver.qcow2.Qcow2OpenOptions;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.semantics.Variant;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.NodeFilenames;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.bitmap.DirtyBitmap;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code qcow2} format driver of a node: the format engine ({@link Qcow2Image}) over the
 * node's {@code file} child, with the backing chain supplied by the node graph.
 */
public final class Qcow2Driver implements Driver {
  /** The child role of an external data file. */
  public static final String DATA_FILE = "data-file";

  private final BlockNode node;
  private final BlockNode file;
  private final Qcow2Image image;

  private Qcow2Driver(BlockNode node, BlockNode file, Qcow2Image image) {
    this.node = node;
    this.file = file;
    this.image = image;
  }

  /** Opens a qcow2 node from blockdev-add options (QEMU's qcow2_open plus the backing chain). */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    BlockNode file = layer.child(args, "file", true, inherit, created);
    boolean backingGiven = args.has("backing");
    Object backingRef = args.get("backing");
    args.unmodelled("lazy-refcounts", args.optBool("lazy-refcounts"));
    args.unmodelled("pass-discard-request", args.optBool("pass-discard-request"));
    args.unmodelled("pass-discard-snapshot", args.optBool("pass-discard-snapshot"), true);
    args.unmodelled("pass-discard-other", args.optBool("pass-discard-other"), false);
    args.unmodelled("cache-clean-interval", args.optInt("cache-clean-interval"), 600L);
    args.unmodelled("overlap-check", args.get("overlap-check"));
    args.unmodelled("cache-size", args.optInt("cache-size"));
    Long l2CacheSize = args.optInt("l2-cache-size");
    args.unmodelled("l2-cache-entry-size", args.optInt("l2-cache-entry-size"));
    Long refcountCacheSize = args.optInt("refcount-cache-size");
    args.unmodelled("encrypt", args.get("encrypt"));
    boolean readOnly = args.bool("read-only", false);
    // qcow2_do_open opens the data-file child given in the options first, then, for an image
    // with a data file and none given, the file named in the header (a protocol node).
    BlockNode dataFile = null;
    Qcow2Image image;
    try {
      Qcow2OpenOptions options = new Qcow2OpenOptions(readOnly,
          l2CacheSize == null ? -1 : l2CacheSize,
          refcountCacheSize == null ? -1 : refcountCacheSize, node.discardUnmap(),
          file.discardUnmap());
      if (args.has(DATA_FILE)) {
        // QEMU names the qcow2 node before its driver opens the data-file child.
        node.setChild(BlockNode.FILE, file);
        dataFile = layer.child(args, DATA_FILE, false, inherit, created);
      }
      // Peek at the header without going through the block layer when the file is a plain
      // file node, so blkdebug and request tracking see only QEMU's requests.
      Qcow2Image.DataFileInfo header = Qcow2Image.dataFileInfo(
          file.driver().hostFile() != null ? file.driver().hostFile()
              : new NodeFile(file), readOnly);
      if (header.hasDataFile() && dataFile == null) {
        if (header.dataFileName() == null) {
          throw QmpError.generic("'data-file' is required for this image");
        }
        node.setChild(BlockNode.FILE, file);
        dataFile = layer.open(new Args(Json.object("driver", "file", "filename",
            header.dataFileName()), DATA_FILE), inherit, created);
        // bdrv_open_child: the node inherits from the qcow2 node (a reopen queues it).
        dataFile.markOpenedInline();
      }
      if (!header.hasDataFile() && dataFile == null && header.dataFileIsRaw()) {
        throw QmpError.generic("data-file-raw requires a data file");
      }
      image = Qcow2Image.open(new NodeFile(file), dataFile == null ? null
          : new NodeFile(dataFile), options, event -> BlockIo.raiseEvent(file, event));
    } catch (HostIoException e) {
      throw QmpError.generic(e.getMessage() == null ? "Could not open qcow2 image"
          : e.getMessage());
    }
    Qcow2Driver driver = new Qcow2Driver(node, file, image);
    node.setChild(BlockNode.FILE, file);
    if (dataFile != null) {
      node.setChild(DATA_FILE, dataFile);
    }
    node.setDriver(driver);
    driver.createLoadedBitmaps(readOnly, layer.variant(Variant.IN_USE_BITMAP_NOT_LOADED));
    BlockNode backing = null;
    try {
      if (backingGiven && backingRef != null) {
        Map<String, Object> backingInherit = new LinkedHashMap<>(inherit);
        backingInherit.put("read-only", true);
        backing = layer.child(args, "backing", false, backingInherit, created);
      } else if (!backingGiven && image.backingFileName() != null) {
        backing = openBackingFromHeader(layer, image, inherit, created);
      }
    } catch (QmpError e) {
      // bdrv_open_backing_file: error_prepend(errp, "Could not open backing file: ").
      throw new QmpError(e.errorClass(), "Could not open backing file: " + e.desc());
    }
    node.setBackingFileName(image.backingFileName());
    // qcow2_do_open sets auto_backing_file from the header; bdrv_open_backing_file replaces it
    // with the backing node's refreshed file name when it opened the header's file implicitly.
    String headerPath = NodeFilenames.protocolFilename(file);
    node.setAutoBackingFile(image.backingFileName(), headerPath != null
        && layer.storage().backingNameFromNode(headerPath, image.backingFileName()));
    if (backing != null) {
      node.setChild(BlockNode.BACKING, backing);
      if (!backingGiven) {
        node.setAutoBackingFile(NodeFilenames.filename(backing), true);
      }
    }
    image.setBackingReader(backing == null ? null : new ChainReader(backing));
  }

  /** Opens the backing file named in the header, read-only, with generated node names. */
  private static BlockNode openBackingFromHeader(BlockLayer layer, Qcow2Image image,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    String format = image.backingFormat() != null ? image.backingFormat() : "raw";
    Map<String, Object> json = io.blocksim.model.qapi.JsonFilename.options(
        image.backingFileName());
    if (json != null) {
      // bdrv_open_backing_file with a json: name: its options, the header's format as driver.
      Map<String, Object> options = io.blocksim.model.qapi.JsonFilename.crumpled(json);
      options.putIfAbsent("driver", format);
      options.put("read-only", true);
      return layer.open(new Args(options, "backing"), inherit, created);
    }
    Map<String, Object> options = Json.object("driver", format, "read-only", true,
        "file", Json.object("driver", "file", "filename", image.backingFileName()));
    return layer.open(new Args(options, "backing"), inherit, created);
  }

  /**
   * Creates the bitmaps found in the image at open (qcow2_load_dirty_bitmaps): each is prepended,
   * so the node lists them in reverse directory order; an entry that was in use becomes
   * inconsistent; one without {@code auto} is disabled; all are readonly on a read-only node.
   * With {@code skipInUse} ({@code bug:in-use-bitmap-not-loaded}) an entry that was in use is not
   * loaded at all, as qcow2_load_dirty_bitmaps did before 4.0.
   */
  private void createLoadedBitmaps(boolean readOnly, boolean skipInUse) {
    for (Qcow2Image.LoadedBitmap loaded : image.loadedBitmaps()) {
      if (skipInUse && loaded.inconsistent()) {
        continue;
      }
      DirtyBitmap bitmap = new DirtyBitmap(loaded.name(), node.length(),
          loaded.granularityBytes());
      if (loaded.data() != null) {
        byte[] data = loaded.data();
        long maxBytes = bitmap.hbitmap().wordCount() * 8;
        if (data.length > maxBytes) {
          data = java.util.Arrays.copyOf(data, (int) maxBytes);
        }
        bitmap.hbitmap().deserialize(data);
      }
      bitmap.setPersistent(true);
      if (loaded.inconsistent()) {
        bitmap.setInconsistent();
      }
      if (!loaded.enabled()) {
        bitmap.setDisabled(true);
      }
      if (readOnly) {
        bitmap.setReadonly(true);
      }
      node.bitmaps().add(0, bitmap);
    }
  }

  /** Returns the persistent bitmaps to store, in the node's list order (newest first). */
  private List<Qcow2Image.BitmapToStore> bitmapsToStore() {
    List<Qcow2Image.BitmapToStore> list = new ArrayList<>();
    for (DirtyBitmap b : node.bitmaps()) {
      if (b.name() == null || !b.persistenceForStore() || b.inconsistent()) {
        continue;
      }
      list.add(new Qcow2Image.BitmapToStore(b.name(), b.granularityBytes(), b.enabled(),
          b.readonly(), b.readonly() ? new byte[0] : b.hbitmap().serialize()));
    }
    return list;
  }

  /**
   * Returns why a new persistent bitmap cannot be stored here (without QEMU's prefix), or null.
   */
  public String canStoreNewBitmap(String name, long granularityBytes) {
    List<String> persistent = new ArrayList<>();
    for (DirtyBitmap b : node.bitmaps()) {
      if (b.name() != null && b.persistenceForStore()) {
        persistent.add(b.name());
      }
    }
    return image.canStoreNewBitmap(name, granularityBytes, persistent);
  }

  public Qcow2Image image() {
    return image;
  }

  public int version() {
    return image.version();
  }

  /** Deletes a stored persistent bitmap from the image now; absent is not an error. */
  public void removeStoredBitmap(String name) throws HostIoException {
    image.removeBitmap(name);
  }

  @Override
  public String name() {
    return "qcow2";
  }

  @Override
  public long length() {
    return image.virtualSize();
  }

  @Override
  public long clusterSize() {
    return image.clusterSize();
  }

  @Override
  public boolean supportsBacking() {
    return true;
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    image.read(offset, buf, pos, length);
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    image.write(offset, buf, pos, length);
  }

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    image.writeZeroes(offset, length, RequestFlags.has(flags, RequestFlags.MAY_UNMAP));
  }

  @Override
  public void discard(BlockNode node, long offset, long length) throws HostIoException {
    image.discard(offset, length);
  }

  @Override
  public void flushToOs(BlockNode node) throws HostIoException {
    image.flushToOs();
  }

  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength)
      throws HostIoException {
    Qcow2BlockStatus status = image.blockStatus(offset, maxLength);
    return switch (status.kind()) {
      case DATA -> BlockStatus.data(status.lengthBytes());
      case ZERO -> BlockStatus.zero(status.lengthBytes());
      case UNALLOCATED -> BlockStatus.unallocated(status.lengthBytes());
    };
  }

  /**
   * qcow2_reopen_prepare for a switch to read-only: qcow2_reopen_bitmaps_ro stores every
   * persistent bitmap that is neither inconsistent nor readonly (in use cleared, nothing
   * released) and makes the persistent ones readonly; then the node is flushed.
   */
  @Override
  public void reopenPrepare(BlockNode node, boolean readOnly) throws HostIoException {
    if (!readOnly) {
      return;
    }
    if (image.readOnly()) {
      // qcow2_reopen_bitmaps_ro runs for read-only -> read-only too: a persistent bitmap that is
      // not readonly (added while the node was read-only) needs a write, and can_write() is
      // false for a node that is still read-only (qcow2_store_persistent_dirty_bitmaps).
      for (DirtyBitmap b : node.bitmaps()) {
        if (b.name() != null && b.persistenceForStore() && !b.inconsistent()
            && !b.readonly()) {
          throw new HostIoException(HostIoException.EPERM, "No write access");
        }
      }
      return;
    }
    image.storeBitmaps(bitmapsToStore());
    for (DirtyBitmap b : node.bitmaps()) {
      if (b.name() != null && b.persistenceForStore()) {
        b.setReadonly(true);
      }
    }
    BlockIo.flush(node);
  }

  /**
   * qcow2_reopen_commit and, for read-write, qcow2_reopen_commit_post: qcow2_reopen_bitmaps_rw
   * marks the stored entries in use and makes their bitmaps writable. Its failure is not fatal
   * (QEMU prints "Failed to make dirty bitmaps writable" and leaves them readonly).
   */
  @Override
  public void reopenCommit(BlockNode node, boolean readOnly) {
    image.setReadOnly(readOnly);
    if (readOnly) {
      return;
    }
    Map<String, Qcow2Image.InMemoryBitmap> inMemory = new LinkedHashMap<>();
    for (DirtyBitmap b : node.bitmaps()) {
      if (b.name() != null && !inMemory.containsKey(b.name())) {
        inMemory.put(b.name(), new Qcow2Image.InMemoryBitmap(b.readonly(), b.inconsistent()));
      }
    }
    try {
      for (String name : image.reopenBitmapsReadWrite(inMemory)) {
        node.bitmap(name).setReadonly(false);
      }
    } catch (HostIoException e) {
      // stderr only; the bitmaps stay readonly, so writes to the node fail until they go.
    }
  }

  /**
   * qcow2_co_truncate: first qcow2_truncate_bitmaps_check (every stored bitmap loaded and usable:
   * not busy, readonly or inconsistent), then the image.
   */
  @Override
  public void truncate(BlockNode node, long length) throws HostIoException {
    for (Qcow2Image.BitmapEntry entry : image.bitmapDirectory()) {
      DirtyBitmap bitmap = node.bitmap(entry.name());
      if (bitmap == null) {
        throw new HostIoException(HostIoException.ENOTSUP, "Cannot resize qcow2 with persistent"
            + " bitmaps that were not loaded into memory");
      }
      String problem = bitmap.checkUsable(DirtyBitmap.CHECK_DEFAULT);
      if (problem != null) {
        throw new HostIoException(HostIoException.ENOTSUP, problem);
      }
    }
    // bdrv_co_truncate asks for BDRV_REQ_ZERO_WRITE when the backing file is longer than the
    // node was, so that growing does not uncover the backing file's data.
    BlockNode backing = node.backing();
    image.truncate(length, backing != null && backing.length() > image.virtualSize());
  }

  @Override
  public void close(BlockNode node) throws HostIoException {
    // bdrv_close: a generic flush first (its result ignored), then qcow2_inactivate stores the
    // persistent bitmaps before it flushes both caches.
    try {
      BlockIo.flush(node);
    } catch (HostIoException e) {
      // QEMU ignores it too.
    }
    if (!image.readOnly()) {
      try {
        image.storeBitmaps(bitmapsToStore());
      } catch (HostIoException e) {
        // "Lost persistent bitmaps during inactivation of node": stderr only.
      }
    }
    image.close();
  }

  @Override
  public void addImageInfo(Map<String, Object> info) {
    info.put("cluster-size", clusterSize());
    Map<String, Object> data = new LinkedHashMap<>();
    if (version() < 3) {
      data.put("compat", "0.10");
      data.put("refcount-bits", image().refcountBits());
    } else {
      data.put("compat", "1.1");
      data.put("compression-type", "zlib");
      data.put("lazy-refcounts", false);
      List<Object> stored = storedBitmaps();
      if (!stored.isEmpty()) {
        data.put("bitmaps", stored);
      }
      data.put("refcount-bits", image().refcountBits());
      if (image().dataFileName() != null) {
        data.put("data-file", image().dataFileName());
      }
      if (image().hasDataFile()) {
        data.put("data-file-raw", image().dataFileIsRaw());
      }
      data.put("corrupt", false);
      data.put("extended-l2", false);
    }
    info.put("format-specific", Json.object("type", "qcow2", "data", data));
    if (image().backingFileName() != null) {
      info.put("backing-filename", image().backingFileName());
      info.put("full-backing-filename", image().backingFileName());
      if (image().backingFormat() != null) {
        info.put("backing-filename-format", image().backingFormat());
      }
    }
  }

  /**
   * The bitmaps in the image's bitmap directory (qcow2_get_bitmap_info_list), which is what the
   * image holds, not the node's in-memory list: a bitmap added since the image was opened shows
   * only once stored (on close or a switch to read-only).
   */
  private List<Object> storedBitmaps() {
    List<Object> list = new ArrayList<>();
    try {
      for (Qcow2Image.BitmapEntry b : image().bitmapDirectory()) {
        List<Object> flags = new ArrayList<>();
        if ((b.flags() & Qcow2Image.BitmapEntry.IN_USE) != 0) {
          flags.add("in-use");
        }
        if ((b.flags() & Qcow2Image.BitmapEntry.AUTO) != 0) {
          flags.add("auto");
        }
        list.add(Json.object("flags", flags, "name", b.name(), "granularity",
            b.granularityBytes()));
      }
    } catch (HostIoException e) {
      // qcow2_get_specific_info fails the query then; blocksim leaves the list out.
    }
    return list;
  }
}
