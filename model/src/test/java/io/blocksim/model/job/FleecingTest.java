package io.blocksim.model.job;

import static io.blocksim.model.job.ChainWorld.KIB;
import static io.blocksim.model.job.ChainWorld.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.filter.CopyBeforeWriteDriver;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.Permissions;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The fleecing graph of docs/qemu-behaviour.md §23: a copy-before-write filter added with
 * blockdev-add above a source, a temporary overlay as its target and a snapshot-access node on
 * it, driven through the block layer (the scenarios under scenarios/fleecing compare the same
 * flows with QEMU 7.2).
 */
class FleecingTest {
  /** source (1 MiB of 0x11 at 0) ← temp (overlay) ; fl-cbw(file=source, target=temp). */
  private static ChainWorld fleecing(Object... cbwOptions) throws HostIoException {
    ChainWorld w = new ChainWorld().qcow2("source.qcow2", 4 * MIB, null)
        .qcow2("temp.qcow2", 4 * MIB, null).add("source", "source.qcow2", null);
    w.write("source", 0, MIB, 0x11);
    w.add("temp", "temp.qcow2", "source");
    var args = Json.object("node-name", "fl-cbw", "driver", "copy-before-write", "file",
        "source", "target", "temp");
    args.putAll(Json.object(cbwOptions));
    w.engine.execute("blockdev-add", args);
    w.node("fl-cbw");
    w.qmp("blockdev-add", "node-name", "fl-access", "driver", "snapshot-access", "file",
        "fl-cbw");
    return w;
  }

  @Test
  void aGuestWriteThroughTheFilterLeavesThePointInTimeDataReadable() throws Exception {
    ChainWorld w = fleecing();
    w.addBitmap("source", "b0");
    w.write("fl-cbw", 64 * KIB, 64 * KIB, 0x22);
    w.assertPattern("source", 64 * KIB, 64 * KIB, 0x22);
    w.assertPattern("fl-access", 64 * KIB, 64 * KIB, 0x11);
    w.assertPattern("temp", 64 * KIB, 64 * KIB, 0x11);
    w.assertPattern("fl-access", 0, 64 * KIB, 0x11);
    // The guest write dirties the source's bitmap; the copy went to the target only.
    assertThat(w.count("source", "b0")).isEqualTo(64 * KIB);
  }

  @Test
  void writesToSnapshotAccessAreRefusedWithEnotsup() throws Exception {
    ChainWorld w = fleecing();
    assertThatThrownBy(() -> w.write("fl-access", 0, 4 * KIB, 0x33))
        .isInstanceOfSatisfying(HostIoException.class,
            e -> assertThat(e.errno()).isEqualTo(HostIoException.ENOTSUP));
  }

  @Test
  void theFilterSharesWriteOnItsSourceOnlyWhileNothingSitsOnIt() throws Exception {
    ChainWorld w = fleecing();
    assertThat(Permissions.attachConflict(w.node("source"), true))
        .contains("unshared by node 'fl-cbw' (uses node 'source' as 'file' child)");
    w.qmp("blockdev-del", "node-name", "fl-access");
    assertThat(Permissions.attachConflict(w.node("source"), true)).isNull();
    // The target stays writable either way (cbw_child_perm shares write on it).
    assertThat(Permissions.attachConflict(w.node("temp"), true)).isNull();
  }

  @Test
  void breakSnapshotPassesTheWriteAndFailsEveryLaterSnapshotRead() throws Exception {
    for (String mode : List.of("break-guest-write", "break-snapshot")) {
      ChainWorld w = new ChainWorld().qcow2("source.qcow2", 4 * MIB, null)
          .qcow2("temp.qcow2", 4 * MIB, null).add("source", "source.qcow2", null);
      w.write("source", 0, MIB, 0x11);
      w.qmp("blockdev-add", "node-name", "temp", "driver", "qcow2", "backing", "source",
          "file", Json.object("driver", "blkdebug", "image",
              Json.object("driver", "file", "filename", "temp.qcow2"),
              "inject-error", List.of(Json.object("event", "write_aio"))));
      w.qmp("blockdev-add", "node-name", "fl-cbw", "driver", "copy-before-write", "file",
          "source", "target", "temp", "on-cbw-error", mode);
      w.qmp("blockdev-add", "node-name", "fl-access", "driver", "snapshot-access", "file",
          "fl-cbw");
      if (mode.equals("break-guest-write")) {
        assertThatThrownBy(() -> w.write("fl-cbw", 0, 64 * KIB, 0x22))
            .isInstanceOfSatisfying(HostIoException.class,
                e -> assertThat(e.errno()).isEqualTo(HostIoException.EIO));
        w.assertPattern("source", 0, 64 * KIB, 0x11);
        w.assertPattern("fl-access", 0, 128 * KIB, 0x11);
      } else {
        w.write("fl-cbw", 0, 64 * KIB, 0x22);
        w.assertPattern("source", 0, 64 * KIB, 0x22);
        assertThatThrownBy(() -> w.read("fl-access", 128 * KIB, 64 * KIB))
            .isInstanceOfSatisfying(HostIoException.class,
                e -> assertThat(e.errno()).isEqualTo(HostIoException.EACCES));
      }
    }
  }

  @Test
  void aBitmapLimitsWhatIsCopiedAndWhatMayBeRead() throws Exception {
    ChainWorld w = new ChainWorld().qcow2("source.qcow2", 4 * MIB, null)
        .qcow2("temp.qcow2", 4 * MIB, null).add("source", "source.qcow2", null);
    w.addBitmap("source", "b0");
    w.write("source", MIB, 64 * KIB, 0x11);
    w.add("temp", "temp.qcow2", "source");
    w.qmp("blockdev-add", "node-name", "fl-cbw", "driver", "copy-before-write", "file",
        "source", "target", "temp", "bitmap", Json.object("node", "source", "name", "b0"));
    w.qmp("blockdev-add", "node-name", "fl-access", "driver", "snapshot-access", "file",
        "fl-cbw");
    w.write("fl-cbw", 0, 2 * MIB, 0x22);
    w.assertPattern("fl-access", MIB, 64 * KIB, 0x11);
    assertThatThrownBy(() -> w.read("fl-access", 0, 64 * KIB))
        .isInstanceOf(HostIoException.class);
    // Only the bitmap's cluster reached the target.
    w.assertPattern("temp", MIB, 64 * KIB, 0x11);
    w.assertPattern("temp", 0, 64 * KIB, 0x22);
  }

  @Test
  void aMergeThatCannotBeDoneRefusesTheFilter() throws Exception {
    ChainWorld w = new ChainWorld().qcow2("source.qcow2", 4 * MIB, null)
        .qcow2("temp.qcow2", 4 * MIB, null).qcow2("small.qcow2", MIB, null)
        .add("source", "source.qcow2", null).add("temp", "temp.qcow2", null)
        .add("small", "small.qcow2", null);
    w.addBitmap("small", "s0");
    assertThat(w.qmpError("blockdev-add", "node-name", "fl-cbw", "driver", "copy-before-write",
        "file", "source", "target", "temp", "bitmap", Json.object("node", "small", "name",
            "s0")))
        .isEqualTo("Cannot create block-copy-state: Failed to merge bitmap 's0' to internal"
            + " copy-bitmap: Bitmaps are of different sizes (destination size is 4194304,"
            + " source size is 1048576) and can't be merged");
    assertThat(w.engine.graph().find("fl-cbw")).isNull();
    assertThat(w.node("source").bitmaps()).isEmpty();
  }

  @Test
  void deletingTheFilterReleasesItsBitmapsAndTheCopyBitmap() throws Exception {
    ChainWorld w = fleecing();
    assertThat(w.node("source").bitmaps()).hasSize(1);
    assertThat(w.node("fl-cbw").bitmaps()).hasSize(2);
    w.qmp("blockdev-del", "node-name", "fl-access");
    w.qmp("blockdev-del", "node-name", "fl-cbw");
    assertThat(w.node("source").bitmaps()).isEmpty();
  }

  @Test
  void hbitmapStatusAnswersNotDoneForARunThatStartsDoneAndEnds7_2() {
    DirtyBitmap done = new DirtyBitmap(null, 4 * MIB, 64 * KIB);
    done.setDirty(0, 64 * KIB);
    long[] pnum = new long[1];
    assertThat(CopyBeforeWriteDriver.hbitmapStatus(done, 0, 64 * KIB, pnum)).isTrue();
    assertThat(pnum[0]).isEqualTo(64 * KIB);
    // QEMU 7.2's hbitmap_status: dirty at the start, clean later in the range → false.
    assertThat(CopyBeforeWriteDriver.hbitmapStatus(done, 0, 128 * KIB, pnum)).isFalse();
    assertThat(pnum[0]).isEqualTo(64 * KIB);
    assertThat(CopyBeforeWriteDriver.hbitmapStatus(done, 64 * KIB, 128 * KIB, pnum)).isFalse();
    assertThat(pnum[0]).isEqualTo(128 * KIB);
  }

  @Test
  void aSnapshotReadAcrossCopiedAndUncopiedClustersReadsTheCopiedOneFromTheSource()
      throws Exception {
    // The consequence of 7.2's hbitmap_status for a read that is not split by block status.
    ChainWorld w = fleecing();
    w.write("fl-cbw", 0, 64 * KIB, 0x22);
    byte[] both = BlockIo.read(w.node("fl-access"), 0, (int) (128 * KIB));
    assertThat(both[0]).isEqualTo((byte) 0x22);
    assertThat(both[(int) (64 * KIB)]).isEqualTo((byte) 0x11);
    w.assertPattern("fl-access", 0, 64 * KIB, 0x11);
  }
}
