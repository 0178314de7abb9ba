package io.blocksim.model.job;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.driver.qcow2.Qcow2CreateOptions;
import io.blocksim.model.driver.file.FileDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.List;

/**
 * blockdev-create for qcow2 (qcow2_co_create's option checks, in QEMU's order), writing the image
 * through a {@link Writer} that the qcow2 format engine supplies, so this class does not depend
 * on it. Register with {@code jobs.registerFormatCreator("qcow2", new
 * Qcow2Creator(layer, writer))}.
 */
public final class Qcow2Creator implements FormatCreator {
  /**
   * Writes an empty qcow2 image of that size into the host file, with its data clusters in
   * dataFile when that is not null (options then name it).
   */
  @FunctionalInterface
  public interface Writer {
    void write(HostFile file, HostFile dataFile, long sizeBytes, Qcow2CreateOptions options)
        throws HostIoException;
  }

  private final BlockLayer layer;
  private final Writer writer;

  public Qcow2Creator(BlockLayer layer, Writer writer) {
    this.layer = layer;
    this.writer = writer;
  }

  @Override
  public Creation prepare(Args o) throws QmpError {
    o.optStr("driver");
    Object file = o.get("file");
    if (file == null) {
      throw o.missing("file");
    }
    if (!(file instanceof String)) {
      throw QmpError.generic("blocksim: blockdev-create qcow2 needs 'file' as a node name");
    }
    long size = o.integer("size");
    String version = o.optEnum("version", List.of("v2", "v3"));
    String backingFile = o.optStr("backing-file");
    String backingFormat = o.optStr("backing-fmt");
    o.unmodelled("encrypt", o.optObject("encrypt"));
    Long clusterSize = o.optInt("cluster-size");
    String preallocation = o.optEnum("preallocation", List.of("off", "metadata", "falloc",
        "full"));
    boolean lazyRefcounts = o.bool("lazy-refcounts", false);
    Long refcountBits = o.optInt("refcount-bits");
    o.unmodelled("compression-type", o.optEnum("compression-type", List.of("zlib", "zstd")),
        "zlib");
    Object dataFileRef = o.get("data-file");
    if (dataFileRef != null && !(dataFileRef instanceof String)) {
      throw QmpError.generic("blocksim: blockdev-create qcow2 needs 'data-file' as a node name");
    }
    boolean dataFileRaw = o.bool("data-file-raw", false);
    boolean extendedL2 = o.bool("extended-l2", false);
    o.checkNoExtra();
    String fileName = (String) file;
    return () -> {
      BlockNode node = layer.graph().find(fileName);
      if (node == null) {
        throw QmpError.generic("Cannot find device='" + fileName + "' nor node-name='"
            + fileName + "'");
      }
      if (size % 512 != 0) {
        throw QmpError.generic("Image size must be a multiple of 512 bytes");
      }
      int v = "v2".equals(version) ? 2 : 3;
      long cluster = clusterSize == null ? 65536 : clusterSize;
      if (extendedL2 && v < 3) {
        throw QmpError.generic("Extended L2 entries are only supported with compatibility "
            + "level 1.1 and above (use version=v3 or greater)");
      }
      if (Long.bitCount(cluster) != 1 || cluster < 512 || cluster > 2 * 1024 * 1024) {
        throw QmpError.generic("Cluster size must be a power of two between 512 and 2048k");
      }
      if (backingFile != null && preallocation != null && !preallocation.equals("off")
          && !extendedL2) {
        throw QmpError.generic("Backing file and preallocation can only be used at the same "
            + "time if extended_l2 is on");
      }
      if (backingFormat != null && backingFile == null) {
        throw QmpError.generic("Backing format cannot be used without backing file");
      }
      if (v < 3 && lazyRefcounts) {
        throw QmpError.generic("Lazy refcounts only supported with compatibility level 1.1 "
            + "and above (use version=v3 or greater)");
      }
      long bits = refcountBits == null ? 16 : refcountBits;
      if (bits > 64 || Long.bitCount(bits) != 1) {
        throw QmpError.generic("Refcount width must be a power of two and may not exceed 64 "
            + "bits");
      }
      if (v < 3 && bits != 16) {
        throw QmpError.generic("Different refcount widths than 16 bits require compatibility "
            + "level 1.1 or above (use version=v3 or greater)");
      }
      if (dataFileRaw && dataFileRef == null) {
        throw QmpError.generic("data-file-raw requires data-file");
      }
      if (dataFileRaw && backingFile != null) {
        throw QmpError.generic("Backing file and data-file-raw cannot be used at the same "
            + "time");
      }
      FileDriver dataDriver = null;
      if (dataFileRef != null) {
        if (v < 3) {
          throw QmpError.generic("External data files are only supported with compatibility "
              + "level 1.1 and above (use version=v3 or greater)");
        }
        String dataName = (String) dataFileRef;
        BlockNode dataNode = layer.graph().find(dataName);
        if (dataNode == null) {
          throw QmpError.generic("Cannot find device='" + dataName + "' nor node-name='"
              + dataName + "'");
        }
        if (!(dataNode.driver() instanceof FileDriver d)) {
          throw QmpError.generic("blocksim: blockdev-create qcow2 needs a 'file' data-file "
              + "node");
        }
        dataDriver = d;
      }
      if (!(node.driver() instanceof FileDriver fileDriver)) {
        throw QmpError.generic("blocksim: blockdev-create qcow2 needs a 'file' node");
      }
      // blocksim writes neither lazy refcounts nor extended L2 entries: an image asking for
      // one is refused once QEMU's own checks above (which read both) have passed.
      o.unmodelled("lazy-refcounts", lazyRefcounts, false);
      o.unmodelled("extended-l2", extendedL2, false);
      Qcow2CreateOptions options = new Qcow2CreateOptions(cluster, v, backingFile,
          backingFormat, (int) bits, dataDriver == null ? null : dataDriver.filename(),
          dataFileRaw);
      try {
        writer.write(fileDriver.hostFile(), dataDriver == null ? null : dataDriver.hostFile(),
            size, options);
      } catch (HostIoException e) {
        throw QmpError.generic("Could not write qcow2 header: "
            + HostIoException.strerror(e.errno()));
      }
    };
  }
}
