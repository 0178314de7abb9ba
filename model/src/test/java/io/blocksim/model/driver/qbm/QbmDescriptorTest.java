package io.blocksim.model.driver.qbm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: the QBM descriptor (proposal:qbm) reads the RFC's shape and what the driver writes.
 * Method: parse a hand-written descriptor with spacing and two bitmaps; round-trip a built one;
 * refuse a wrong version, a bad granularity and a torn text.
 */
class QbmDescriptorTest {
  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void readsAHandWrittenDescriptor() {
    QbmDescriptor d = QbmDescriptor.parse(bytes("{ \"QBM\": {\"version\": 1,\n"
        + "  \"image\": {\"file\": \"disk.img\", \"format\": \"raw\"},\n"
        + "  \"bitmaps\": {\"a\": {\"file\": \"a.bm\", \"granularity-bytes\": 65536,"
        + " \"type\": \"dirty\"}, \"b\": {\"file\": \"sub/b.bm\", \"granularity-bytes\": 512}}}}"));

    assertThat(d.imageFile()).isEqualTo("disk.img");
    assertThat(d.imageFormat()).isEqualTo("raw");
    assertThat(d.bitmaps()).containsExactly(new QbmDescriptor.Bitmap("a", "a.bm", 65536),
        new QbmDescriptor.Bitmap("b", "sub/b.bm", 512));
    assertThat(d.bitmap("b").file()).isEqualTo("sub/b.bm");
    assertThat(d.bitmap("c")).isNull();
  }

  @Test
  void whatItWritesItReadsBack() {
    QbmDescriptor d = new QbmDescriptor("x.raw", "raw",
        List.of(new QbmDescriptor.Bitmap("inc", "inc.bitmap", 4096)));

    byte[] written = d.toBytes();

    assertThat(QbmDescriptor.looksLikeQbm(written)).isTrue();
    assertThat(QbmDescriptor.parse(written)).isEqualTo(d);
  }

  @Test
  void refusesWhatIsNotAVersion1Descriptor() {
    assertThatThrownBy(() -> QbmDescriptor.parse(bytes(
        "{\"QBM\": {\"version\": 2, \"image\": {\"file\": \"x\", \"format\": \"raw\"}}}")))
        .hasMessageContaining("version 2");
    assertThatThrownBy(() -> QbmDescriptor.parse(bytes("{\"QBM\": {\"version\": 1, \"image\": "
        + "{\"file\": \"x\", \"format\": \"raw\"}, \"bitmaps\": {\"a\": {\"file\": \"a\", "
        + "\"granularity-bytes\": 1000}}}}")))
        .hasMessageContaining("granularity-bytes 1000");
    assertThatThrownBy(() -> QbmDescriptor.parse(bytes("{\"QBM\": {\"version\": 1, \"ima")))
        .isInstanceOf(IllegalArgumentException.class);
    assertThat(QbmDescriptor.looksLikeQbm(bytes("QFI\u00fb"))).isFalse();
  }
}
