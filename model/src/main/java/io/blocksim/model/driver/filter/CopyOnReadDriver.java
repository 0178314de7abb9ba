package io.blocksim.model.driver.filter;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.ForwardingDriver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.semantics.Variant;
import java.util.List;
import java.util.Map;

/**
 * The {@code copy-on-read} filter (block/copy-on-read.c) and the copy-on-read read of a node
 * (block/io.c bdrv_co_do_copy_on_readv, also what a node's {@code copy-on-read: true} option does).
 *
 * <p>A read of a range the filtered node does not allocate (and, with {@code bottom}, that some
 * layer from the node's backing file down to bottom allocates) is read through the backing chain
 * and written into the node, cluster-aligned, with the write-unchanged flag. QEMU issues that
 * write below the tracked-write completion, so it dirties no bitmap and does not bump the write
 * generation (docs/qemu-behaviour.md §8); all-zero data is written as write-zeroes. The
 * {@code bug:write-unchanged-dirties} variant makes the population write an ordinary tracked
 * write, as it once was.
 */
public final class CopyOnReadDriver extends ForwardingDriver {
  /** Opens a {@code copy-on-read} filter node over its {@code file} child. */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    BlockNode file = layer.child(args, "file", true, inherit, created);
    node.setChild(BlockNode.FILE, file);
    CopyOnReadDriver cor = new CopyOnReadDriver(file);
    cor.setPopulateDirties(layer.variant(Variant.WRITE_UNCHANGED_DIRTIES));
    String bottom = args.optStr("bottom");
    if (bottom != null) {
      BlockNode bottomNode = layer.graph().find(bottom);
      if (bottomNode == null) {
        throw QmpError.generic("Bottom node '" + bottom + "' not found");
      }
      if (bottomNode.driver().isFilter()) {
        throw QmpError.generic("Bottom node '" + bottom + "' is a filter");
      }
      cor.setBottom(bottomNode);
    }
    node.setDriver(cor);
  }

  private BlockNode bottom;
  private boolean populateDirties;

  public CopyOnReadDriver(BlockNode file) {
    super(file);
  }

  /** Switches on the historical bug where population writes dirtied bitmaps. */
  public void setPopulateDirties(boolean populateDirties) {
    this.populateDirties = populateDirties;
  }

  /** bug:stream-populates-zeroes: the population writes zeroes instead of the data (planted). */
  private boolean populateZeroes;

  public void setPopulateZeroes(boolean populateZeroes) {
    this.populateZeroes = populateZeroes;
  }

  /** Limits copy-on-read to data allocated above (and in) bottom; null copies the whole chain. */
  public void setBottom(BlockNode bottom) {
    this.bottom = bottom;
  }

  public BlockNode bottom() {
    return bottom;
  }

  @Override
  public String name() {
    return "copy-on-read";
  }

  @Override
  public boolean isFilter() {
    return true;
  }

  /** cor_co_preadv_part. */
  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    long done = 0;
    while (done < length) {
      long at = offset + done;
      BlockStatus status = BlockIo.blockStatus(file, at, length - done);
      long n = Math.min(status.lengthBytes(), length - done);
      boolean copy = false;
      if (!status.allocated()) {
        if (bottom == null) {
          copy = true;
        } else {
          BlockIo.Run above = BlockIo.allocatedAbove(file.backing(), bottom, at, n);
          n = above.length();
          copy = above.allocated();
        }
      }
      if (copy) {
        copyOnRead(file, at, buf, pos + (int) done, (int) n, populateDirties, populateZeroes);
      } else {
        BlockIo.read(file, at, buf, pos + (int) done, (int) n);
      }
      done += n;
    }
  }

  /**
   * Reads [offset, offset + length) of node with copy-on-read (bdrv_co_do_copy_on_readv): the
   * unallocated clusters of the cluster-aligned range are read from the backing chain and written
   * into node. buf may be null (a prefetch, as block-stream issues).
   */
  public static void copyOnRead(BlockNode node, long offset, byte[] buf, int pos, int length,
      boolean populateDirties) throws HostIoException {
    copyOnRead(node, offset, buf, pos, length, populateDirties, false);
  }

  private static void copyOnRead(BlockNode node, long offset, byte[] buf, int pos, int length,
      boolean populateDirties, boolean populateZeroes) throws HostIoException {
    long cluster = Math.max(1, node.driver().clusterSize());
    long start = offset / cluster * cluster;
    long end = Math.min((offset + length + cluster - 1) / cluster * cluster, node.length());
    long at = start;
    while (at < end) {
      BlockStatus status = BlockIo.blockStatus(node, at, end - at);
      int run = (int) Math.min(status.lengthBytes(), end - at);
      byte[] bounce = new byte[run];
      node.driver().read(node, at, bounce, 0, run);
      if (!status.allocated()) {
        BlockIo.raiseEvent(node, "cor_write");
        int flags = RequestFlags.WRITE_UNCHANGED
            | (populateDirties ? 0 : RequestFlags.COPY_ON_READ_POPULATE);
        if (isZero(bounce) || populateZeroes) {
          BlockIo.writeZeroes(node, at, run, flags);
        } else {
          BlockIo.write(node, at, bounce, 0, run, flags);
        }
      }
      if (buf != null) {
        long from = Math.max(at, offset);
        long to = Math.min(at + run, offset + length);
        if (to > from) {
          System.arraycopy(bounce, (int) (from - at), buf, pos + (int) (from - offset),
              (int) (to - from));
        }
      }
      at += run;
    }
  }

  private static boolean isZero(byte[] data) {
    for (byte b : data) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }
}
