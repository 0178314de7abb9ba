package io.blocksim.model.driver.qbm;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.Driver;
import io.blocksim.model.driver.NodeFile;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * proposal:qbm, the {@code qbm} format driver of Fam Zheng's RFC "Qemu Bit Map (QBM)"
 * (docs/variants.md): the node's {@code file} child holds a JSON descriptor ({@link
 * QbmDescriptor}) naming a raw data image and one plain bitmap file per persistent bitmap (bit i
 * of byte i / 8 is granule i, as {@code HBitmap.serialize} lays it out). Guest I/O goes to the
 * data image (child {@code image}); the bitmaps named in the descriptor are loaded at open as
 * persistent, enabled and consistent: the descriptor has no in-use flag. The option {@code mode}:
 * {@code close} (the default; the thread's other side, "just save bitmaps on close") writes every
 * persistent bitmap to its file at close only; {@code synchronous} (the RFC's driver, as Vladimir
 * Sementsov-Ogievskiy's review of patch 10 sums it up: "sync (aio write) after each write to
 * disk") also, after each write, write-zeroes or discard has reached the data image, writes the
 * bytes of the bitmap files whose granules it set, with no flush of their own (a guest flush
 * flushes them with the image); {@code write-ahead} (blocksim's, not in the thread: what
 * synchronous needs to be crash-safe) writes those bytes and flushes the files before the
 * request reaches the data image. In every mode all bitmaps are written at close. A persistent
 * bitmap added since the open gets its file and its descriptor entry at close (close) or at the
 * first request that dirties it (the others); removing one takes it out of the descriptor at
 * once. Bitmap files are flushed
 * before the descriptor is rewritten to name a new one (the RFC does not say; the other order
 * would make a crash in between leave an empty bitmap named). Bitmap files are written through
 * the host storage, not as nodes of the graph.
 */
public final class QbmDriver implements Driver {
  /** The mode option's values. */
  public static final List<String> MODES = List.of("close", "synchronous", "write-ahead");

  private final BlockNode node;
  private final BlockNode descriptorNode;
  private final BlockNode image;
  private final HostStorage storage;
  private final String folder;
  private final String mode;
  private QbmDescriptor descriptor;
  /** What each bitmap file holds (the per-write modes' copy of the files), by bitmap name. */
  private final Map<String, byte[]> onFile = new TreeMap<>();
  private long bitmapWrites;
  /** Bitmap files written (mode synchronous) and not flushed since, by path. */
  private final java.util.TreeSet<String> unflushed = new java.util.TreeSet<>();

  private QbmDriver(BlockNode node, BlockNode descriptorNode, BlockNode image,
      HostStorage storage, String folder, String mode, QbmDescriptor descriptor) {
    this.node = node;
    this.descriptorNode = descriptorNode;
    this.image = image;
    this.storage = storage;
    this.folder = folder;
    this.mode = mode;
    this.descriptor = descriptor;
  }

  /** Opens a qbm node: its descriptor ({@code file}), the data image, the stored bitmaps. */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    BlockNode file = layer.child(args, "file", true, inherit, created);
    String mode = args.optEnum("mode", MODES);
    boolean readOnly = args.bool("read-only", false);
    node.setChild(BlockNode.FILE, file);
    String name = file.driver().filename();
    String folder = name == null || name.lastIndexOf('/') < 0 ? ""
        : name.substring(0, name.lastIndexOf('/') + 1);
    QbmDescriptor descriptor;
    try {
      NodeFile descFile = new NodeFile(file);
      byte[] bytes = new byte[(int) Math.min(descFile.length(), 1 << 20)];
      descFile.read(0, bytes, 0, bytes.length);
      descriptor = QbmDescriptor.parse(bytes);
    } catch (HostIoException | IllegalArgumentException e) {
      throw QmpError.generic("Could not open QBM descriptor: " + e.getMessage());
    }
    if (!descriptor.imageFormat().equals("raw")) {
      throw QmpError.generic("QBM image format '" + descriptor.imageFormat()
          + "' is not modelled (raw only)");
    }
    BlockNode image = layer.open(new Args(Json.object("driver", "raw", "file",
        Json.object("driver", "file", "filename", folder + descriptor.imageFile())), "image"),
        inherit, created);
    node.setChild(BlockNode.IMAGE, image);
    QbmDriver driver = new QbmDriver(node, file, image, layer.storage(), folder,
        mode == null ? "close" : mode, descriptor);
    node.setDriver(driver);
    try {
      driver.loadBitmaps(readOnly);
    } catch (HostIoException e) {
      throw QmpError.generic("Could not load QBM bitmap: " + e.getMessage());
    }
  }

  /** Creates the node's bitmaps from the descriptor's bitmap files (all consistent). */
  private void loadBitmaps(boolean readOnly) throws HostIoException {
    for (QbmDescriptor.Bitmap b : descriptor.bitmaps()) {
      DirtyBitmap bitmap = new DirtyBitmap(b.name(), length(), b.granularityBytes());
      int bytes = fileBytes(bitmap);
      byte[] data = new byte[bytes];
      HostFile f = storage.open(folder + b.file());
      int have = (int) Math.min(bytes, f.length());
      if (have > 0) {
        f.read(0, data, 0, have);
      }
      bitmap.hbitmap().deserialize(data);
      bitmap.setPersistent(true);
      if (readOnly) {
        bitmap.setReadonly(true);
      }
      onFile.put(b.name(), data);
      node.bitmaps().add(0, bitmap);
    }
  }

  private static int fileBytes(DirtyBitmap bitmap) {
    return (int) ((bitmap.hbitmap().sizeBits() + 7) / 8);
  }

  /** The mode: close, synchronous or write-ahead. */
  public String mode() {
    return mode;
  }

  /** The bitmap-file writes this node made (for the cost figures of docs/variants.md). */
  public long bitmapWrites() {
    return bitmapWrites;
  }

  /**
   * Sets the granules of [offset, offset + length) in the files of the recording bitmaps; with
   * flush (write-ahead) the files are flushed before the caller goes on.
   */
  private void updateFiles(long offset, long length, boolean flush) throws HostIoException {
    if (length <= 0) {
      return;
    }
    boolean descriptorChanged = false;
    List<HostFile> written = new ArrayList<>();
    for (DirtyBitmap b : node.bitmaps()) {
      if (b.name() == null || !b.persistenceForStore() || !b.recording() || b.inconsistent()) {
        continue;
      }
      long g = b.granularityBytes();
      long first = offset / g;
      long last = Math.min((offset + length - 1) / g, b.hbitmap().sizeBits() - 1);
      byte[] data = onFile.get(b.name());
      boolean fresh = data == null || descriptor.bitmap(b.name()) == null;
      if (fresh) {
        data = Arrays.copyOf(b.hbitmap().serialize(), fileBytes(b));
      }
      int lo = Integer.MAX_VALUE;
      int hi = -1;
      for (long granule = first; granule <= last; granule++) {
        int at = (int) (granule / 8);
        byte bit = (byte) (1 << (granule % 8));
        if ((data[at] & bit) == 0) {
          data[at] |= bit;
          lo = Math.min(lo, at);
          hi = Math.max(hi, at);
        }
      }
      if (fresh) {
        HostFile f = storage.create(folder + fileName(b.name()));
        f.write(0, data, 0, data.length);
        bitmapWrites++;
        written.add(f);
        onFile.put(b.name(), data);
        descriptor = withBitmap(descriptor, b);
        descriptorChanged = true;
      } else if (hi >= 0) {
        String path = folder + descriptor.bitmap(b.name()).file();
        HostFile f = storage.open(path);
        f.write(lo, data, lo, hi - lo + 1);
        bitmapWrites++;
        written.add(f);
        if (!flush) {
          unflushed.add(path);
        }
      }
    }
    // The bitmap files are stable before the descriptor names a new one.
    for (HostFile f : written) {
      if (flush || descriptorChanged) {
        f.flush();
      }
    }
    if (descriptorChanged) {
      writeDescriptor();
      BlockIo.flush(descriptorNode);
    }
  }

  private void beforeChange(long offset, long length) throws HostIoException {
    if (mode.equals("write-ahead")) {
      updateFiles(offset, length, true);
    }
  }

  private void afterChange(long offset, long length) throws HostIoException {
    if (mode.equals("synchronous")) {
      updateFiles(offset, length, false);
    }
  }

  /** Writes every persistent bitmap to its file, then the descriptor when its list changed. */
  private void storeAll() throws HostIoException {
    List<QbmDescriptor.Bitmap> kept = new ArrayList<>();
    List<HostFile> written = new ArrayList<>();
    for (DirtyBitmap b : node.bitmaps()) {
      if (b.name() == null || !b.persistenceForStore() || b.inconsistent() || b.readonly()) {
        QbmDescriptor.Bitmap old = b.name() == null || !b.persistenceForStore() ? null
            : descriptor.bitmap(b.name());
        if (old != null) {
          kept.add(old);
        }
        continue;
      }
      QbmDescriptor.Bitmap entry = descriptor.bitmap(b.name());
      String file = entry != null ? entry.file() : fileName(b.name());
      byte[] data = Arrays.copyOf(b.hbitmap().serialize(), fileBytes(b));
      byte[] before = onFile.get(b.name());
      if (entry == null || before == null || !Arrays.equals(before, data)) {
        HostFile f = entry == null ? storage.create(folder + file) : storage.open(folder + file);
        f.write(0, data, 0, data.length);
        bitmapWrites++;
        written.add(f);
        onFile.put(b.name(), data);
      }
      kept.add(new QbmDescriptor.Bitmap(b.name(), file, b.granularityBytes()));
    }
    java.util.Collections.reverse(kept); // The node lists the newest first.
    QbmDescriptor now = new QbmDescriptor(descriptor.imageFile(), descriptor.imageFormat(),
        List.copyOf(kept));
    boolean changed = !now.bitmaps().equals(descriptor.bitmaps());
    descriptor = now;
    // The bitmap files are stable before the descriptor names a new one.
    for (HostFile f : written) {
      f.flush();
    }
    flushToOs(node);
    if (changed) {
      writeDescriptor();
      BlockIo.flush(descriptorNode);
    }
  }

  /** Takes a bitmap out of the descriptor now (block-dirty-bitmap-remove of a stored one). */
  public void removeStoredBitmap(String name) throws HostIoException {
    if (descriptor.bitmap(name) == null) {
      return;
    }
    List<QbmDescriptor.Bitmap> rest = new ArrayList<>(descriptor.bitmaps());
    rest.removeIf(b -> b.name().equals(name));
    descriptor = new QbmDescriptor(descriptor.imageFile(), descriptor.imageFormat(),
        List.copyOf(rest));
    onFile.remove(name);
    writeDescriptor();
    BlockIo.flush(descriptorNode);
  }

  private static QbmDescriptor withBitmap(QbmDescriptor d, DirtyBitmap b) {
    List<QbmDescriptor.Bitmap> list = new ArrayList<>(d.bitmaps());
    list.add(new QbmDescriptor.Bitmap(b.name(), fileName(b.name()), b.granularityBytes()));
    return new QbmDescriptor(d.imageFile(), d.imageFormat(), List.copyOf(list));
  }

  /** The bitmap file of a bitmap added here, in the descriptor's folder. */
  private static String fileName(String name) {
    return name + ".bitmap";
  }

  /** Rewrites the descriptor in place (and shortens the file when the text got shorter). */
  private void writeDescriptor() throws HostIoException {
    byte[] bytes = descriptor.toBytes();
    NodeFile f = new NodeFile(descriptorNode);
    long old = f.length();
    f.write(0, bytes, 0, bytes.length);
    if (old > bytes.length) {
      f.truncate(bytes.length);
    }
  }

  @Override
  public String name() {
    return "qbm";
  }

  @Override
  public long length() {
    return image.length();
  }

  @Override
  public void read(BlockNode n, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    BlockIo.read(image, offset, buf, pos, length);
  }

  @Override
  public void write(BlockNode n, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    beforeChange(offset, length);
    BlockIo.write(image, offset, buf, pos, length, flags);
    afterChange(offset, length);
  }

  @Override
  public void writeZeroes(BlockNode n, long offset, long length, int flags)
      throws HostIoException {
    beforeChange(offset, length);
    BlockIo.writeZeroes(image, offset, length, flags);
    afterChange(offset, length);
  }

  @Override
  public void discard(BlockNode n, long offset, long length) throws HostIoException {
    beforeChange(offset, length);
    BlockIo.discard(image, offset, length);
    afterChange(offset, length);
  }

  /** A guest flush also flushes the bitmap files synchronous mode wrote since the last one. */
  @Override
  public void flushToOs(BlockNode n) throws HostIoException {
    for (String path : unflushed) {
      storage.open(path).flush();
    }
    unflushed.clear();
  }

  @Override
  public BlockStatus blockStatus(BlockNode n, long offset, long maxLength)
      throws HostIoException {
    return BlockIo.blockStatus(image, offset, maxLength);
  }

  @Override
  public void reopenPrepare(BlockNode n, boolean readOnly) throws HostIoException {
    if (readOnly && !n.readOnly()) {
      storeAll();
    }
  }

  @Override
  public void close(BlockNode n) throws HostIoException {
    if (!n.readOnly()) {
      storeAll();
    }
  }
}
