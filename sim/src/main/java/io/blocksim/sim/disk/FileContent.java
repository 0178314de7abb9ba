package io.blocksim.sim.disk;

/**
 * The contents of one file of a {@link FakeDisk} at one moment, kept unchanged whatever happens
 * to the file later (pages are shared, not copied): for telling whether a file holds exactly
 * what it held before (a crash sweep checks an image once per distinct content).
 */
public final class FileContent {
  private final PageImage image;

  FileContent(PageImage image) {
    this.image = image;
  }

  /** Returns whether both read the same bytes with the same pages allocated. */
  public boolean sameAs(FileContent other) {
    return image.sameContent(other.image);
  }

  /** Returns whether this is what the file holds now (reads, allocation and length). */
  boolean sameAs(PageImage current) {
    return image.sameContent(current);
  }
}
