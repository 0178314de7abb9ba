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
 * Stream, intermediate commit and active commit never change what the guest sees: with data on
 * every layer of base <- mid <- top and guest writes at random times during the job, the
 * guest's view after the job equals a plain byte-array model of the writes; the top's bitmap
 * holds exactly the guest-written clusters (copy-on-read and commit writes never dirty it).
 */
class ChainJobContentPropertyTest {
  static final long SIZE = 4 * MIB;

  record Write(String layer, long offset, long length, int pattern, long delayNs) {}

  private static Arbitrary<Write> write(Arbitrary<String> layers) {
    return Combinators.combine(layers, Arbitraries.longs().between(0, SIZE - 1),
        Arbitraries.longs().between(1, 192 * KIB), Arbitraries.integers().between(1, 255),
        Arbitraries.longs().between(0, 2_000_000L))
        .as((layer, offset, length, pattern, delay) -> new Write(layer, offset,
            Math.min(length, SIZE - offset), pattern, delay));
  }

  @Provide
  Arbitrary<List<Write>> setup() {
    return write(Arbitraries.of("base", "mid", "top")).list().ofMaxSize(8);
  }

  @Provide
  Arbitrary<List<Write>> guest() {
    return write(Arbitraries.just("guest")).list().ofMaxSize(8);
  }

  @Property(tries = 80)
  void guestViewIsPreserved(@ForAll("setup") List<Write> setup,
      @ForAll("guest") List<Write> guest, @ForAll("jobs") String job) throws Exception {
    ChainWorld w = new ChainWorld()
        .qcow2("base.qcow2", SIZE, null)
        .qcow2("mid.qcow2", SIZE, "base.qcow2")
        .qcow2("top.qcow2", SIZE, "mid.qcow2")
        .add("base", "base.qcow2", null)
        .add("mid", "mid.qcow2", "base")
        .add("top", "top.qcow2", "mid");
    for (Write s : setup) {
      w.write(s.layer(), s.offset(), s.length(), s.pattern());
    }
    byte[] model = w.read("top", 0, SIZE);
    w.addBitmap("top", "bt");
    switch (job) {
      case "stream" -> w.qmp("block-stream", "job-id", "j", "device", "top");
      case "commit" -> w.qmp("block-commit", "job-id", "j", "device", "top", "top-node", "mid",
          "base-node", "base");
      default -> w.qmp("block-commit", "job-id", "j", "device", "top");
    }
    BlockNode guestNode = w.node("top");
    while (!guestNode.parents().isEmpty()) {
      guestNode = guestNode.parents().get(0);
    }
    TreeSet<Long> clusters = new TreeSet<>();
    for (Write g : guest) {
      w.scheduler.advance(g.delayNs());
      byte[] buf = new byte[(int) g.length()];
      Arrays.fill(buf, (byte) g.pattern());
      BlockIo.write(guestNode, g.offset(), buf, 0, buf.length, 0);
      Arrays.fill(model, (int) g.offset(), (int) (g.offset() + g.length()), (byte) g.pattern());
      for (long c = g.offset() / 65536; c <= (g.offset() + g.length() - 1) / 65536; c++) {
        clusters.add(c);
      }
    }
    String after = "top";
    if (job.equals("active")) {
      w.runUntil("j", "ready");
      w.qmp("job-complete", "id", "j");
      after = "base";
    }
    w.runUntil("j", "null");
    assertThat(w.jobEvents()).contains("j COMPLETED").doesNotContain("j CANCELLED");
    assertThat(w.read(after, 0, SIZE)).isEqualTo(model);
    assertThat(w.count("top", "bt")).isEqualTo(clusters.size() * 65536L);
  }

  @Provide
  Arbitrary<String> jobs() {
    return Arbitraries.of("stream", "commit", "active");
  }
}
