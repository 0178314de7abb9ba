package io.blocksim.sim.sweep;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs the real QEMU tools on files of a test's temporary directory. */
final class QemuTools {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private QemuTools() {}

  record Run(int exitCode, String output) {}

  static Run run(Path dir, String... command) throws IOException, InterruptedException {
    ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile())
        .redirectErrorStream(true);
    Process process = builder.start();
    String output;
    try (InputStream in = process.getInputStream()) {
      output = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new IOException(String.join(" ", command) + " did not finish");
    }
    return new Run(process.exitValue(), output);
  }

  static Run runOrFail(Path dir, String... command) throws IOException, InterruptedException {
    Run run = run(dir, command);
    if (run.exitCode() != 0) {
      throw new IOException(String.join(" ", command) + " exited with " + run.exitCode() + ": "
          + run.output());
    }
    return run;
  }

  static boolean isQcow2(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] magic = in.readNBytes(4);
      return magic.length == 4 && magic[0] == 'Q' && magic[1] == 'F' && magic[2] == 'I'
          && magic[3] == (byte) 0xfb;
    }
  }

  /** Returns the bitmaps real {@code qemu-img info} lists: name, flags, granularity. */
  @SuppressWarnings("unchecked")
  static List<Object> bitmapsOf(Path image) throws IOException, InterruptedException {
    Run run = runOrFail(image.getParent(), "qemu-img", "info", "-U", "--output=json",
        image.getFileName().toString());
    Map<String, Object> info = MAPPER.readValue(run.output(), Map.class);
    Map<String, Object> specific = (Map<String, Object>) info.get("format-specific");
    Map<String, Object> data = (Map<String, Object>) specific.get("data");
    Object bitmaps = data.get("bitmaps");
    return bitmaps == null ? List.of() : new ArrayList<>((List<Object>) bitmaps);
  }
}
