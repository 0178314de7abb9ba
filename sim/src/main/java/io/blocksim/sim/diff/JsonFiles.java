package io.blocksim.sim.diff;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Reads a recorded observations object back as plain Java values. */
final class JsonFiles {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private JsonFiles() {}

  @SuppressWarnings("unchecked")
  static Map<String, Object> readObject(Path file) throws IOException {
    return MAPPER.readValue(file.toFile(), LinkedHashMap.class);
  }
}
