package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.driver.qcow2.Qcow2CreateOptions;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Every QAPI option of QEMU 7.2 that blocksim does not model (blockdev-add per driver, the NBD
 * server and exports, blockdev-create, backup's x-perf) is refused with its name when given a
 * value whose behaviour differs from blocksim's, and accepted with QEMU's default: no option is
 * read and dropped (issue 11). Where QEMU itself refuses the combination, QEMU's text wins.
 */
class UnmodelledOptionsTest {
  private final World world = new World();

  UnmodelledOptionsTest() throws HostIoException {
    world.image("r.raw", 1 << 20);
    Qcow2Image.create(world.storage.create("a.qcow2"), 1 << 20, Qcow2CreateOptions.defaults());
  }

  private static Map<String, Object> file(Object... extra) {
    Map<String, Object> file = Json.object("driver", "file", "filename", "r.raw");
    file.putAll(Json.object(extra));
    return file;
  }

  private static Map<String, Object> qcow2(Object... extra) {
    Map<String, Object> node = Json.object("node-name", "n", "driver", "qcow2", "file",
        Json.object("driver", "file", "filename", "a.qcow2"));
    node.putAll(Json.object(extra));
    return node;
  }

  private static Map<String, Object> node(String driver, Object... extra) {
    Map<String, Object> node = Json.object("node-name", "n", "driver", driver);
    node.putAll(Json.object(extra));
    return node;
  }

  /** Returns blockdev-add's error text, or "ok" (the node is then deleted again). */
  private String add(Map<String, Object> args) {
    Map<String, Object> reply = world.engine.execute("blockdev-add", args);
    if (reply.containsKey("return")) {
      world.qmp("blockdev-del", "node-name", args.get("node-name"));
      return "ok";
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> error = (Map<String, Object>) reply.get("error");
    return (String) error.get("desc");
  }

  private static String refused(String name) {
    return "Parameter '" + name + "' is not modelled by blocksim";
  }

  @Test
  void blockdevAddRefusesEveryUnmodelledOptionByName() {
    List<String> wrong = new ArrayList<>();
    Object[][] cases = {
        // BlockdevOptionsBase
        {qcow2("auto-read-only", true), refused("auto-read-only")},
        {qcow2("read-only", true, "force-share", true), refused("force-share")},
        {qcow2("detect-zeroes", "on"), refused("detect-zeroes")},
        {qcow2("detect-zeroes", "unmap"), refused("detect-zeroes")},
        {qcow2("cache", Json.object("direct", true)), refused("cache.direct")},
        {qcow2("cache", Json.object("no-flush", true)), refused("cache.no-flush")},
        // file (BlockdevOptionsFile)
        {node("raw", "file", file("aio", "io_uring")), refused("file.aio")},
        {node("raw", "file", file("pr-manager", "pr0")), refused("file.pr-manager")},
        {node("raw", "file", file("drop-cache", false)), refused("file.drop-cache")},
        {node("raw", "file", file("x-check-cache-dropped", true)),
            refused("file.x-check-cache-dropped")},
        {node("raw", "file", file("aio-max-batch", 8)), refused("file.aio-max-batch")},
        // raw
        {node("raw", "file", file(), "offset", 512), refused("offset")},
        {node("raw", "file", file(), "size", 65536), refused("size")},
        // qcow2
        {qcow2("lazy-refcounts", false), refused("lazy-refcounts")},
        {qcow2("pass-discard-request", true), refused("pass-discard-request")},
        {qcow2("pass-discard-snapshot", false), refused("pass-discard-snapshot")},
        {qcow2("pass-discard-other", true), refused("pass-discard-other")},
        {qcow2("cache-clean-interval", 0), refused("cache-clean-interval")},
        {qcow2("overlap-check", "none"), refused("overlap-check")},
        {qcow2("cache-size", 1048576), refused("cache-size")},
        {qcow2("l2-cache-entry-size", 4096), refused("l2-cache-entry-size")},
        {qcow2("encrypt", Json.object("format", "aes")), refused("encrypt")},
        // null-co
        {node("null-co", "read-zeroes", true), refused("read-zeroes")},
        {node("null-co", "latency-ns", 5), refused("latency-ns")},
        // blkdebug
        {node("blkdebug", "image", file(), "config", "x.conf"), refused("config")},
        {node("blkdebug", "image", file(), "align", 4096), refused("align")},
        {node("blkdebug", "image", file(), "max-transfer", 65536), refused("max-transfer")},
        {node("blkdebug", "image", file(), "opt-write-zero", 4096), refused("opt-write-zero")},
        {node("blkdebug", "image", file(), "max-write-zero", 4096), refused("max-write-zero")},
        {node("blkdebug", "image", file(), "opt-discard", 4096), refused("opt-discard")},
        {node("blkdebug", "image", file(), "max-discard", 4096), refused("max-discard")},
        {node("blkdebug", "image", file(), "take-child-perms", List.of("write")),
            refused("take-child-perms")},
        {node("blkdebug", "image", file(), "unshare-child-perms", List.of("write")),
            refused("unshare-child-perms")},
        // QEMU's own refusals come first (checked on qemu-storage-daemon 7.2)
        {qcow2("force-share", true), "force-share=on can only be used with read-only images"},
        {node("raw", "file", file("aio", "native")),
            "aio=native was specified, but it requires cache.direct=on, which was not"
                + " specified."},
        // QEMU's defaults, and values that behave as blocksim does, are accepted
        {qcow2("auto-read-only", false, "force-share", false, "detect-zeroes", "off",
            "cache", Json.object("direct", false, "no-flush", false)), "ok"},
        {qcow2("read-only", true, "force-share", false), "ok"},
        {node("raw", "file", file("aio", "threads", "locking", "auto", "drop-cache", true,
            "x-check-cache-dropped", false, "aio-max-batch", 0), "offset", 0), "ok"},
        {node("raw", "file", file("locking", "on")), "ok"},
        {node("raw", "file", file("locking", "off")), "ok"},
        {qcow2("pass-discard-snapshot", true, "pass-discard-other", false,
            "cache-clean-interval", 600, "l2-cache-size", 262144,
            "refcount-cache-size", 65536), "ok"},
        {node("null-co", "read-zeroes", false, "latency-ns", 0), "ok"},
    };
    for (Object[] c : cases) {
      @SuppressWarnings("unchecked")
      Map<String, Object> args = (Map<String, Object>) c[0];
      String got = add(args);
      if (!got.equals(c[1])) {
        wrong.add(args + ": " + got + " (expected " + c[1] + ")");
      }
    }
    assertThat(wrong).isEmpty();
  }

  @Test
  void nbdServerAndExportsRefuseWhatTheyDoNotModel() {
    Map<String, Object> addr = Json.object("type", "unix", "data",
        Json.object("path", "nbd.sock"));
    assertThat(world.qmpError("nbd-server-start", "addr", addr, "tls-creds", "tls0"))
        .isEqualTo(refused("tls-creds"));
    assertThat(world.qmpError("nbd-server-start", "addr", addr, "tls-authz", "authz0"))
        .isEqualTo(refused("tls-authz"));
    world.qmp("nbd-server-start", "addr", addr, "max-connections", 1);
    world.qmp("blockdev-add", "node-name", "n", "driver", "raw", "file", file());
    assertThat(world.qmpError("block-export-add", "type", "nbd", "id", "e", "node-name", "n",
        "iothread", "io0")).isEqualTo(refused("iothread"));
    assertThat(world.qmpError("block-export-add", "type", "nbd", "id", "e", "node-name", "n",
        "writethrough", true)).isEqualTo(refused("writethrough"));
    assertThat(world.qmpError("block-export-add", "type", "nbd", "id", "e", "node-name", "n",
        "description", "a disk")).isEqualTo(refused("description"));
    world.qmp("block-export-add", "type", "nbd", "id", "e", "node-name", "n",
        "writethrough", false, "fixed-iothread", true);
    world.qmp("block-export-del", "id", "e", "mode", "hard");
    assertThat(world.qmp("query-block-exports")).isEqualTo(List.of());
  }

  @Test
  void blockdevCreateOfAFileRefusesWhatItDoesNotModel() {
    for (Object[] c : new Object[][] {{"preallocation", "full"}, {"nocow", true},
        {"extent-size-hint", 0}}) {
      assertThat(world.qmpError("blockdev-create", "job-id", "c", "options",
          Json.object("driver", "file", "filename", "new.raw", "size", 65536, c[0], c[1])))
          .as("%s", c[0]).isEqualTo(refused("options." + c[0]));
    }
    world.qmp("blockdev-create", "job-id", "c", "options", Json.object("driver", "file",
        "filename", "new.raw", "size", 65536, "preallocation", "off", "nocow", false,
        "extent-size-hint", 1 << 20));
  }
}
