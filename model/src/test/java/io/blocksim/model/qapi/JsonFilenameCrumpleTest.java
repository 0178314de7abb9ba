package io.blocksim.model.qapi;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Goal: a json: name QEMU wrote for a qcow2 node over blkdebug (nested objects mixed with the
 * dotted keys of a list) reads as the options blockdev-add would take. Method: the string
 * QEMU 7.2 wrote into an overlay's header after a commit into such a base, crumpled, compared
 * member by member.
 */
class JsonFilenameCrumpleTest {
  @Test
  void dottedListKeysBecomeAListOfObjects() {
    String name = "json:{\"driver\": \"qcow2\", \"file\": {\"inject-error.0.once\": true, "
        + "\"image\": {\"driver\": \"file\", \"filename\": \"base.qcow2\"}, \"driver\": "
        + "\"blkdebug\", \"inject-error.0.errno\": 5, \"inject-error.0.event\": \"flush_to_os\"}}";
    Map<String, Object> options = JsonFilename.crumpled(JsonFilename.options(name));
    assertThat(options.get("driver")).isEqualTo("qcow2");
    @SuppressWarnings("unchecked")
    Map<String, Object> file = (Map<String, Object>) options.get("file");
    assertThat(file.get("driver")).isEqualTo("blkdebug");
    assertThat(file.get("image")).isEqualTo(Map.of("driver", "file", "filename", "base.qcow2"));
    assertThat(file.get("inject-error")).isEqualTo(
        List.of(Map.of("once", true, "errno", 5L, "event", "flush_to_os")));
  }
}
