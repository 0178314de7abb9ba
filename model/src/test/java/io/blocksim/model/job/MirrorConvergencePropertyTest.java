package io.blocksim.model.job;

import static io.blocksim.model.job.ChainWorld.KIB;
import static io.blocksim.model.job.ChainWorld.MIB;
import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Whatever the guest writes while a mirror runs (before or in READY, in either copy mode), the
 * target holds the source's contents once job-complete has pivoted, and a user bitmap on the
 * source has exactly the clusters the guest wrote (the job's own copies never dirty it).
 */
class MirrorConvergencePropertyTest {
  record GuestWrite(long offset, long length, int pattern, long delayNs) {}

  @Provide
  Arbitrary<List<GuestWrite>> writes() {
    Arbitrary<GuestWrite> one = Combinators.combine(
        Arbitraries.longs().between(0, 8 * MIB - 1),
        Arbitraries.longs().between(1, 256 * KIB),
        Arbitraries.integers().between(1, 255),
        Arbitraries.longs().between(0, 50_000_000L))
        .as((offset, length, pattern, delay) -> new GuestWrite(offset,
            Math.min(length, 8 * MIB - offset), pattern, delay));
    return one.list().ofMaxSize(12);
  }

  @Property(tries = 60)
  void targetEqualsSourceAfterPivot(@ForAll("writes") List<GuestWrite> writes,
      @ForAll boolean writeBlocking, @ForAll boolean syncNone) throws Exception {
    ChainWorld w = new ChainWorld()
        .qcow2("disk.qcow2", 8 * MIB, null)
        .qcow2("tgt.qcow2", 8 * MIB, null)
        .add("drive0", "disk.qcow2", null)
        .add("tgt", "tgt.qcow2", null);
    if (!syncNone) {
      w.write("drive0", 0, MIB, 0x11);
    }
    w.addBitmap("drive0", "user");
    w.qmp("blockdev-mirror", "job-id", "m", "device", "drive0", "target", "tgt", "sync",
        syncNone ? "none" : "full", "copy-mode", writeBlocking ? "write-blocking" : "background",
        "granularity", 65536);
    BlockNode guest = w.node("drive0").parents().get(0);
    TreeSet<Long> clusters = new TreeSet<>();
    for (GuestWrite gw : writes) {
      w.scheduler.advance(gw.delayNs());
      byte[] buf = new byte[(int) gw.length()];
      Arrays.fill(buf, (byte) gw.pattern());
      BlockIo.write(guest, gw.offset(), buf, 0, buf.length, 0);
      for (long c = gw.offset() / 65536; c <= (gw.offset() + gw.length() - 1) / 65536; c++) {
        clusters.add(c);
      }
    }
    w.runUntil("m", "ready");
    w.qmp("job-complete", "id", "m");
    w.runUntil("m", "null");
    assertThat(w.read("tgt", 0, 8 * MIB)).isEqualTo(w.read("drive0", 0, 8 * MIB));
    assertThat(w.count("drive0", "user")).isEqualTo(clusters.size() * 65536L);
  }
}
