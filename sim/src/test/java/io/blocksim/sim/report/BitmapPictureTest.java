package io.blocksim.sim.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class BitmapPictureTest {
  private static final long KIB = 1024;
  private static final long TIB = 1024L * 1024 * 1024 * 1024;

  @Test
  void oneMarkPerGranuleWithADirtyRunOnItsGranules() {
    // 4 MiB of 64 KiB granules; bytes 64 KiB..192 KiB dirty: granules 1 and 2.
    boolean[] marks = BitmapPicture.dirtyMarks(List.of(List.of(64 * KIB, 128 * KIB)),
        4096 * KIB, 64 * KIB, 1, 64);
    assertThat(indexes(marks)).containsExactly(1, 2);
    String svg = BitmapPicture.strip("drive0", "b", "bitmap", 4096 * KIB, 64 * KIB,
        List.of(List.of(64 * KIB, 128 * KIB)), false, false);
    assertThat(count(svg, "class=\"d\"[^>]*d=\"([^\"]*)\"")).isEqualTo(2);
    assertThat(count(svg, "class=\"c\"[^>]*d=\"([^\"]*)\"")).isEqualTo(62);
    assertThat(svg).contains("data-marks=\"64\"").contains("data-per-mark=\"1\"");
  }

  @Test
  void aPartialLastGranuleIsOneMark() {
    // QEMU counts whole granules past the end of a 100000-byte disk.
    assertThat(BitmapPicture.granules(100_000, 64 * KIB)).isEqualTo(2);
    boolean[] marks = BitmapPicture.dirtyMarks(List.of(List.of(65536L, 34464L)), 100_000,
        64 * KIB, 1, 2);
    assertThat(indexes(marks)).containsExactly(1);
  }

  @Test
  void aTebibyteBitmapIsDrawnInGroupsAndStaysSmall() {
    // 16 Mi granules: 2048 marks of 8192 granules; one dirty granule marks its whole group.
    long granularity = 64 * KIB;
    List<Object> runs = List.of(List.of(0L, granularity), List.of(TIB - granularity,
        granularity), List.of(8192 * granularity, 1L));
    String svg = BitmapPicture.strip("drive0", "b", "bitmap", TIB, granularity, runs, true,
        false);
    assertThat(svg).contains("data-marks=\"2048\"").contains("data-per-mark=\"8192\"");
    assertThat(count(svg, "class=\"d\"[^>]*d=\"([^\"]*)\"")).isEqualTo(3);
    assertThat(svg.length()).isLessThan(60_000);
    assertThat(BitmapPicture.caption(TIB, granularity)).contains("each mark covers 8192 "
        + "granules");
  }

  private static List<Integer> indexes(boolean[] marks) {
    List<Integer> out = new java.util.ArrayList<>();
    for (int i = 0; i < marks.length; i++) {
      if (marks[i]) {
        out.add(i);
      }
    }
    return out;
  }

  /** Returns the number of subpaths ("M") in the path the pattern's group captures. */
  private static int count(String svg, String pathPattern) {
    var m = Pattern.compile(pathPattern).matcher(svg);
    assertThat(m.find()).isTrue();
    return (int) m.group(1).chars().filter(c -> c == 'M').count();
  }
}
