package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.port.HostFile;
import io.blocksim.sim.prng.Prng;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

/**
 * Goal: whatever the chain of requests, a FakeDisk file reads back exactly what a flat byte array
 * would hold, reports holes where Linux would, and a power loss leaves exactly what replaying the
 * reported fates onto the last flushed state gives. Method: jqwik action chains over a 90 KB
 * window (about 22 pages), applied alike to the fake and to {@link ReferenceFile}; offsets and
 * lengths are biased towards page and sector boundaries; writes mix patterns and near-uniform data
 * so pages move between tagged and byte-array forms. After every action the whole file, a window
 * beyond its end, the action's own range and the allocation runs from every page start and from
 * the action's offset are compared.
 */
class FakeDiskPropertiesTest {

  @Provide
  Arbitrary<List<FileAction>> chains() {
    return FileAction.arbitrary().list().ofMinSize(1).ofMaxSize(40);
  }

  @Property(tries = 400)
  void readsAndAllocationMatchTheReferenceAfterEveryAction(
      @ForAll("chains") List<FileAction> actions) throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    ReferenceFile reference = new ReferenceFile(128 * 1024);
    for (FileAction action : actions) {
      action.applyTo(file);
      action.applyTo(reference);
      assertSameContents(file, reference, action);
      assertSameAllocation(file, reference, action);
    }
  }

  @Property(tries = 300)
  void powerLossLeavesTheLastFlushPlusTheReportedFates(
      @ForAll("chains") List<FileAction> actions, @ForAll long seed) throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    ReferenceFile reference = new ReferenceFile(128 * 1024);
    ReferenceFile lastFlushed = reference.copy();
    List<FileAction> unflushed = new ArrayList<>();
    for (FileAction action : actions) {
      action.applyTo(file);
      action.applyTo(reference);
      if (action.kind() == FileAction.Kind.FLUSH) {
        lastFlushed = reference.copy();
        unflushed.clear();
      } else if (action.isCachedRequest()) {
        unflushed.add(action);
      }
    }

    List<OpFate> fates = disk.crashPower(new Prng(seed));

    assertThat(fates).hasSize(unflushed.size());
    ReferenceFile expected = lastFlushed;
    for (int i = 0; i < fates.size(); i++) {
      OpFate fate = fates.get(i);
      FileAction action = unflushed.get(i);
      assertFateIsWellFormed(fate, action);
      if (fate.fate() != OpFate.Fate.DROPPED) {
        action.applyTo(expected, fate.keptBytes());
      }
    }
    assertSameContents(file, expected, null);
    assertSameAllocation(file, expected, null);
    assertThat(disk.unflushedCount("f")).isZero();
  }

  @Property(tries = 100)
  void sameSeedGivesTheSameFatesAndBytes(
      @ForAll("chains") List<FileAction> actions, @ForAll long seed) throws Exception {
    List<Object> first = runAndCrash(actions, seed);
    List<Object> second = runAndCrash(actions, seed);
    assertThat(second).isEqualTo(first);
  }

  @Property(tries = 200)
  void flushedDataSurvivesAnyPowerLoss(
      @ForAll("chains") List<FileAction> actions, @ForAll long seed) throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    ReferenceFile reference = new ReferenceFile(128 * 1024);
    for (FileAction action : actions) {
      action.applyTo(file);
      action.applyTo(reference);
    }
    file.flush();
    assertThat(disk.crashPower(new Prng(seed))).isEmpty();
    assertSameContents(file, reference, null);
  }

  private static List<Object> runAndCrash(List<FileAction> actions, long seed) throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile file = disk.create("f");
    for (FileAction action : actions) {
      action.applyTo(file);
    }
    List<OpFate> fates = disk.crashPower(new Prng(seed));
    byte[] contents = new byte[(int) file.length()];
    file.read(0, contents, 0, contents.length);
    return List.of(fates, HexFormat.of().formatHex(contents));
  }

  private static void assertFateIsWellFormed(OpFate fate, FileAction action) {
    DiskOp op = fate.op();
    switch (fate.fate()) {
      case KEPT -> assertThat(fate.keptBytes()).isEqualTo(op.lengthBytes());
      case DROPPED -> assertThat(fate.keptBytes()).isZero();
      case TORN -> {
        assertThat(action.kind()).isNotEqualTo(FileAction.Kind.TRUNCATE);
        assertThat(fate.keptBytes()).isBetween(0L, op.lengthBytes() - 1);
        // A torn request stops at a sector boundary of the address space.
        if (fate.keptBytes() > 0) {
          assertThat((op.offsetBytes() + fate.keptBytes()) % 512).isZero();
        }
      }
      default -> throw new AssertionError(fate);
    }
  }

  private static void assertSameContents(HostFile file, ReferenceFile reference, Object context)
      throws Exception {
    assertThat(file.length()).as("length after %s", context).isEqualTo(reference.length);
    int window = (int) reference.length + 5_000; // Past the end reads as zeroes.
    byte[] actual = new byte[window];
    file.read(0, actual, 0, window);
    assertThat(actual).as("contents after %s", context).isEqualTo(reference.read(0, window));
    if (context instanceof FileAction action && action.length() > 0) {
      byte[] part = new byte[(int) action.length() + 3];
      file.read(action.offset(), part, 1, (int) action.length());
      byte[] expected = new byte[part.length];
      System.arraycopy(
          reference.read(action.offset(), (int) action.length()), 0, expected, 1,
          (int) action.length());
      assertThat(part).as("range read after %s", context).isEqualTo(expected);
    }
  }

  private static void assertSameAllocation(HostFile file, ReferenceFile reference, Object context) {
    List<Long> offsets = new ArrayList<>();
    for (long page = 0; page * 4096 <= reference.length + 4096; page++) {
      offsets.add(page * 4096);
    }
    if (context instanceof FileAction action) {
      offsets.add(action.offset());
    }
    for (long offset : offsets) {
      for (long maxLength : new long[] {1, 5_000, 200_000}) {
        assertThat(file.allocationRun(offset, maxLength))
            .as("allocationRun(%d, %d) after %s", offset, maxLength, context)
            .isEqualTo(reference.allocationRun(offset, maxLength));
      }
    }
  }
}
