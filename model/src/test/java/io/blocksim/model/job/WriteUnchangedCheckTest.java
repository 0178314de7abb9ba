package io.blocksim.model.job;

import static io.blocksim.model.job.ChainWorld.KIB;
import static io.blocksim.model.job.ChainWorld.MIB;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.RequestFlags;
import org.junit.jupiter.api.Test;

/** The write-unchanged invariant at the block layer, independent of any job. */
class WriteUnchangedCheckTest {
  @Test
  void aTrackedWriteUnchangedRequestThatDirtiesIsAViolation() throws Exception {
    ChainWorld w = new ChainWorld().qcow2("a.qcow2", 4 * MIB, null).add("a", "a.qcow2", null);
    w.addBitmap("a", "b");
    byte[] buf = new byte[(int) (64 * KIB)];
    assertThatThrownBy(() -> BlockIo.write(w.node("a"), 0, buf, 0, buf.length,
        RequestFlags.WRITE_UNCHANGED))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("changed bitmap 'b' from 0 to 65536");
    assertThatThrownBy(() -> BlockIo.writeZeroes(w.node("a"), MIB, 64 * KIB,
        RequestFlags.WRITE_UNCHANGED))
        .isInstanceOf(InvariantViolation.class);
  }

  @Test
  void populationWritesAndOrdinaryWritesPass() throws Exception {
    ChainWorld w = new ChainWorld().qcow2("a.qcow2", 4 * MIB, null).add("a", "a.qcow2", null);
    w.addBitmap("a", "b");
    byte[] buf = new byte[(int) (64 * KIB)];
    BlockIo.write(w.node("a"), 0, buf, 0, buf.length,
        RequestFlags.WRITE_UNCHANGED | RequestFlags.COPY_ON_READ_POPULATE);
    assertThat(w.count("a", "b")).isZero();
    BlockIo.write(w.node("a"), 0, buf, 0, buf.length, 0);
    assertThat(w.count("a", "b")).isEqualTo(64 * KIB);
  }
}
