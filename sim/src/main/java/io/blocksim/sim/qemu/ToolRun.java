package io.blocksim.sim.qemu;

import io.blocksim.sim.files.Cleanup;
import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One run of a short-lived tool (qemu-img, qemu-io, nbdcopy) with a time limit. Output goes to a
 * file rather than a pipe, so no thread is needed to drain it and the tool can never block on a
 * full pipe; standard error is merged in the order the tool wrote it.
 *
 * @param lines the merged output, split into lines
 * @param exitCode the tool's exit status
 */
record ToolRun(List<String> lines, int exitCode) {

  /**
   * Runs the command in {@code workDir}; {@code stdout} receives standard output if given (for
   * binary output), otherwise output and errors share {@code outputFile}.
   */
  static ToolRun run(List<String> command, Path workDir, Path outputFile, Path stdout,
      long timeoutNs) throws IOException, ToolTimeoutException {
    ProcessBuilder builder = new ProcessBuilder(command)
        .directory(workDir.toFile())
        .redirectInput(Redirect.from(Path.of("/dev/null").toFile()));
    if (stdout == null) {
      builder.redirectErrorStream(true).redirectOutput(outputFile.toFile());
    } else {
      builder.redirectOutput(stdout.toFile()).redirectError(outputFile.toFile());
    }
    Process process = builder.start();
    try (Cleanup.Handle cleanup = Cleanup.register(() -> Cleanup.killTree(process))) {
      if (!process.waitFor(timeoutNs, TimeUnit.NANOSECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
        throw new ToolTimeoutException(Path.of(command.get(0)).getFileName()
            + " did not finish within " + timeoutNs / 1_000_000_000L + " s");
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while waiting for " + command.get(0), e);
    }
    String text = Files.readString(outputFile, StandardCharsets.UTF_8);
    Files.deleteIfExists(outputFile);
    return new ToolRun(splitLines(text), process.exitValue());
  }

  /** Returns the lines of the text; a final line break does not start an empty line. */
  static List<String> splitLines(String text) {
    List<String> lines = new ArrayList<>();
    if (text.isEmpty()) {
      return lines;
    }
    for (String line : text.split("\n", -1)) {
      lines.add(line);
    }
    if (text.endsWith("\n")) {
      lines.remove(lines.size() - 1);
    }
    return lines;
  }

  /** The tool ran past its time limit and was killed. */
  static final class ToolTimeoutException extends Exception {
    ToolTimeoutException(String message) {
      super(message);
    }
  }
}
