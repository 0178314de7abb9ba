package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * blockdev-create for qcow2 through a recording writer (the qcow2 engine is a separate module):
 * the options reach the writer, and qcow2_co_create's checks fail the job, not the command.
 */
class Qcow2CreatorTest {
  private final World world = new World();
  private final List<String> written = new ArrayList<>();

  Qcow2CreatorTest() {
    world.engine.jobs().registerFormatCreator("qcow2", new Qcow2Creator(world.engine.layer(),
        (file, dataFile, size, o) ->
            written.add(size + "/" + o.clusterSizeBytes() + "/v" + o.version() + "/"
                + o.backingFile() + "/" + o.refcountBits()
                + (dataFile == null ? "" : "/data=" + o.dataFile() + "/raw=" + o.dataFileRaw()))));
  }

  private void createFileNode() {
    world.qmp("blockdev-create", "job-id", "bdc-file-job", "options",
        Json.object("driver", "file", "filename", "img", "size", 0));
    world.scheduler.runUntilIdle();
    world.qmp("job-dismiss", "id", "bdc-file-job");
    world.qmp("blockdev-add", "driver", "file", "node-name", "file_img", "filename", "img");
  }

  @Test
  void createsThroughTheWriter() {
    createFileNode();
    world.qmp("blockdev-create", "job-id", "bdc-fmt-job", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864));
    world.scheduler.runUntilIdle();
    assertThat(written).containsExactly("67108864/65536/v3/null/16");
    assertThat(world.jobEvents()).endsWith("bdc-fmt-job created", "bdc-fmt-job running",
        "bdc-fmt-job waiting", "bdc-fmt-job pending", "bdc-fmt-job concluded");
  }

  @Test
  void dataFileNodeIsPassedWithItsFilename() {
    createFileNode();
    world.qmp("blockdev-create", "job-id", "bdc-data-job", "options",
        Json.object("driver", "file", "filename", "data.raw", "size", 0));
    world.scheduler.runUntilIdle();
    world.qmp("job-dismiss", "id", "bdc-data-job");
    world.qmp("blockdev-add", "driver", "file", "node-name", "file_data", "filename",
        "data.raw");
    world.qmp("blockdev-create", "job-id", "bdc-fmt-job", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864, "data-file",
            "file_data", "data-file-raw", true));
    world.scheduler.runUntilIdle();
    assertThat(written).containsExactly("67108864/65536/v3/null/16/data=data.raw/raw=true");
  }

  @Test
  void lazyRefcountsAndExtendedL2AreRefusedAsNotModelledAfterQemusChecks() {
    createFileNode();
    world.qmp("blockdev-create", "job-id", "lazy", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864,
            "lazy-refcounts", true));
    world.qmp("blockdev-create", "job-id", "l2", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864,
            "extended-l2", true));
    world.qmp("blockdev-create", "job-id", "lazy-v2", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864,
            "version", "v2", "lazy-refcounts", true));
    world.qmp("blockdev-create", "job-id", "defaults", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864,
            "lazy-refcounts", false, "extended-l2", false));
    world.scheduler.runUntilIdle();
    assertThat(written).containsExactly("67108864/65536/v3/null/16");
    assertThat(jobError("lazy")).isEqualTo(
        "Parameter 'options.lazy-refcounts' is not modelled by blocksim");
    assertThat(jobError("l2")).isEqualTo(
        "Parameter 'options.extended-l2' is not modelled by blocksim");
    assertThat(jobError("lazy-v2")).isEqualTo("Lazy refcounts only supported with "
        + "compatibility level 1.1 and above (use version=v3 or greater)");
    assertThat(jobError("defaults")).isNull();
  }

  @SuppressWarnings("unchecked")
  private String jobError(String id) {
    for (Map<String, Object> job : (List<Map<String, Object>>) world.qmp("query-jobs")) {
      if (job.get("id").equals(id)) {
        return (String) job.get("error");
      }
    }
    throw new AssertionError("no job " + id);
  }

  @Test
  void dataFileRawWithoutDataFileFailsTheJob() {
    createFileNode();
    world.qmp("blockdev-create", "job-id", "bdc-fmt-job", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864, "data-file-raw",
            true));
    world.scheduler.runUntilIdle();
    assertThat(written).isEmpty();
    @SuppressWarnings("unchecked")
    Map<String, Object> job = ((List<Map<String, Object>>) world.qmp("query-jobs")).get(0);
    assertThat(job).containsEntry("error", "data-file-raw requires data-file");
  }

  @Test
  void invalidClusterSizeFailsTheJob() {
    createFileNode();
    world.qmp("blockdev-create", "job-id", "bdc-fmt-job", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 67108864, "cluster-size",
            1000));
    world.scheduler.runUntilIdle();
    assertThat(written).isEmpty();
    assertThat(world.jobEvents()).endsWith("bdc-fmt-job running", "bdc-fmt-job aborting",
        "bdc-fmt-job concluded");
    @SuppressWarnings("unchecked")
    Map<String, Object> job = ((List<Map<String, Object>>) world.qmp("query-jobs")).get(0);
    assertThat(job).containsEntry("error",
        "Cluster size must be a power of two between 512 and 2048k");
  }

  @Test
  void unknownOptionFailsTheCommand() {
    createFileNode();
    assertThat(world.qmpError("blockdev-create", "job-id", "j", "options",
        Json.object("driver", "qcow2", "file", "file_img", "size", 1, "bogus", 1)))
        .isEqualTo("Parameter 'options.bogus' is unexpected");
  }
}
