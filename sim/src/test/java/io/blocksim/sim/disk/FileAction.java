package io.blocksim.sim.disk;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.sim.prng.Prng;
import java.util.Arrays;
import java.util.Locale;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;

/**
 * One request of a generated action chain, applied alike to a FakeDisk file and to a {@link
 * ReferenceFile}. Writes are either patterns (one byte value, as {@code qemu-io -P}) or bytes drawn
 * from a tiny alphabet, so that pages keep turning uniform and non-uniform again.
 */
record FileAction(Kind kind, long offset, long length, int value) {
  static final int MAX_END = 90_000;

  enum Kind {
    WRITE_PATTERN,
    WRITE_MIXED,
    WRITE_ZEROES,
    DISCARD,
    TRUNCATE,
    FLUSH,
    READ
  }

  static Arbitrary<FileAction> arbitrary() {
    Arbitrary<Kind> kinds =
        Arbitraries.frequencyOf(
            Tuple.of(4, Arbitraries.just(Kind.WRITE_PATTERN)),
            Tuple.of(4, Arbitraries.just(Kind.WRITE_MIXED)),
            Tuple.of(2, Arbitraries.just(Kind.WRITE_ZEROES)),
            Tuple.of(2, Arbitraries.just(Kind.DISCARD)),
            Tuple.of(1, Arbitraries.just(Kind.TRUNCATE)),
            Tuple.of(1, Arbitraries.just(Kind.FLUSH)),
            Tuple.of(2, Arbitraries.just(Kind.READ)));
    // Offsets near page and sector boundaries are where the bugs live.
    Arbitrary<Long> offsets =
        Arbitraries.oneOf(
            Arbitraries.longs().between(0, 70_000),
            Arbitraries.longs().between(0, 17).map(page -> page * 4096),
            Arbitraries.longs().between(0, 17).map(page -> page * 4096 - 1).filter(o -> o >= 0),
            Arbitraries.longs().between(0, 136).map(sector -> sector * 512 + 1));
    Arbitrary<Long> lengths =
        Arbitraries.oneOf(
            Arbitraries.longs().between(0, 20_000),
            Arbitraries.of(0L, 1L, 511L, 512L, 4095L, 4096L, 4097L, 8192L, 12_288L));
    return Combinators.combine(kinds, offsets, lengths, Arbitraries.integers().between(0, 255))
        .as(FileAction::new);
  }

  /** Returns the data a write action writes. */
  byte[] data() {
    byte[] data = new byte[(int) length];
    if (kind == Kind.WRITE_PATTERN) {
      Arrays.fill(data, (byte) value);
    } else {
      Prng prng = new Prng(value * 31L + offset);
      byte[] alphabet = {0, (byte) value, (byte) (value + 1)};
      for (int i = 0; i < data.length; i++) {
        data[i] = alphabet[prng.nextInt(alphabet.length)];
      }
    }
    return data;
  }

  /** Returns whether the action reaches the volatile cache as one unflushed request. */
  boolean isCachedRequest() {
    return kind != Kind.FLUSH && kind != Kind.READ;
  }

  void applyTo(HostFile file) throws HostIoException {
    switch (kind) {
      case WRITE_PATTERN, WRITE_MIXED -> file.write(offset, data(), 0, (int) length);
      case WRITE_ZEROES -> file.writeZeroes(offset, length);
      case DISCARD -> file.discard(offset, length);
      case TRUNCATE -> file.truncate(offset);
      case FLUSH -> file.flush();
      case READ -> {}
      default -> throw new AssertionError(kind);
    }
  }

  /** Applies the first keptBytes of the action to the reference (all of it: keptBytes = length). */
  void applyTo(ReferenceFile reference, long keptBytes) {
    switch (kind) {
      case WRITE_PATTERN, WRITE_MIXED -> reference.write(offset, data(), keptBytes);
      case WRITE_ZEROES -> reference.writeZeroes(offset, keptBytes);
      case DISCARD -> reference.discard(offset, keptBytes);
      case TRUNCATE -> reference.truncate(offset);
      case FLUSH, READ -> {}
      default -> throw new AssertionError(kind);
    }
  }

  void applyTo(ReferenceFile reference) {
    applyTo(reference, length);
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "%s(%d, %d, %d)", kind, offset, length, value);
  }
}
