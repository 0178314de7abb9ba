package io.blocksim.sim.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.Backend.IoOutcome;
import io.blocksim.sim.port.StepException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * QemuBackend against the installed qemu-storage-daemon 7.2 (skipped only when QEMU is not
 * installed). Goal: every Backend operation does on real QEMU what the scenario contract says.
 * Method: drive a daemon as a scenario would, and check the answers against values derived
 * independently — the bitmap hashes of docs/qemu-behaviour.md §1.3 (E1), and SHA-256 sums of image
 * contents computed here from the bytes that were written.
 */
class QemuBackendTest {
  private static final long MIB = 1024 * 1024;
  private static final long DISK_BYTES = 64 * MIB;
  /** §1.3: a 64 MiB disk, 64 KiB granularity, no bit set. */
  private static final String EMPTY_BITMAP_SHA256 =
      "38723a2e5e8a17aa7950dc008209944e898f69a7bd10a23c839d341e935fd5ca";
  /** §1.3: a 64 MiB disk, 64 KiB granularity, bits 0, 15, 16, 512 and 1022 set. */
  private static final String FIVE_BITS_SHA256 =
      "0baaa0047f5a6313b518b29f575ad090d090deb6f7bc1daba2cd06dbe6c8e888";

  @TempDir Path tempDir;
  private Path scratch;
  private final List<String> logLines = new ArrayList<>();
  private QemuBackend backend;

  @BeforeEach
  void startDaemon() throws StepException {
    QemuAvailability availability = QemuAvailability.check();
    Assumptions.assumeTrue(availability.available(), availability.reason());
    scratch = tempDir.resolve("case");
    backend = new QemuBackend(scratch, false, logLines::add);
  }

  @AfterEach
  void stopDaemon() {
    if (backend != null) {
      backend.close();
    }
  }

  @Test
  void writtenDataReadsBackAndAWrongPatternIsAFailedRequest() throws Exception {
    addQcow2("img.qcow2", "drive0");

    IoOutcome write = backend.io("drive0", "write -P0x49 0 64k");
    IoOutcome read = backend.io("drive0", "read -P0x49 0 64k");
    IoOutcome wrong = backend.io("drive0", "read -P0x48 0 64k");

    assertThat(write.error()).isNull();
    assertThat(write.lines()).containsExactly("wrote 65536/65536 bytes at offset 0",
        "64 KiB, X ops; XX:XX:XX.X (XXX YYY/sec and XXX ops/sec)");
    assertThat(read.error()).isNull();
    assertThat(read.lines()).first().isEqualTo("read 65536/65536 bytes at offset 0");
    assertThat(wrong.error()).isEqualTo("Pattern verification failed");
    assertThat(wrong.lines()).first()
        .isEqualTo("Pattern verification failed at offset 0, 65536 bytes");
  }

  @Test
  void anInjectedWriteErrorIsAFailedRequestNamedByQemuIosLine() throws Exception {
    backend.createImage(new ImageSpec("a.raw", "raw", MIB, null, null, null, Map.of()));
    ok(backend.qmp("blockdev-add", args("node-name", "drive0", "driver", "raw",
        "file", args("driver", "blkdebug",
            "inject-error", List.of(args("event", "write_aio", "once", true)),
            "image", args("driver", "file", "filename", "a.raw")))));

    IoOutcome failed = backend.io("drive0", "write -P0x49 0 4k");
    IoOutcome retried = backend.io("drive0", "write -P0x49 0 4k");

    assertThat(failed.lines()).containsExactly("write failed: Input/output error");
    assertThat(failed.error()).isEqualTo("write failed: Input/output error");
    assertThat(retried.error()).isNull();
  }

  @Test
  void aReadOnlyNodeCanBeReadButNotWritten() throws Exception {
    backend.createImage(new ImageSpec("a.raw", "raw", MIB, null, null, null, Map.of()));
    ok(backend.qmp("blockdev-add", args("node-name", "ro", "driver", "raw", "read-only", true,
        "file", args("driver", "file", "filename", "a.raw"))));

    IoOutcome read = backend.io("ro", "read -P0 0 4k");
    IoOutcome write = backend.io("ro", "write 0 4k");

    assertThat(read.error()).isNull();
    assertThat(write.error()).isEqualTo("qemu-io: Block node is read-only");
  }

  @Test
  void unknownNodesAreStepErrorsNotQmpErrors() {
    assertThatThrownBy(() -> backend.io("nope", "read 0 512"))
        .isInstanceOf(StepException.class)
        .hasMessage("io on node 'nope': cannot export the node: "
            + "Cannot find device='' nor node-name='nope'");
    assertThatThrownBy(() -> backend.imageDigest("nope"))
        .isInstanceOf(StepException.class).hasMessageContaining("nor node-name='nope'");
  }

  @Test
  void aHungDaemonEndsInAStepExceptionInsteadOfAHang() throws Exception {
    backend.close();
    backend = new QemuBackend(tempDir.resolve("hung"), false, logLines::add, 500_000_000L);
    signal("STOP", backend.daemonPid());
    try {
      assertThatThrownBy(() -> backend.qmp("query-jobs", null))
          .isInstanceOf(StepException.class)
          .hasMessageContaining("no reply to 'query-jobs' within 500 ms (daemon hung?)");
    } finally {
      signal("CONT", backend.daemonPid());
    }
  }

  @Test
  void bitmapCountAndHashMatchTheReferenceValues() throws Exception {
    addQcow2("img.qcow2", "drive0");
    ok(backend.qmp("block-dirty-bitmap-add",
        args("node", "drive0", "name", "bitmap0", "granularity", 65536L)));
    assertThat(sha256Of("drive0", "bitmap0")).isEqualTo(EMPTY_BITMAP_SHA256);

    for (String write : List.of("write -P0x49 0 64k", "write -P0x77 0xf8000 64k",
        "write -P0x69 0x3fe0000 64k", "write -P0x11 1000 1", "write -P0x22 0x2000000 512")) {
      assertThat(backend.io("drive0", write).error()).isNull();
    }

    Map<String, Object> bitmap = bitmapsOf("drive0").get(0);
    assertThat(bitmap).containsEntry("name", "bitmap0").containsEntry("count", 5 * 65536L)
        .containsEntry("granularity", 65536L).containsEntry("recording", true);
    assertThat(sha256Of("drive0", "bitmap0")).isEqualTo(FIVE_BITS_SHA256);
  }

  @Test
  void backupCopiesTheGuestViewAndReportsItsJobEvents() throws Exception {
    addQcow2("img.qcow2", "drive0");
    addQcow2("tgt.qcow2", "tgt");
    backend.io("drive0", "write -P0x49 0 64k");
    String expected = sha256OfDiskStartingWith((byte) 0x49, 64 * 1024);
    assertThat(backend.imageDigest("drive0")).isEqualTo(expected);

    ok(backend.qmp("blockdev-backup",
        args("job-id", "j1", "device", "drive0", "target", "tgt", "sync", "full")));
    boolean ended = backend.runUntil(() -> statusesOf(backend.events(), "j1").contains("null"),
        20_000_000_000L);

    assertThat(ended).isTrue();
    assertThat(statusesOf(backend.events(), "j1")).startsWith("created", "running")
        .endsWith("waiting", "pending", "concluded", "null");
    assertThat(backend.events()).extracting(QmpEvent::event).contains("BLOCK_JOB_COMPLETED")
        .doesNotContain("BLOCK_EXPORT_DELETED");
    assertThat(backend.imageDigest("tgt")).isEqualTo(expected);
    ok(backend.qmp("blockdev-del", args("node-name", "tgt")));
    assertThat(backend.imageDigest("tgt.qcow2")).isEqualTo(expected);
    assertThat(backend.imageDigest("drive0")).isNotEqualTo(
        sha256OfDiskStartingWith((byte) 0, 0));
  }

  @Test
  void guestWritesDuringABackupGoThroughItsCopyBeforeWriteFilter() throws Exception {
    addQcow2("img.qcow2", "drive0");
    addQcow2("tgt.qcow2", "tgt");
    backend.io("drive0", "write -P0x11 32M 64k");
    ok(backend.qmp("block-dirty-bitmap-add", args("node", "drive0", "name", "b0")));
    // 64 KiB/s: the job is still far from 32 MiB when the guest overwrites it.
    ok(backend.qmp("blockdev-backup", args("job-id", "j1", "device", "drive0", "target", "tgt",
        "sync", "full", "speed", 65536L)));

    IoOutcome overwrite = backend.io("drive0", "write -P0x22 32M 64k");
    ok(backend.qmp("block-job-set-speed", args("device", "j1", "speed", 0L)));
    boolean ended = backend.runUntil(() -> statusesOf(backend.events(), "j1").contains("null"),
        20_000_000_000L);

    assertThat(overwrite.error()).isNull();
    assertThat(ended).isTrue();
    assertThat(backend.io("tgt", "read -P0x11 32M 64k").error()).isNull();
    assertThat(backend.io("drive0", "read -P0x22 32M 64k").error()).isNull();
    assertThat(bitmapsOf("drive0")).singleElement()
        .satisfies(b -> assertThat(b).containsEntry("count", 65536L));
  }

  @Test
  void onlyTheBackendsOwnExportEventsAreHidden() throws Exception {
    addQcow2("img.qcow2", "drive0");
    backend.io("drive0", "write 0 4k");
    // The scenario's own NBD server (the harness's steps aside for it).
    ok(backend.qmp("nbd-server-start", args("addr", args("type", "unix", "data",
        args("path", "nbd.sock")))));
    ok(backend.qmp("block-export-add", args("type", "nbd", "id", "user0", "node-name", "drive0",
        "name", "user0")));
    ok(backend.qmp("block-export-del", args("id", "user0")));

    boolean seen = backend.runUntil(() -> backend.events().stream()
        .anyMatch(e -> e.event().equals("BLOCK_EXPORT_DELETED")), 5_000_000_000L);

    assertThat(seen).isTrue();
    assertThat(backend.events()).extracting(e -> e.data().get("id")).containsExactly("user0");
  }

  @Test
  void aScratchDirectoryThatCannotBeCreatedIsAStepException() throws Exception {
    Path file = Files.writeString(tempDir.resolve("plain-file"), "x");

    assertThatThrownBy(() -> new QemuBackend(file.resolve("case"), false, logLines::add))
        .isInstanceOf(StepException.class)
        .hasMessageStartingWith("cannot create the scratch directories");
  }

  @Test
  void repliesAndToolOutputShowScratchRelativePaths() throws Exception {
    addQcow2("img.qcow2", "drive0");

    Map<String, Object> reply = backend.qmp("query-named-block-nodes", null);
    Map<String, Object> missing = backend.qmp("blockdev-add", args("node-name", "m",
        "driver", "file", "filename", "missing.qcow2"));
    ImgOutcome info = backend.img("info -U --output=json img.qcow2");
    ImgOutcome check = backend.img("qemu-img check missing.qcow2");

    assertThat(nodeNamed(reply, "drive0")).containsEntry("file", "img.qcow2");
    assertThat(((Map<?, ?>) missing.get("error")).get("desc"))
        .isEqualTo("Could not open 'missing.qcow2': No such file or directory");
    assertThat(info.exitCode()).isZero();
    assertThat(info.lines()).contains("    \"virtual-size\": 67108864,",
        "    \"filename\": \"img.qcow2\",");
    assertThat(check.exitCode()).isNotZero();
    assertThat(check.lines()).anyMatch(l -> l.contains("Could not open 'missing.qcow2'"));
    assertThat(String.join("\n", logLines)).doesNotContain(scratch.toString());
  }

  @Test
  void aProcessCrashLosesTheGraphButKeepsWrittenData() throws Exception {
    addQcow2("img.qcow2", "drive0");
    ok(backend.qmp("block-dirty-bitmap-add", args("node", "drive0", "name", "b")));
    backend.io("drive0", "write -P0x5a 0 64k");
    int eventsBefore = backend.events().size();

    backend.crashProcess();

    assertThat((List<?>) backend.qmp("query-named-block-nodes", null).get("return")).isEmpty();
    addQcow2("img.qcow2", "drive0");
    assertThat(backend.io("drive0", "read -P0x5a 0 64k").error()).isNull();
    assertThat(bitmapsOf("drive0")).isEmpty();
    assertThat(backend.events().size()).isGreaterThanOrEqualTo(eventsBefore);
    assertThatThrownBy(backend::crashPower).hasMessage("crash: power is sim-only");
  }

  @Test
  void imagesWithBackingFilesAreCreatedAsQemuImgWould() throws Exception {
    backend.createImage(new ImageSpec("base.qcow2", "qcow2", DISK_BYTES, null, null, 4096L,
        Map.of("lazy-refcounts", true)));
    backend.createImage(new ImageSpec("top.qcow2", "qcow2", DISK_BYTES, "base.qcow2", null,
        null, Map.of()));
    // A scenario's size is required and always given: an explicit 0 over a backing file is a
    // 0-byte image (qemu-img create takes the backing file's size only when no size is given).
    backend.createImage(new ImageSpec("empty.qcow2", "qcow2", 0, "base.qcow2", null, null,
        Map.of()));

    ImgOutcome info = backend.img("info top.qcow2");

    assertThat(info.lines()).contains("backing file: base.qcow2", "backing file format: qcow2",
        "virtual size: 64 MiB (67108864 bytes)");
    assertThat(backend.img("info empty.qcow2").lines()).contains("backing file: base.qcow2",
        "virtual size: 0 B (0 bytes)");
    assertThat(backend.img("info base.qcow2").lines()).contains("cluster_size: 4096",
        "    lazy refcounts: true");
  }

  @Test
  void aSegfaultOfTheDaemonIsReportedAsAQemuCrash() throws Exception {
    // Known QEMU 7.2 bug: query-named-block-nodes after a concluded block-stream job with
    // auto-dismiss false dereferences the removed backing node.
    backend.createImage(new ImageSpec("base.qcow2", "qcow2", DISK_BYTES, null, null, null,
        Map.of()));
    backend.createImage(new ImageSpec("top.qcow2", "qcow2", DISK_BYTES, "base.qcow2", "qcow2",
        null, Map.of()));
    ok(backend.qmp("blockdev-add", args("node-name", "top", "driver", "qcow2",
        "file", args("driver", "file", "filename", "top.qcow2"))));
    ok(backend.qmp("block-stream", args("job-id", "s1", "device", "top",
        "auto-dismiss", false)));
    assertThat(backend.runUntil(
        () -> statusesOf(backend.events(), "s1").contains("concluded"), 20_000_000_000L))
        .isTrue();

    assertThatThrownBy(() -> backend.qmp("query-named-block-nodes", null))
        .isInstanceOf(StepException.class)
        .hasMessageStartingWith("QEMU crashed (signal 11) during 'query-named-block-nodes'")
        .hasMessageContaining("daemon log");
    assertThatThrownBy(() -> backend.io("top", "read 0 512"))
        .hasMessageStartingWith("QEMU crashed (signal 11) during '");
  }

  @Test
  void closeDeletesTheScratchDirectoryUnlessAskedToKeepIt() throws Exception {
    addQcow2("img.qcow2", "drive0");
    backend.close();
    backend = null;
    assertThat(scratch).doesNotExist();

    Path kept = tempDir.resolve("kept");
    QemuBackend keeping = new QemuBackend(kept, true, logLines::add);
    keeping.createImage(new ImageSpec("a.raw", "raw", MIB, null, null, null, Map.of()));
    Path log = keeping.daemonLog();
    keeping.close();

    assertThat(kept.resolve("a.raw")).hasSize(MIB);
    assertThat(log).exists();
    deleteRecursively(log.getParent());
  }

  @Test
  void measuresADaemonStartTenCommandsAndThreeIoSteps() throws Exception {
    backend.close();
    backend = null;
    long start = System.nanoTime();
    long[] marks = new long[4];
    try (QemuBackend timed = new QemuBackend(tempDir.resolve("timed"), false, line -> { })) {
      marks[0] = System.nanoTime();
      timed.createImage(new ImageSpec("img.qcow2", "qcow2", DISK_BYTES, null, null, null,
          Map.of()));
      marks[1] = System.nanoTime();
      ok(timed.qmp("blockdev-add", args("node-name", "drive0", "driver", "qcow2",
          "file", args("driver", "file", "filename", "img.qcow2"))));
      for (int i = 0; i < 8; i++) {
        ok(timed.qmp("block-dirty-bitmap-add", args("node", "drive0", "name", "b" + i)));
      }
      ok(timed.qmp("query-named-block-nodes", null));
      marks[2] = System.nanoTime();
      for (String command : List.of("write -P1 0 64k", "read -P1 0 64k", "flush")) {
        assertThat(timed.io("drive0", command).error()).isNull();
      }
      marks[3] = System.nanoTime();
    }
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;
    System.out.printf("QemuBackend timing: daemon start %d ms, qemu-img create %d ms,"
        + " 10 QMP commands %d ms, 3 io steps %d ms, total with quit %d ms%n",
        (marks[0] - start) / 1_000_000, (marks[1] - marks[0]) / 1_000_000,
        (marks[2] - marks[1]) / 1_000_000, (marks[3] - marks[2]) / 1_000_000, elapsedMs);
    assertThat(elapsedMs).isLessThan(30_000);
  }

  private static void signal(String name, long pid) throws Exception {
    Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).start();
    assertThat(kill.waitFor()).isZero();
  }

  private void addQcow2(String file, String node) throws StepException {
    if (!Files.exists(scratch.resolve(file))) {
      backend.createImage(new ImageSpec(file, "qcow2", DISK_BYTES, null, null, null, Map.of()));
    }
    ok(backend.qmp("blockdev-add", args("node-name", node, "driver", "qcow2",
        "file", args("driver", "file", "filename", file))));
  }

  private String sha256Of(String node, String bitmap) throws StepException {
    Map<String, Object> reply =
        backend.qmp("x-debug-block-dirty-bitmap-sha256", args("node", node, "name", bitmap));
    return (String) ((Map<?, ?>) ok(reply)).get("sha256");
  }

  @SuppressWarnings("unchecked")
  private List<Map<String, Object>> bitmapsOf(String node) throws StepException {
    Map<String, Object> reply = backend.qmp("query-named-block-nodes", null);
    // QEMU omits the member when the node has no bitmap.
    return (List<Map<String, Object>>) nodeNamed(reply, node).getOrDefault("dirty-bitmaps",
        List.of());
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> nodeNamed(Map<String, Object> reply, String node) {
    for (Object item : (List<?>) ok(reply)) {
      Map<String, Object> info = (Map<String, Object>) item;
      if (node.equals(info.get("node-name"))) {
        return info;
      }
    }
    throw new AssertionError("no node " + node + " in " + reply);
  }

  private static Object ok(Map<String, Object> reply) {
    assertThat(reply).containsKey("return");
    return reply.get("return");
  }

  private static List<String> statusesOf(List<QmpEvent> events, String job) {
    List<String> statuses = new ArrayList<>();
    for (QmpEvent event : events) {
      if (event.event().equals("JOB_STATUS_CHANGE") && job.equals(event.data().get("id"))) {
        statuses.add((String) event.data().get("status"));
      }
    }
    return statuses;
  }

  private static Map<String, Object> args(Object... keysAndValues) {
    Map<String, Object> map = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      map.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return map;
  }

  /** The SHA-256 of a 64 MiB disk whose first {@code length} bytes hold {@code pattern}. */
  private static String sha256OfDiskStartingWith(byte pattern, int length) throws Exception {
    MessageDigest digest = MessageDigest.getInstance("SHA-256");
    byte[] data = new byte[(int) MIB];
    Arrays.fill(data, 0, length, pattern);
    digest.update(data);
    byte[] zeros = new byte[(int) MIB];
    for (long done = MIB; done < DISK_BYTES; done += MIB) {
      digest.update(zeros);
    }
    return HexFormat.of().formatHex(digest.digest());
  }

  private static void deleteRecursively(Path root) throws Exception {
    try (var walk = Files.walk(root)) {
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
