package io.blocksim.sim.backend;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.port.Backend;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** images-equal compares guest-visible contents, skipping zeroes, and agrees with the digests. */
class SimBackendImagesEqualTest {
  private static SimBackend withTwoNodes() throws Exception {
    SimBackend backend = new SimBackend(0, Set.of());
    for (String name : new String[] {"a", "b"}) {
      backend.createImage(new Backend.ImageSpec(name + ".qcow2", "qcow2", 8L << 20, null, null,
          null, Map.of()));
      backend.qmp("blockdev-add", Json.object("node-name", name, "driver", "qcow2", "file",
          Json.object("driver", "file", "filename", name + ".qcow2")));
    }
    return backend;
  }

  @Test
  void equalContentsAreEqualWhateverTheAllocation() throws Exception {
    SimBackend backend = withTwoNodes();
    backend.io("a", "write -P0x11 1M 64k");
    backend.io("b", "write -P0x11 1M 64k");
    backend.io("b", "write -z 4M 64k");
    assertThat(backend.imagesEqual("a", "b")).isTrue();
    assertThat(backend.imageDigest("a")).isEqualTo(backend.imageDigest("b"));
  }

  @Test
  void oneDifferentByteMakesThemDifferent() throws Exception {
    SimBackend backend = withTwoNodes();
    backend.io("a", "write -P0x11 1M 64k");
    backend.io("b", "write -P0x11 1M 64k");
    backend.io("b", "write -P0x12 7M 1");
    assertThat(backend.imagesEqual("a", "b")).isFalse();
    assertThat(backend.imageDigest("a")).isNotEqualTo(backend.imageDigest("b"));
  }

  @Test
  void aNodeEqualsItsOwnImageFileAfterClose() throws Exception {
    SimBackend backend = withTwoNodes();
    backend.io("a", "write -P0x21 0 128k");
    backend.qmp("blockdev-del", Json.object("node-name", "a"));
    assertThat(backend.imagesEqual("a.qcow2", "b")).isFalse();
    backend.io("b", "write -P0x21 0 128k");
    assertThat(backend.imagesEqual("a.qcow2", "b")).isTrue();
  }
}
