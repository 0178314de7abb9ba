package io.blocksim.sim.disk;

/**
 * A request that reached a file's volatile cache but not yet the disk. It can be replayed onto an
 * image whole or, for range requests, as a prefix of its bytes.
 */
sealed interface UnflushedOp {

  /** Returns the request as listeners saw it. */
  DiskOp op();

  /** Returns the first page index the request may change. */
  long firstPageIndex();

  /** Returns the last page index (inclusive) the request may change. */
  long lastPageIndex();

  /** Returns whether a power loss may keep only a prefix of it. */
  boolean tearable();

  /** Applies the first keptBytes of the request to the image (all of it for op().lengthBytes()). */
  void applyTo(PageImage image, long keptBytes);

  /** Returns the heap bytes the request holds on to. */
  long retainedBytes();

  /**
   * A write; data is null when every byte equals fill (a pattern write keeps no copy), and when
   * the write covers whole pages, which it then keeps as pages (shared with the images it reaches,
   * compact when uniform, periodic or sparse).
   */
  record Write(DiskOp op, byte[] data, byte fill, Page[] pages) implements UnflushedOp {
    @Override
    public long firstPageIndex() {
      return op.offsetBytes() / Page.SIZE_BYTES;
    }

    @Override
    public long lastPageIndex() {
      return (op.offsetBytes() + Math.max(op.lengthBytes(), 1) - 1) / Page.SIZE_BYTES;
    }

    @Override
    public boolean tearable() {
      return true;
    }

    @Override
    public void applyTo(PageImage image, long keptBytes) {
      if (pages != null) {
        long first = op.offsetBytes() / Page.SIZE_BYTES;
        int whole = (int) (keptBytes / Page.SIZE_BYTES);
        for (int i = 0; i < whole; i++) {
          image.writePage(first + i, pages[i]);
        }
        int rest = (int) (keptBytes % Page.SIZE_BYTES);
        if (rest > 0) {
          byte[] prefix = new byte[rest];
          pages[whole].copyTo(0, prefix, 0, rest);
          image.write((first + whole) * Page.SIZE_BYTES, prefix, 0, rest);
        }
      } else if (data == null) {
        image.fill(op.offsetBytes(), keptBytes, fill);
      } else {
        image.write(op.offsetBytes(), data, 0, keptBytes);
      }
    }

    @Override
    public long retainedBytes() {
      if (pages != null) {
        long total = 0;
        for (Page page : pages) {
          total += page.retainedBytes();
        }
        return total;
      }
      return data == null ? 0 : data.length;
    }
  }

  /** A write-zeroes (extends the file) or a discard (does not). */
  record ZeroRange(DiskOp op, boolean extendsFile) implements UnflushedOp {
    @Override
    public long firstPageIndex() {
      return op.offsetBytes() / Page.SIZE_BYTES;
    }

    @Override
    public long lastPageIndex() {
      return (op.offsetBytes() + Math.max(op.lengthBytes(), 1) - 1) / Page.SIZE_BYTES;
    }

    @Override
    public boolean tearable() {
      return true;
    }

    @Override
    public void applyTo(PageImage image, long keptBytes) {
      long end = op.offsetBytes() + keptBytes;
      long clippedEnd = extendsFile ? end : Math.min(end, image.lengthBytes());
      if (clippedEnd > op.offsetBytes()) {
        image.zeroRange(op.offsetBytes(), clippedEnd - op.offsetBytes(), extendsFile);
      }
      if (extendsFile && keptBytes > 0 && end > image.lengthBytes()) {
        image.setLength(end);
      }
    }

    @Override
    public long retainedBytes() {
      return 0;
    }
  }

  /** A truncate; it may change every page from the smaller of the two lengths on. */
  record Truncate(DiskOp op, long oldLengthBytes) implements UnflushedOp {
    @Override
    public long firstPageIndex() {
      return Math.min(oldLengthBytes, op.lengthBytes()) / Page.SIZE_BYTES;
    }

    @Override
    public long lastPageIndex() {
      return Long.MAX_VALUE;
    }

    @Override
    public boolean tearable() {
      return false;
    }

    @Override
    public void applyTo(PageImage image, long keptBytes) {
      image.setLength(op.lengthBytes());
    }

    @Override
    public long retainedBytes() {
      return 0;
    }
  }
}
