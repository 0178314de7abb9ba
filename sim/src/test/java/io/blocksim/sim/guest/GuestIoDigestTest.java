package io.blocksim.sim.guest;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The digest of a node is the SHA-256 of its contents, also when the memo describes a data run
 * (a raw image reads as data throughout) as zero and non-zero pieces.
 */
class GuestIoDigestTest {
  private static final int SIZE = 8 << 20;

  private static SimBackend rawNode() throws Exception {
    SimBackend backend = new SimBackend(0, Set.of());
    backend.createImage(new Backend.ImageSpec("r.raw", "raw", SIZE, null, null, null, Map.of()));
    backend.qmp("blockdev-add", Json.object("node-name", "r", "driver", "raw", "file",
        Json.object("driver", "file", "filename", "r.raw")));
    return backend;
  }

  private static String sha256(byte[] contents) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(contents));
  }

  @Test
  void dataRunsWithZeroPiecesDigestAsTheirContents() throws Exception {
    SimBackend backend = rawNode();
    backend.io("r", "write -P0x11 1M 64k");
    backend.io("r", "write -P0x22 5124k 4k");
    byte[] expected = new byte[SIZE];
    Arrays.fill(expected, 1 << 20, (1 << 20) + (64 << 10), (byte) 0x11);
    Arrays.fill(expected, 5124 << 10, 5128 << 10, (byte) 0x22);
    assertThat(backend.imageDigest("r")).isEqualTo(sha256(expected));
    assertThat(backend.imageDigest("r")).isEqualTo(sha256(expected)); // From the memo.

    // Same layout of zero and non-zero pieces, other bytes: another digest, not the memo's.
    backend.io("r", "write -P0x33 5124k 4k");
    Arrays.fill(expected, 5124 << 10, 5128 << 10, (byte) 0x33);
    assertThat(backend.imageDigest("r")).isEqualTo(sha256(expected));
    // A zero piece that becomes non-zero, and back.
    backend.io("r", "write -P0x44 2M 512");
    Arrays.fill(expected, 2 << 20, (2 << 20) + 512, (byte) 0x44);
    assertThat(backend.imageDigest("r")).isEqualTo(sha256(expected));
    backend.io("r", "write -P0 2M 512");
    Arrays.fill(expected, 2 << 20, (2 << 20) + 512, (byte) 0);
    assertThat(backend.imageDigest("r")).isEqualTo(sha256(expected));
  }
}
