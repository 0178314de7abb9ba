package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Goal: guest I/O leaves the image file exactly as QEMU 7.2 leaves it. Method: create the same
 * image with qemu-img and with the engine (byte-identical, see Qcow2ImageCreateTest), run the
 * same guest requests through qemu-io and through the engine, and compare the two files byte
 * for byte. qemu-io opens with discard=unmap and flushes and closes on exit, so the engine opens
 * with discardUnmap and ends with flush() and close(). Equal files mean equal allocation order,
 * host offsets, L1/L2/refcount contents and COW data. Each engine image must also pass
 * qemu-img check.
 */
class Qcow2ImageQemuTest {
  static final long K = 1024;
  static final long M = 1024 * K;
  static final long G = 1024 * M;

  @TempDir Path dir;

  @BeforeAll
  static void needQemu() {
    assumeTrue(QemuTools.available(), "qemu-img / qemu-io not installed");
  }

  @Test
  void singleSmallWriteMatchesQemu() throws Exception {
    assertSameAsQemu(64 * M, Qcow2CreateOptions.defaults(), null,
        List.of(GuestOp.write(0, 4 * K, 0xab)));
  }

  @Test
  void partialAndSpanningWritesMatchQemu() throws Exception {
    assertSameAsQemu(64 * M, Qcow2CreateOptions.defaults(), null, List.of(
        GuestOp.write(0, 4 * K, 0x11),
        GuestOp.write(70 * K, 8 * K, 0x22),
        GuestOp.write(1 * M, 128 * K, 0x33),
        GuestOp.write(2 * M + 100, 1000, 0x44),
        GuestOp.write(60 * K, 10 * K, 0x55),
        GuestOp.write(5 * M, 3 * M, 0x66)));
  }

  @Test
  void overwritesZeroesAndDiscardsMatchQemu() throws Exception {
    assertSameAsQemu(64 * M, Qcow2CreateOptions.defaults(), null, List.of(
        GuestOp.write(0, 1 * M, 0x11),
        GuestOp.write(4 * K, 4 * K, 0x22),
        GuestOp.zero(64 * K, 128 * K, false),
        GuestOp.write(70 * K, 4 * K, 0x33),
        GuestOp.zero(256 * K, 128 * K, true),
        GuestOp.write(300 * K, 4 * K, 0x44),
        GuestOp.discard(512 * K, 100 * K),
        GuestOp.zero(900 * K, 10 * K, false),
        GuestOp.zero(3 * M + 512, 512, false),
        GuestOp.flush(),
        GuestOp.write(512 * K, 64 * K, 0x55),
        GuestOp.discard(0, 64 * M)));
  }

  @Test
  void severalL2TablesMatchQemu() throws Exception {
    assertSameAsQemu(4 * G, Qcow2CreateOptions.defaults(), null, List.of(
        GuestOp.write(0, 4 * K, 0x11),
        GuestOp.write(600 * M, 4 * K, 0x22),
        GuestOp.write(3 * G, 64 * K, 0x33),
        GuestOp.write(1536 * M - 4 * K, 8 * K, 0x44),
        GuestOp.zero(2 * G, 1 * G, true)));
  }

  @Test
  void smallClustersGrowTheRefcountTableAsQemuDoes() throws Exception {
    List<GuestOp> ops = new ArrayList<>();
    for (int i = 0; i < 24; i++) {
      ops.add(GuestOp.write(i * 512 * K, 400 * K, 0x10 + i));
    }
    assertSameAsQemu(64 * M, Qcow2CreateOptions.defaults().withClusterSize(512), null, ops);
  }

  @Test
  void l2SlicesOnAOneTebibyteImageMatchQemu() throws Exception {
    List<GuestOp> ops = new ArrayList<>();
    SplittableRandom r = new SplittableRandom(7);
    for (int i = 0; i < 60; i++) {
      long offset = r.nextLong(1L << 40) / (4 * K) * (4 * K);
      ops.add(GuestOp.write(offset, 4 * K, 1 + r.nextInt(255)));
    }
    assertSameAsQemu(1L << 40, Qcow2CreateOptions.defaults(), null, ops);
  }

  @Test
  void version2ZeroWritesMatchQemu() throws Exception {
    assertSameAsQemu(64 * M, Qcow2CreateOptions.defaults().withVersion(2), null, List.of(
        GuestOp.write(0, 1 * M, 0x11),
        GuestOp.zero(64 * K, 128 * K, false),
        GuestOp.zero(300 * K, 10 * K, false),
        GuestOp.discard(512 * K, 256 * K),
        GuestOp.write(600 * K, 4 * K, 0x22)));
  }

  @ParameterizedTest
  @ValueSource(ints = {3, 2})
  void writesOverABackingFileCopyOnWriteAsQemu(int version) throws Exception {
    List<GuestOp> baseOps = List.of(GuestOp.write(0, 2 * M, 0x5a),
        GuestOp.write(4 * M, 64 * K, 0x6b));
    List<GuestOp> ops = List.of(
        GuestOp.write(4 * K, 4 * K, 0x11),
        GuestOp.write(1 * M + 1000, 100 * K, 0x22),
        GuestOp.write(3 * M, 4 * K, 0x33),
        GuestOp.write(4 * M + 60 * K, 8 * K, 0x44),
        GuestOp.zero(128 * K, 64 * K, false),
        GuestOp.zero(256 * K, 4 * K, false),
        GuestOp.zero(5 * M, 4 * K, false),
        GuestOp.discard(1536 * K, 128 * K));
    Qcow2CreateOptions o = Qcow2CreateOptions.defaults().withVersion(version);
    assertSameAsQemu(8 * M, o, baseOps, ops);
  }

  @ParameterizedTest
  @ValueSource(longs = {512, 4096, 65536})
  void randomRequestSequencesMatchQemu(long clusterSize) throws Exception {
    SplittableRandom r = new SplittableRandom(clusterSize);
    for (int round = 0; round < 4; round++) {
      long size = 8 * M;
      List<GuestOp> ops = randomOps(r, size, 40);
      assertSameAsQemu(size, Qcow2CreateOptions.defaults().withClusterSize(clusterSize), null,
          ops);
    }
  }

  static List<GuestOp> randomOps(SplittableRandom r, long size, int count) {
    List<GuestOp> ops = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      long offset = r.nextLong(size / 512) * 512;
      long length = Math.min(size - offset, (1 + r.nextLong(512)) * 512);
      int kind = r.nextInt(10);
      if (kind < 6) {
        ops.add(GuestOp.write(offset, length, 1 + r.nextInt(255)));
      } else if (kind == 6) {
        ops.add(GuestOp.zero(offset, length, false));
      } else if (kind == 7) {
        ops.add(GuestOp.zero(offset, length, true));
      } else if (kind == 8) {
        ops.add(GuestOp.discard(offset, length));
      } else {
        ops.add(GuestOp.flush());
      }
    }
    return ops;
  }

  /**
   * Runs ops through qemu-io and through the engine on identical new images (with a backing
   * image written by baseOps when baseOps is not null) and asserts identical files.
   */
  void assertSameAsQemu(long size, Qcow2CreateOptions o, List<GuestOp> baseOps,
      List<GuestOp> ops) throws Exception {
    Path real = dir.resolve("real.qcow2");
    Path base = dir.resolve("base.qcow2");
    Files.deleteIfExists(real);
    Qcow2Image backingImage = null;
    if (baseOps != null) {
      Files.deleteIfExists(base);
      assertThat(QemuTools.qemuImg("create", "-f", "qcow2", base.toString(),
          Long.toString(size)).exitCode()).isZero();
      QemuTools.Result w = QemuTools.qemuIo(base, commands(baseOps));
      assertThat(w.exitCode()).as(w.output()).isZero();
      o = o.withBacking("base.qcow2", "qcow2");
      backingImage = Qcow2Image.open(MemoryHostFile.loadFrom(base), true);
    }
    List<String> opts = new ArrayList<>(List.of("cluster_size=" + o.clusterSizeBytes(),
        "compat=" + (o.version() == 2 ? "0.10" : "1.1")));
    if (o.backingFile() != null) {
      opts.add("backing_file=" + o.backingFile());
      opts.add("backing_fmt=" + o.backingFormat());
    }
    QemuTools.Result c = QemuTools.qemuImg("create", "-f", "qcow2", "-o",
        String.join(",", opts), real.toString(), Long.toString(size));
    assertThat(c.exitCode()).as(c.output()).isZero();
    QemuTools.Result io = QemuTools.qemuIo(real, commands(ops));
    assertThat(io.exitCode()).as(io.output()).isZero();
    assertThat(io.output()).doesNotContain("error", "failed");

    MemoryHostFile ours = new MemoryHostFile();
    Qcow2Image.create(ours, size, o);
    Qcow2Image image = Qcow2Image.open(ours, new Qcow2OpenOptions(false, -1, -1, true));
    if (backingImage != null) {
      image.setBackingReader(new ImageBacking(backingImage));
    }
    for (GuestOp op : ops) {
      op.applyTo(image);
    }
    image.flush();
    image.close();

    byte[] expected = Files.readAllBytes(real);
    byte[] actual = ours.bytes();
    assertThat(actual.length).as("file length").isEqualTo(expected.length);
    int firstDifference = -1;
    for (int i = 0; i < expected.length && firstDifference < 0; i++) {
      if (expected[i] != actual[i]) {
        firstDifference = i;
      }
    }
    assertThat(firstDifference).as("first differing byte (ops %s)", ops).isEqualTo(-1);

    Path mine = dir.resolve("mine.qcow2");
    ours.saveTo(mine);
    QemuTools.Result check = QemuTools.check(mine);
    assertThat(check.exitCode()).as(check.output()).isZero();
  }

  /**
   * Goal: the engine sends the same host requests in the same order as QEMU. Method: trace the
   * file node's requests in qemu-io (writeback cache, so no FUA flushes) with the
   * bdrv_co_preadv_part / bdrv_co_pwritev_part / bdrv_co_pwrite_zeroes trace points, and compare
   * them with the requests the engine sends to a recording host file. Flushes and discards have
   * no trace point in 7.2 and are left out on both sides.
   */
  void assertSameRequestsAsQemu(long size, Qcow2CreateOptions o, List<GuestOp> ops)
      throws Exception {
    assertSameRequestsAsQemu(size, o, ops, true);
  }

  /**
   * With exactOrder false, the requests of each guest request are compared as a multiset: a
   * write that QEMU splits into several host runs runs them as parallel tasks, whose requests
   * interleave (see the class comment of Qcow2Image), while the engine runs them in sequence.
   */
  void assertSameRequestsAsQemu(long size, Qcow2CreateOptions o, List<GuestOp> ops,
      boolean exactOrder) throws Exception {
    assertSameRequestsAsQemu(size, o, ops, exactOrder, false);
  }

  void assertSameRequestsAsQemu(long size, Qcow2CreateOptions o, List<GuestOp> ops,
      boolean exactOrder, boolean wholeRun) throws Exception {
    Path real = dir.resolve("traced.qcow2");
    Files.deleteIfExists(real);
    QemuTools.Result c = QemuTools.qemuImg("create", "-f", "qcow2", "-o",
        "cluster_size=" + o.clusterSizeBytes() + ",compat=" + (o.version() == 2 ? "0.10" : "1.1"),
        real.toString(), Long.toString(size));
    assertThat(c.exitCode()).as(c.output()).isZero();
    List<String> cmd = new ArrayList<>(List.of("qemu-io", "-f", "qcow2", "-t", "writeback",
        "--trace", "bdrv_co_preadv_part", "--trace", "bdrv_co_pwritev_part",
        "--trace", "bdrv_co_pwrite_zeroes"));
    for (String s : commands(ops)) {
      cmd.add("-c");
      cmd.add(s);
    }
    cmd.add(real.toString());
    QemuTools.Result io = QemuTools.runForStderr(cmd);
    assertThat(io.exitCode()).as(io.output()).isZero();
    List<String> expected = fileRequests(io.output());

    MemoryHostFile memory = new MemoryHostFile();
    Qcow2Image.create(memory, size, o);
    RecordingHostFile recorder = new RecordingHostFile(memory);
    Qcow2Image image = Qcow2Image.open(recorder, new Qcow2OpenOptions(false, -1, -1, true));
    recorder.recording = true;
    for (GuestOp op : ops) {
      if (op.kind() != GuestOp.Kind.FLUSH && op.kind() != GuestOp.Kind.DISCARD) {
        recorder.lines.add("op");
      }
      op.applyTo(image);
    }
    image.flush();
    image.close();
    recorder.lines.add("op");
    List<String> actual = recorder.requests();
    if (wholeRun) {
      expected = expected.stream().filter(l -> !l.equals("op")).sorted().toList();
      actual = actual.stream().filter(l -> !l.equals("op")).sorted().toList();
    } else if (!exactOrder) {
      expected = sortWithinOps(expected);
      actual = sortWithinOps(actual);
    }
    int at = 0;
    while (at < expected.size() && at < actual.size() && expected.get(at).equals(actual.get(at))) {
      at++;
    }
    if (at < expected.size() || at < actual.size()) {
      if (System.getenv("QCOW2_TRACE_DUMP") != null) {
        Files.write(Path.of(System.getenv("QCOW2_TRACE_DUMP") + ".qemu"), expected);
        Files.write(Path.of(System.getenv("QCOW2_TRACE_DUMP") + ".engine"), actual);
        Files.write(Path.of(System.getenv("QCOW2_TRACE_DUMP") + ".raw"), List.of(io.output()));
      }
      int from = Math.max(0, at - 6);
      String context = String.format("first difference at request %d of %d/%d%n"
          + "qemu:   %s%nengine: %s%nengine with events: %s%nops: %s", at, expected.size(),
          actual.size(), expected.subList(from, Math.min(expected.size(), at + 6)),
          actual.subList(from, Math.min(actual.size(), at + 6)), recorder.lines, ops);
      throw new AssertionError(context);
    }
  }

  static List<String> sortWithinOps(List<String> lines) {
    List<String> out = new ArrayList<>();
    List<String> group = new ArrayList<>();
    for (String l : lines) {
      if (l.equals("op")) {
        group.sort(null);
        out.addAll(group);
        group.clear();
        out.add(l);
      } else {
        group.add(l);
      }
    }
    group.sort(null);
    out.addAll(group);
    return out;
  }

  /**
   * Extracts the file node's requests from a trace, with an "op" line wherever a request
   * reaches the qcow2 node (a guest request, or the final flush's absence of one).
   */
  static List<String> fileRequests(String trace) {
    List<String> out = new ArrayList<>();
    String fileNode = null;
    boolean started = false;
    boolean skipZeroWrite = false;
    for (String line : trace.split("\n")) {
      String[] f = line.trim().split(" ");
      if (f.length < 9 || !f[0].startsWith("bdrv_co_p")) {
        continue;
      }
      String bs = f[2];
      if (fileNode == null) {
        fileNode = bs;
      }
      if (!bs.equals(fileNode)) {
        out.add("op");
        started = true;
        continue;
      }
      if (!started) {
        continue;
      }
      long flags = Long.decode(f[8]);
      switch (f[0]) {
        case "bdrv_co_preadv_part" -> out.add("read " + f[4] + " " + f[6]);
        case "bdrv_co_pwrite_zeroes" -> {
          out.add("zero " + f[4] + " " + f[6]);
          skipZeroWrite = true;
        }
        case "bdrv_co_pwritev_part" -> {
          if (skipZeroWrite && (flags & 2) != 0) {
            skipZeroWrite = false;
          } else {
            out.add("write " + f[4] + " " + f[6]);
          }
        }
        default -> { }
      }
    }
    out.add("op");
    return out;
  }

  @Test
  void hostRequestsOfWritesMatchQemuTrace() throws Exception {
    assertSameRequestsAsQemu(64 * M, Qcow2CreateOptions.defaults(), List.of(
        GuestOp.write(0, 4 * K, 0x11),
        GuestOp.write(70 * K, 8 * K, 0x22),
        GuestOp.write(1 * M, 128 * K, 0x33),
        GuestOp.write(2 * M + 100, 1000, 0x44),
        GuestOp.read(0, 2 * M),
        GuestOp.flush(),
        GuestOp.write(60 * K, 10 * K, 0x55),
        GuestOp.zero(64 * K, 128 * K, false),
        GuestOp.write(70 * K, 4 * K, 0x66),
        GuestOp.zero(256 * K, 128 * K, true),
        GuestOp.discard(1 * M, 64 * K),
        GuestOp.write(5 * M, 3 * M, 0x77)));
  }

  @Test
  void hostRequestsWithL2SlicesMatchQemuTrace() throws Exception {
    List<GuestOp> ops = new ArrayList<>();
    SplittableRandom r = new SplittableRandom(11);
    for (int i = 0; i < 40; i++) {
      long offset = r.nextLong(1L << 40) / (4 * K) * (4 * K);
      ops.add(GuestOp.write(offset, 4 * K, 1 + r.nextInt(255)));
      if (i % 7 == 0) {
        ops.add(GuestOp.read(offset, 8 * K));
      }
    }
    assertSameRequestsAsQemu(1L << 40, Qcow2CreateOptions.defaults(), ops);
  }

  /**
   * Random requests include writes that QEMU splits into several host runs and runs as
   * parallel tasks; the order of their requests depends on thread-pool timing (repeated qemu-io
   * runs of the same commands differ), so the requests of each guest request are compared as a
   * multiset. Cache write-backs must still fall into the same guest request, which holds only
   * if the engine interleaves the runs' L2 updates with the next run's allocation as QEMU does.
   */
  @ParameterizedTest
  @ValueSource(longs = {512, 4096, 65536})
  void hostRequestsOfRandomSequencesMatchQemuTraceWithinEachRequest(long clusterSize)
      throws Exception {
    SplittableRandom r = new SplittableRandom(clusterSize + 1);
    for (int round = 0; round < 3; round++) {
      List<GuestOp> ops = randomOps(r, 8 * M, 30);
      assertSameRequestsAsQemu(8 * M, Qcow2CreateOptions.defaults().withClusterSize(clusterSize),
          ops, false);
    }
  }

  /**
   * Writes that span allocated and new clusters run as several tasks. With 512-byte clusters
   * many runs allocate an L2 table, whose cache flush writes back the L2 tables of the runs
   * linked so far; which those are depends on QEMU's timing, so requests are compared per
   * guest request as a multiset (the L2 tables must still be written back in the same guest
   * request, and every data, zero and metadata write must be the same).
   */
  @Test
  void hostRequestsOfMultiRunWritesWithTinyClustersMatchQemuTrace() throws Exception {
    List<GuestOp> ops = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      ops.add(GuestOp.write(i * 300 * K, 100 * K, 0x10 + i));
    }
    ops.add(GuestOp.write(50 * K, 1200 * K, 0x77));
    ops.add(GuestOp.write(20 * K, 1500 * K, 0x78));
    assertSameRequestsAsQemu(8 * M, Qcow2CreateOptions.defaults().withClusterSize(512), ops,
        false);
  }

  static String[] commands(List<GuestOp> ops) {
    return ops.stream().map(GuestOp::qemuIoCommand).toArray(String[]::new);
  }
}
