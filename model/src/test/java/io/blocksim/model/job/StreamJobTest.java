package io.blocksim.model.job;

import static io.blocksim.model.job.ChainWorld.KIB;
import static io.blocksim.model.job.ChainWorld.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.semantics.Variant;
import org.junit.jupiter.api.Test;

/**
 * block-stream and copy-on-read against docs/qemu-behaviour.md §8 and E4b: population writes dirty no
 * bitmap, the chain is rewritten at the end, and the write-unchanged check catches the
 * bug:write-unchanged-dirties variant.
 */
class StreamJobTest {
  private static ChainWorld chain(String... semantics) throws Exception {
    ChainWorld w = new ChainWorld(semantics)
        .qcow2("base.qcow2", 16 * MIB, null)
        .qcow2("mid.qcow2", 16 * MIB, "base.qcow2")
        .qcow2("top.qcow2", 16 * MIB, "mid.qcow2")
        .add("base", "base.qcow2", null)
        .add("mid", "mid.qcow2", "base")
        .add("top", "top.qcow2", "mid");
    w.write("base", 0, 4 * MIB, 0xaa);
    w.write("mid", 2 * MIB, MIB, 0xbb);
    w.addBitmap("top", "bt");
    w.addBitmap("mid", "bm");
    w.addBitmap("base", "bb");
    return w;
  }

  @Test
  void copyOnReadFilterPopulatesTheTopWithoutDirtyingBitmaps() throws Exception {
    ChainWorld w = chain();
    w.qmp("blockdev-add", "node-name", "cor0", "driver", "copy-on-read", "file", "top");
    w.assertPattern("cor0", 0, MIB, 0xaa);
    assertThat(w.node("top").driver().blockStatus(w.node("top"), 0, MIB).allocated()).isTrue();
    assertThat(w.count("top", "bt")).isZero();
    // A real guest write through the filter does dirty the top (E4b: 65536).
    w.write("cor0", 8 * MIB, 64 * KIB, 0xcc);
    assertThat(w.count("top", "bt")).isEqualTo(64 * KIB);
  }

  @Test
  void bottomLimitsCopyOnReadToTheLayersAboveIt() throws Exception {
    ChainWorld w = chain();
    w.qmp("blockdev-add", "node-name", "cor0", "driver", "copy-on-read", "file", "top",
        "bottom", "mid");
    w.assertPattern("cor0", 0, MIB, 0xaa);
    w.assertPattern("cor0", 2 * MIB, MIB, 0xbb);
    assertThat(w.node("top").driver().blockStatus(w.node("top"), 0, MIB).allocated())
        .as("base data is not copied").isFalse();
    assertThat(w.node("top").driver().blockStatus(w.node("top"), 2 * MIB, MIB).allocated())
        .as("mid data is copied").isTrue();
  }

  @Test
  void streamKeepsBitmapsAndContentsAndDropsTheBackingChain() throws Exception {
    ChainWorld w = chain();
    w.qmp("block-stream", "job-id", "s0", "device", "top");
    w.runUntil("s0", "null");
    assertThat(w.jobEvents()).containsExactly("s0 created", "s0 running", "s0 waiting",
        "s0 pending", "s0 COMPLETED", "s0 concluded", "s0 null");
    assertThat(w.lastEvent("BLOCK_JOB_COMPLETED")).isEqualTo(Json.object("type", "stream",
        "device", "s0", "len", 16 * MIB, "offset", 16 * MIB, "speed", 0L));
    assertThat(w.count("top", "bt")).isZero();
    assertThat(w.count("mid", "bm")).isZero();
    assertThat(w.count("base", "bb")).isZero();
    assertThat(w.node("top").backing()).isNull();
    assertThat(((Qcow2Driver) w.node("top").driver()).image().backingFileName()).isNull();
    w.assertPattern("top", 0, 2 * MIB, 0xaa);
    w.assertPattern("top", 2 * MIB, MIB, 0xbb);
    w.assertPattern("top", 3 * MIB, MIB, 0xaa);
    assertThat(w.engine.graph().all()).extracting(n -> n.driver().name())
        .doesNotContain("copy-on-read");
  }

  @Test
  void streamToABaseNodeRewritesTheHeader() throws Exception {
    ChainWorld w = chain();
    w.qmp("block-stream", "job-id", "s0", "device", "top", "base-node", "base",
        "backing-file", "renamed-base.qcow2");
    w.runUntil("s0", "null");
    assertThat(w.node("top").backing()).isSameAs(w.node("base"));
    assertThat(((Qcow2Driver) w.node("top").driver()).image().backingFileName())
        .isEqualTo("renamed-base.qcow2");
    w.assertPattern("top", 2 * MIB, MIB, 0xbb);
    w.assertPattern("top", 0, 2 * MIB, 0xaa);
    assertThat(w.node("top").driver().blockStatus(w.node("top"), 0, MIB).allocated())
        .as("base data stays in base").isFalse();
  }

  @Test
  void argumentErrorsAsQemuWordsThem() throws Exception {
    ChainWorld w = chain();
    assertThat(w.qmpError("block-stream", "device", "top", "base", "x", "base-node", "base"))
        .isEqualTo("'base' and 'base-node' cannot be specified at the same time");
    assertThat(w.qmpError("block-stream", "device", "top", "base-node", "top"))
        .isEqualTo("Node 'top' is not a backing image of 'top'");
    assertThat(w.qmpError("block-stream", "device", "top", "job-id", "s0",
        "backing-file", "x"))
        .isEqualTo("backing file specified, but streaming the entire chain");
    assertThat(w.qmpError("block-stream", "device", "top"))
        .isEqualTo("Invalid job ID ''");
    assertThat(w.engine.graph().all()).extracting(n -> n.driver().name())
        .as("a failed start leaves no filter").doesNotContain("copy-on-read");
  }

  @Test
  void writeUnchangedVariantIsFlaggedByTheInvariantCheck() throws Exception {
    ChainWorld w = chain(Variant.WRITE_UNCHANGED_DIRTIES.spelling());
    w.qmp("block-stream", "job-id", "s0", "device", "top");
    assertThatThrownBy(() -> w.runUntil("s0", "null"))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("write-unchanged request on node 'top'")
        .hasMessageContaining("bitmap 'bt'");
  }

  @Test
  void variantCopyOnReadThroughTheFilterIsFlaggedToo() throws Exception {
    ChainWorld w = chain(Variant.WRITE_UNCHANGED_DIRTIES.spelling());
    w.qmp("blockdev-add", "node-name", "cor0", "driver", "copy-on-read", "file", "top");
    assertThatThrownBy(() -> w.read("cor0", 0, 64 * KIB))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("from 0 to 65536");
  }

  @Test
  void blockdevAddHasNoCopyOnReadOptionIn72() throws Exception {
    ChainWorld w = new ChainWorld().qcow2("top.qcow2", 4 * MIB, null);
    // Measured on qemu-storage-daemon 7.2: only -drive had it; blockdev-add refuses it.
    assertThat(w.qmpError("blockdev-add", "node-name", "top", "driver", "qcow2",
        "copy-on-read", true, "file", Json.object("driver", "file", "filename", "top.qcow2")))
        .isEqualTo("Parameter 'copy-on-read' is unexpected");
  }

  @Test
  void copyOnReadPopulatesWholeClusters() throws Exception {
    ChainWorld w = chain();
    w.qmp("blockdev-add", "node-name", "cor0", "driver", "copy-on-read", "file", "top");
    w.assertPattern("cor0", 3 * MIB + 4 * KIB, 4 * KIB, 0xaa);
    var top = w.node("top");
    var status = top.driver().blockStatus(top, 3 * MIB, 64 * KIB);
    assertThat(status.allocated()).isTrue();
    assertThat(status.lengthBytes()).isEqualTo(64 * KIB);
    assertThat(top.driver().blockStatus(top, 3 * MIB + 64 * KIB, 64 * KIB).allocated())
        .isFalse();
  }
}
