package io.blocksim.sim.report;

import io.blocksim.sim.files.OutputFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a report file whole, through {@link OutputFiles}, so a reader (a browser, CI uploading
 * the folder) never sees half a page. An unchanged file is left alone, so a rebuilt report does
 * not touch what it did not change.
 */
final class AtomicFiles {
  private AtomicFiles() {}

  static void write(Path file, String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    if (Files.isRegularFile(file) && java.util.Arrays.equals(Files.readAllBytes(file), bytes)) {
      return;
    }
    OutputFiles.write(file, text);
  }
}
