package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.file.FileDriver;
import io.blocksim.model.driver.qcow2.Qcow2CreateOptions;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.Json;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * blockdev-add of qcow2 images with an external data file, as qcow2_do_open opens the
 * {@code data-file} child: given as a node reference or a dict, or, when absent, the file the
 * header names (a file node with a generated name); refused on images without a data file.
 */
class Qcow2DataFileDriverTest {
  private static final long MIB = 1024 * 1024;
  private final ChainWorld world = new ChainWorld();

  private void createDataFileImage(boolean raw) throws HostIoException {
    HostFile data = world.storage.create("d.raw");
    Qcow2Image.create(world.storage.create("x.qcow2"), data, 16 * MIB,
        Qcow2CreateOptions.defaults().withDataFile("d.raw", raw));
  }

  private byte[] fileBytes(String path, long offset, int length) throws HostIoException {
    byte[] buf = new byte[length];
    world.storage.open(path).read(offset, buf, 0, length);
    return buf;
  }

  @Test
  void withoutDataFileOptionTheHeaderNamedFileIsOpened() throws Exception {
    createDataFileImage(true);
    world.qmp("blockdev-add", "node-name", "drive0", "driver", "qcow2", "file",
        Json.object("driver", "file", "filename", "x.qcow2"));
    BlockNode drive = world.node("drive0");
    BlockNode data = drive.child(Qcow2Driver.DATA_FILE);
    assertThat(data).isNotNull();
    assertThat(((FileDriver) data.driver()).filename()).isEqualTo("d.raw");

    world.write("drive0", 3 * MIB, 64 * 1024, 0x5a);
    byte[] expected = new byte[64 * 1024];
    Arrays.fill(expected, (byte) 0x5a);
    assertThat(fileBytes("d.raw", 3 * MIB, expected.length)).isEqualTo(expected);
    assertThat(world.read("drive0", 3 * MIB, expected.length)).isEqualTo(expected);
  }

  @Test
  void queryNamedBlockNodesShowsTheDataFile() throws Exception {
    createDataFileImage(false);
    world.qmp("blockdev-add", "node-name", "data0", "driver", "file", "filename", "d.raw");
    world.qmp("blockdev-add", "node-name", "drive0", "driver", "qcow2", "data-file", "data0",
        "file", Json.object("driver", "file", "filename", "x.qcow2"));
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> nodes =
        (List<Map<String, Object>>) world.qmp("query-named-block-nodes");
    Map<String, Object> drive = nodes.stream()
        .filter(n -> n.get("node-name").equals("drive0")).findFirst().orElseThrow();
    @SuppressWarnings("unchecked")
    Map<String, Object> image = (Map<String, Object>) drive.get("image");
    @SuppressWarnings("unchecked")
    Map<String, Object> data = (Map<String, Object>)
        ((Map<String, Object>) image.get("format-specific")).get("data");
    assertThat(data).containsEntry("data-file", "d.raw").containsEntry("data-file-raw", false);
    assertThat(world.node("drive0").child(Qcow2Driver.DATA_FILE))
        .isSameAs(world.node("data0"));
  }

  @Test
  void aDataFileOptionOnAPlainImageIsRefusedAndLeavesNoNode() throws Exception {
    world.qcow2("plain.qcow2", 16 * MIB, null);
    String error = world.qmpError("blockdev-add", "node-name", "drive0", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "plain.qcow2"),
        "data-file", Json.object("driver", "file", "filename", "plain.qcow2"));
    assertThat(error).isEqualTo(
        "'data-file' can only be set for images with an external data file");
    assertThat(world.engine.graph().all()).isEmpty();
  }

  @Test
  void theRawBitWithoutADataFileIsRefused() throws Exception {
    world.qcow2("plain.qcow2", 16 * MIB, null);
    // Autoclear bit 1 (data-file-raw) on an image without the incompatible data file bit.
    world.storage.open("plain.qcow2").write(95, new byte[] {2}, 0, 1);
    String error = world.qmpError("blockdev-add", "node-name", "drive0", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "plain.qcow2"));
    assertThat(error).isEqualTo("data-file-raw requires a data file");
  }

  @Test
  void aMissingHeaderNamedDataFileFailsTheOpen() throws Exception {
    Qcow2Image.create(world.storage.create("x.qcow2"), world.storage.create("elsewhere.raw"),
        16 * MIB, Qcow2CreateOptions.defaults().withDataFile("gone.raw", true));
    String error = world.qmpError("blockdev-add", "node-name", "drive0", "driver", "qcow2",
        "file", Json.object("driver", "file", "filename", "x.qcow2"));
    assertThat(error).contains("gone.raw");
    assertThat(world.engine.graph().all()).isEmpty();
  }
}
