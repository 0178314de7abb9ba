package io.blocksim.model.bitmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * Property tests pitting {@link HBitmap} against {@link ReferenceBitmap}, a BitSet that follows the
 * byte-level definitions of docs/qemu-behaviour.md §1.
 *
 * <p>Method: jqwik action chains start from a bitmap of a random granularity (1 B to 64 KiB) and a
 * size chosen near word (64 bits), page (4096 bits) and summary-level (2^18, 2^24 bits) edges, with
 * a size in bytes that is often not a multiple of the granularity. Each action (set, reset,
 * reset-all, truncate, merge from a bitmap of another granularity, copy, searches, serialization)
 * applies the same operation to both and checks its own results; after every action the labelled
 * invariants compare the counts and the internal structure. Offsets are drawn either uniformly or
 * right at those edges.
 */
class HBitmapReferenceTest {
  private static final long[] EDGE_LOG2 = {6, 12, 18, 24};

  /** The engine and its reference, kept in lockstep by the actions. */
  static final class Model {
    HBitmap engine;
    ReferenceBitmap reference;

    Model(long origSizeBytes, int granularityLog2) {
      engine = new HBitmap(origSizeBytes, granularityLog2);
      reference = new ReferenceBitmap(origSizeBytes, granularityLog2);
    }

    long size() {
      return engine.origSizeBytes();
    }

    long granularity() {
      return engine.granularityBytes();
    }

    long bits() {
      return engine.sizeBits();
    }

    @Override
    public String toString() {
      return engine.toString();
    }
  }

  @Property(tries = 400)
  void engineAgreesWithTheReference(@ForAll("chains") ActionChain<Model> chain) {
    chain
        .withInvariant(
            "count", m -> assertThat(m.engine.countBits()).isEqualTo(m.reference.countBits()))
        .withInvariant("structure", m -> assertThat(m.engine.checkConsistency()).isNull())
        .withInvariant("size", m -> assertThat(m.engine.sizeBits()).isEqualTo(m.reference.sizeBits))
        .run();
    Model last = chain.finalState().orElseThrow();
    assertThat(last.engine.serialize()).isEqualTo(last.reference.serialize());
  }

  /** A bitmap shape and some byte runs, all inside the size. */
  record Case(long size, int granularityLog2, int otherGranularityLog2, List<long[]> runs) {}

  @Provide
  Arbitrary<Case> cases() {
    Arbitrary<Integer> granularities = Arbitraries.of(0, 1, 6, 9, 12, 16, 17);
    return Combinators.combine(bitCounts().filter(b -> b > 0), granularities, granularities)
        .flatAs(
            (bits, g, other) -> {
              // Keep both bitmaps within 2^25 bits whatever the granularities.
              long size = Math.min(sizeBytes(bits, g, bits * 7919), 1L << 25);
              Arbitrary<long[]> run =
                  Arbitraries.longs()
                      .between(0, size - 1)
                      .flatMap(off -> length(64, size - off).map(len -> new long[] {off, len}));
              return run.list().ofMaxSize(8).map(runs -> new Case(size, g, other, runs));
            });
  }

  @Property(tries = 300)
  void mergeAcrossGranularitiesSetsEachSourceRunOutward(@ForAll("cases") Case c) {
    HBitmap target = new HBitmap(c.size(), c.granularityLog2());
    HBitmap source = new HBitmap(c.size(), c.otherGranularityLog2());
    ReferenceBitmap targetReference = new ReferenceBitmap(c.size(), c.granularityLog2());
    ReferenceBitmap sourceReference = new ReferenceBitmap(c.size(), c.otherGranularityLog2());
    for (int i = 0; i < c.runs().size(); i++) {
      long[] run = c.runs().get(i);
      HBitmap bitmap = i % 2 == 0 ? source : target;
      (i % 2 == 0 ? sourceReference : targetReference).set(run[0], run[1]);
      bitmap.set(run[0], run[1]);
    }
    target.mergeFrom(source);
    targetReference.mergeFrom(sourceReference);

    assertThat(target.serialize()).isEqualTo(targetReference.serialize());
    assertThat(target.countBits()).isEqualTo(targetReference.countBits());
    assertThat(target.checkConsistency()).isNull();
  }

  @Property(tries = 300)
  void serializeRoundTripsAndMatchesTheReference(@ForAll("cases") Case c) {
    HBitmap bitmap = new HBitmap(c.size(), c.granularityLog2());
    ReferenceBitmap reference = new ReferenceBitmap(c.size(), c.granularityLog2());
    for (long[] run : c.runs()) {
      bitmap.set(run[0], run[1]);
      reference.set(run[0], run[1]);
    }
    byte[] bytes = bitmap.serialize();
    HBitmap loaded = new HBitmap(c.size(), c.granularityLog2());
    loaded.deserialize(bytes);

    assertThat(bytes).isEqualTo(reference.serialize());
    assertThat(loaded.serialize()).isEqualTo(bytes);
    assertThat(loaded.countBits()).isEqualTo(reference.countBits());
    assertThat(bitmap.sha256Hex()).isEqualTo(sha256Hex(bytes));
  }

  /**
   * Goal: a backup's bitmap handling ends as §6.6 says. Method: runs before the job (S) go to the
   * parent, runs during it (W) to the successor; reclaim must give S ∪ W, abdicate W alone.
   */
  @Property(tries = 200)
  void reclaimGivesBothSidesAndAbdicateOnlyTheSuccessor(
      @ForAll("cases") Case c, @ForAll boolean reclaim) {
    long size = Math.max(c.size(), 512);
    DirtyBitmap parent = new DirtyBitmap("b0", size, 512L << (c.granularityLog2() % 8));
    ReferenceBitmap expected = new ReferenceBitmap(size, parent.hbitmap().granularityLog2());
    int half = c.runs().size() / 2;
    for (long[] run : c.runs().subList(0, half)) {
      parent.setDirty(run[0], run[1]);
      if (reclaim) {
        expected.set(run[0], run[1]);
      }
    }
    DirtyBitmap successor = parent.createSuccessor();
    for (long[] run : c.runs().subList(half, c.runs().size())) {
      successor.setDirty(run[0], run[1]);
      expected.set(run[0], run[1]);
    }
    DirtyBitmap survivor = reclaim ? parent.reclaim().survivor() : parent.abdicate().survivor();

    assertThat(survivor.name()).isEqualTo("b0");
    assertThat(survivor.busy()).isFalse();
    assertThat(survivor.enabled()).isTrue();
    assertThat(survivor.hbitmap().serialize()).isEqualTo(expected.serialize());
  }

  @Provide
  Arbitrary<ActionChain<Model>> chains() {
    Arbitrary<Integer> granularities = Arbitraries.of(0, 1, 3, 9, 12, 16);
    return Combinators.combine(granularities, bitCounts(), Arbitraries.longs().between(0, 65535))
        .flatAs(
            (g, bits, slack) ->
                ActionChain.startWith(() -> new Model(sizeBytes(bits, g, slack), g))
                    .withAction(4, new SetAction())
                    .withAction(3, new ResetAction())
                    .withAction(1, Action.just("resetAll", Transformer.mutate("resetAll", m -> {
                      m.engine.resetAll();
                      m.reference.bits.clear();
                    })))
                    .withAction(2, new TruncateAction())
                    .withAction(2, new MergeAction())
                    .withAction(1, new CopyAction())
                    .withAction(4, new SearchAction())
                    .withAction(1, new SerializeAction())
                    .withMaxTransformations(25));
  }

  /** Sizes in bits at and around the edges of words, pages and summary levels, or random. */
  private static Arbitrary<Long> bitCounts() {
    return Arbitraries.frequencyOf(
        Tuple.of(6, Arbitraries.of(0L, 1L, 2L, 63L, 64L, 65L, 127L, 4095L, 4096L, 4097L, 8193L)),
        Tuple.of(4, Arbitraries.longs().between(1, 20_000)),
        Tuple.of(1, Arbitraries.of(262_143L, 262_144L, 262_145L, 3 * 262_144L + 7)),
        Tuple.of(1, Arbitraries.of((1L << 24) + 1, (1L << 24) + 4097)));
  }

  private static long sizeBytes(long bits, int g, long slack) {
    if (bits == 0) {
      return 0;
    }
    return (bits << g) - (slack & ((1L << g) - 1));
  }

  /** Bit indexes below limit: a uniform one, or one right at a word/page/level edge. */
  private static Arbitrary<Long> bitIndex(long limit) {
    TreeSet<Long> edges = new TreeSet<>(List.of(0L, limit - 1, Math.max(0, limit - 2)));
    for (long log2 : EDGE_LOG2) {
      for (long k = 1; k <= 3; k++) {
        for (long delta = -1; delta <= 1; delta++) {
          long bit = (k << log2) + delta;
          if (bit >= 0 && bit < limit) {
            edges.add(bit);
          }
        }
      }
    }
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.of(new ArrayList<>(edges))),
        Tuple.of(1, Arbitraries.longs().between(0, limit - 1)));
  }

  /** Byte offsets below the end of the last granule: an edge bit plus a byte inside it. */
  private static Arbitrary<Long> byteOffset(Model m, long limitBytes) {
    long g = m.engine.granularityLog2();
    Arbitrary<Long> insideGranule = Arbitraries.longs().between(0, m.granularity() - 1);
    return Combinators.combine(bitIndex(m.bits()), insideGranule)
        .as((bit, inside) -> Math.min((bit << g) + inside, limitBytes - 1));
  }

  /** Lengths from 1 to room: mostly short, sometimes long, sometimes exactly room. */
  private static Arbitrary<Long> length(long granularity, long room) {
    return Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.longs().between(1, Math.min(room, 3 * granularity))),
        Tuple.of(2, Arbitraries.longs().between(1, Math.min(room, 5000 * granularity))),
        Tuple.of(1, Arbitraries.just(room)),
        Tuple.of(1, Arbitraries.longs().between(1, room)));
  }

  static final class SetAction implements Action.Dependent<Model> {
    @Override
    public boolean precondition(Model m) {
      return m.bits() > 0;
    }

    @Override
    public Arbitrary<Transformer<Model>> transformer(Model m) {
      long end = m.bits() << m.engine.granularityLog2();
      return byteOffset(m, end)
          .flatMap(off -> length(m.granularity(), end - off).map(len -> Tuple.of(off, len)))
          .map(
              t ->
                  Transformer.mutate(
                      "set(" + t.get1() + ", " + t.get2() + ")",
                      s -> {
                        s.engine.set(t.get1(), t.get2());
                        s.reference.set(t.get1(), t.get2());
                        assertThat(s.engine.get(t.get1())).isTrue();
                      }));
    }
  }

  static final class ResetAction implements Action.Dependent<Model> {
    @Override
    public boolean precondition(Model m) {
      return m.bits() > 0;
    }

    @Override
    public Arbitrary<Transformer<Model>> transformer(Model m) {
      long g = m.engine.granularityLog2();
      Arbitrary<Tuple.Tuple2<Long, Long>> ranges =
          bitIndex(m.bits())
              .flatMap(
                  bit -> {
                    long off = bit << g;
                    Arbitrary<Long> aligned =
                        length(1, m.bits() - bit).map(granules -> granules << g);
                    Arbitrary<Long> toEnd = Arbitraries.just(m.size() - off);
                    return Arbitraries.frequencyOf(Tuple.of(3, aligned), Tuple.of(1, toEnd))
                        .map(len -> Tuple.of(off, len));
                  });
      return ranges.map(
          t ->
              Transformer.mutate(
                  "reset(" + t.get1() + ", " + t.get2() + ")",
                  s -> {
                    s.engine.reset(t.get1(), t.get2());
                    s.reference.reset(t.get1(), t.get2());
                    assertThat(s.engine.get(t.get1())).isFalse();
                  }));
    }
  }

  static final class TruncateAction implements Action.Dependent<Model> {
    @Override
    public Arbitrary<Transformer<Model>> transformer(Model m) {
      int g = m.engine.granularityLog2();
      long maxBits = Math.max(m.bits(), 20_000) + 5000;
      Arbitrary<Long> newBits =
          Arbitraries.frequencyOf(
              Tuple.of(2, bitIndex(maxBits)),
              Tuple.of(1, Arbitraries.just(m.bits())),
              Tuple.of(1, Arbitraries.longs().between(Math.max(0, m.bits() - 70), m.bits() + 70)));
      return Combinators.combine(newBits, Arbitraries.longs().between(0, 65535))
          .as((bits, slack) -> sizeBytes(bits, g, slack))
          .map(
              newSize ->
                  Transformer.mutate(
                      "truncate(" + newSize + ")",
                      s -> {
                        s.engine.truncate(newSize);
                        s.reference.truncate(newSize);
                        assertThat(s.engine.origSizeBytes()).isEqualTo(newSize);
                      }));
    }
  }

  /** Builds a source of another (or the same) granularity and merges it in one of three ways. */
  static final class MergeAction implements Action.Dependent<Model> {
    @Override
    public boolean precondition(Model m) {
      return m.bits() > 0;
    }

    @Override
    public Arbitrary<Transformer<Model>> transformer(Model m) {
      long size = m.size();
      // Keep the source within 2^25 bits so that its BitSet reference stays small.
      List<Integer> granularities = new ArrayList<>();
      for (int sg : new int[] {0, 2, 9, 12, 13, 16, 20, 24}) {
        if ((size - 1) >>> sg < 1L << 25) {
          granularities.add(sg);
        }
      }
      Arbitrary<Integer> sourceGranularity = Arbitraries.of(granularities);
      Arbitrary<List<Tuple.Tuple2<Long, Long>>> runs =
          Arbitraries.longs()
              .between(0, size - 1)
              .flatMap(off -> length(64, size - off).map(len -> Tuple.of(off, len)))
              .list()
              .ofMaxSize(6);
      Arbitrary<String> modes = Arbitraries.of("into-self", "distinct-result", "self-merge");
      return Combinators.combine(sourceGranularity, runs, modes)
          .as(
              (sg, rs, mode) ->
                  Transformer.mutate(
                      "merge(" + mode + ", granularity 2^" + sg + ", runs " + rs + ")",
                      s -> merge(s, sg, rs, mode)));
    }

    private static void merge(
        Model s, int sourceGranularity, List<Tuple.Tuple2<Long, Long>> runs, String mode) {
      HBitmap source = new HBitmap(s.size(), sourceGranularity);
      ReferenceBitmap sourceReference = new ReferenceBitmap(s.size(), sourceGranularity);
      for (Tuple.Tuple2<Long, Long> run : runs) {
        source.set(run.get1(), run.get2());
        sourceReference.set(run.get1(), run.get2());
      }
      long sourceCount = source.countBits();
      switch (mode) {
        case "into-self" -> s.engine.mergeFrom(source);
        case "distinct-result" -> {
          HBitmap result = new HBitmap(s.size(), s.engine.granularityLog2());
          result.set(0, 1);
          HBitmap.merge(s.engine, source, result);
          s.engine = result;
        }
        case "self-merge" -> HBitmap.merge(s.engine, s.engine, s.engine);
        default -> throw new IllegalArgumentException(mode);
      }
      if (!mode.equals("self-merge")) {
        s.reference.mergeFrom(sourceReference);
      }
      assertThat(source.countBits()).isEqualTo(sourceCount);
    }
  }

  /** Replaces the engine by a copy and clears the original, which must not touch the copy. */
  static final class CopyAction implements Action.Independent<Model> {
    @Override
    public Arbitrary<Transformer<Model>> transformer() {
      return Arbitraries.just(
          Transformer.mutate(
              "copy",
              s -> {
                HBitmap original = s.engine;
                s.engine = original.copy();
                original.resetAll();
                if (original.sizeBits() > 0) {
                  original.set(0, 1);
                }
              }));
    }
  }

  /** Compares nextDirty, nextZero, nextDirtyArea and get at one position. */
  static final class SearchAction implements Action.Dependent<Model> {
    @Override
    public boolean precondition(Model m) {
      return m.bits() > 0;
    }

    @Override
    public Arbitrary<Transformer<Model>> transformer(Model m) {
      long g = m.granularity();
      Arbitrary<Long> starts =
          Arbitraries.frequencyOf(
              Tuple.of(4, byteOffset(m, m.bits() * g)),
              Tuple.of(1, Arbitraries.longs().between(m.size(), m.size() + 2 * g)));
      Arbitrary<Long> counts =
          Arbitraries.frequencyOf(
              Tuple.of(1, Arbitraries.of(0L, 1L, g, Long.MAX_VALUE, m.size())),
              Tuple.of(3, Arbitraries.longs().between(1, 3 * m.size() / 2 + 1)));
      Arbitrary<Long> maxLengths =
          Arbitraries.frequencyOf(
              Tuple.of(1, Arbitraries.of(1L, g, Long.MAX_VALUE)),
              Tuple.of(2, Arbitraries.longs().between(1, m.size() + 1)));
      return Combinators.combine(starts, counts, maxLengths)
          .as(
              (start, count, max) ->
                  Transformer.mutate(
                      "search(" + start + ", " + count + ", " + max + ")",
                      s -> search(s, start, count, max)));
    }

    private static void search(Model s, long start, long count, long max) {
      ReferenceBitmap ref = s.reference;
      assertThat(s.engine.nextDirty(start, count))
          .as("nextDirty")
          .isEqualTo(ref.nextDirty(start, count));
      assertThat(s.engine.nextZero(start, count))
          .as("nextZero")
          .isEqualTo(ref.nextZero(start, count));
      long end = count == Long.MAX_VALUE ? count : start + count;
      long[] expected = ref.nextDirtyArea(start, end, max);
      HBitmap.DirtyArea actual = s.engine.nextDirtyArea(start, end, max);
      if (expected == null) {
        assertThat(actual).as("nextDirtyArea").isNull();
      } else {
        assertThat(actual)
            .as("nextDirtyArea")
            .isEqualTo(new HBitmap.DirtyArea(expected[0], expected[1]));
      }
      if (start < s.bits() * s.granularity()) {
        assertThat(s.engine.get(start)).as("get").isEqualTo(ref.dirty(ref.granuleOf(start)));
      }
    }
  }

  /** Serializes, deserializes into a fresh bitmap (full and qcow2-length data), and hashes. */
  static final class SerializeAction implements Action.Independent<Model> {
    @Override
    public Arbitrary<Transformer<Model>> transformer() {
      return Arbitraries.just(
          Transformer.mutate(
              "serialize",
              s -> {
                byte[] bytes = s.engine.serialize();
                assertThat(bytes).isEqualTo(s.reference.serialize());
                assertThat(s.engine.sha256Hex()).isEqualTo(sha256Hex(bytes));

                HBitmap loaded = new HBitmap(s.size(), s.engine.granularityLog2());
                loaded.deserialize(bytes);
                assertThat(loaded.serialize()).isEqualTo(bytes);
                assertThat(loaded.countBits()).isEqualTo(s.engine.countBits());

                byte[] qcow2 = java.util.Arrays.copyOf(bytes, (int) ((s.bits() + 7) / 8));
                HBitmap fromImage = new HBitmap(s.size(), s.engine.granularityLog2());
                fromImage.deserialize(qcow2);
                assertThat(fromImage.serialize()).isEqualTo(bytes);
                assertThat(fromImage.checkConsistency()).isNull();
              }));
    }
  }

  private static String sha256Hex(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    }
  }
}
