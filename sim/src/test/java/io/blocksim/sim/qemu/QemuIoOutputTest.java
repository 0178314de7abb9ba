package io.blocksim.sim.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The timing filter of iotests' _filter_qemu_io, and recognising a failed request. */
class QemuIoOutputTest {

  @Test
  void timingsAreFilteredAsIotestsFilterThem() {
    List<String> raw = List.of("wrote 65536/65536 bytes at offset 0",
        "64 KiB, 1 ops; 00.00 sec (24.120 MiB/sec and 385.9183 ops/sec)",
        "read 67108864/67108864 bytes at offset 0",
        "64 MiB, 1 ops; 00.01 sec (5.926 GiB/sec and 94.8164 ops/sec)");

    assertThat(QemuIoOutput.filter(raw)).containsExactly("wrote 65536/65536 bytes at offset 0",
        "64 KiB, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)",
        "read 67108864/67108864 bytes at offset 0",
        "64 MiB, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)");
  }

  @Test
  void infiniteRatesAndThePromptAreFilteredToo() {
    assertThat(QemuIoOutput.filter(
        List.of("qemu-io> 512 bytes, 1 ops; 0:00:00.00 (inf bytes/sec and inf ops/sec)")))
        .containsExactly("512 bytes, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)");
  }

  @Test
  void failedRequestsAreNamedByTheirLine() {
    assertThat(QemuIoOutput.failure(List.of("write failed: Input/output error"), 1))
        .isEqualTo("write failed: Input/output error");
    assertThat(QemuIoOutput.failure(List.of("Pattern verification failed at offset 0, 65536 bytes",
        "read 65536/65536 bytes at offset 0"), 1))
        .isEqualTo("Pattern verification failed");
    assertThat(QemuIoOutput.failure(List.of("wrote 512/512 bytes at offset 0"), 0)).isNull();
    assertThat(QemuIoOutput.failure(List.of(), 2)).isEqualTo("qemu-io exited with status 2");
  }
}
