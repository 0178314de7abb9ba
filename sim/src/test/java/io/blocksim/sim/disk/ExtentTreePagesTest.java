package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Goal: the allocated size counts ext4's extent tree block exactly when the file has more than
 * the four extents its inode holds, an extent being a run of consecutive pages of one kind
 * (written or zero-range unwritten). Method: images built page by page whose extent counts are
 * known by construction (the layout {@code filefrag -v} showed for six partial writes into fresh
 * 64 KiB qcow2 clusters), compared with the expected number of tree pages.
 */
class ExtentTreePagesTest {
  private static final long PAGE = Page.SIZE_BYTES;

  @Test
  void fourExtentsFitTheInode() {
    PageImage image = new PageImage();
    image.fill(0, 3 * PAGE, (byte) 1);          // written 0..2
    image.zeroRange(3 * PAGE, 2 * PAGE, true);  // unwritten 3..4 (within the length)
    image.fill(5 * PAGE, PAGE, (byte) 2);       // written 5
    image.fill(8 * PAGE, PAGE, (byte) 3);       // hole 6..7, written 8
    assertThat(image.extentTreePages()).isZero();
  }

  @Test
  void aFifthExtentNeedsALeafBlock() {
    PageImage image = new PageImage();
    image.fill(0, 16 * PAGE, (byte) 1);
    // Unwritten 1, written 1, unwritten 14 in each of two clusters: 1 + 3 + 3 = 7 extents.
    for (long cluster = 1; cluster <= 2; cluster++) {
      long base = cluster * 16 * PAGE;
      image.fill(base, 16 * PAGE, (byte) 0);
      image.zeroRange(base, PAGE, true);
      image.zeroRange(base + 2 * PAGE, 14 * PAGE, true);
    }
    assertThat(image.extentTreePages()).isEqualTo(1);
  }

  @Test
  void sameKindNeighboursAreOneExtent() {
    PageImage image = new PageImage();
    for (int i = 0; i < 10; i++) {
      image.fill(i * PAGE, PAGE, (byte) (i + 1));
    }
    assertThat(image.extentTreePages()).isZero();
  }
}
