package io.blocksim.model.driver.qcow2;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the real QEMU 7.2 tools (qemu-img, qemu-io) for interop tests. */
final class QemuTools {
  private QemuTools() {}

  /** The exit code and combined output of one run. */
  record Result(int exitCode, String output) {}

  static boolean available() {
    try {
      return run(List.of("qemu-img", "--version")).exitCode() == 0
          && run(List.of("qemu-io", "--version")).exitCode() == 0;
    } catch (IOException e) {
      return false;
    }
  }

  static Result run(List<String> command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    byte[] out = p.getInputStream().readAllBytes();
    try {
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("timeout: " + command);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  /** Runs a command and returns only its standard error (where --trace output goes). */
  static Result runForStderr(List<String> command) throws IOException {
    Process p = new ProcessBuilder(command)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    byte[] err = p.getErrorStream().readAllBytes();
    try {
      if (!p.waitFor(120, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("timeout: " + command);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    return new Result(p.exitValue(), new String(err, StandardCharsets.UTF_8));
  }

  static Result qemuImg(String... args) throws IOException {
    List<String> c = new ArrayList<>();
    c.add("qemu-img");
    c.addAll(List.of(args));
    return run(c);
  }

  /** Runs qemu-io on a qcow2 image with one -c per command. */
  static Result qemuIo(Path image, String... commands) throws IOException {
    List<String> c = new ArrayList<>(List.of("qemu-io", "-f", "qcow2"));
    for (String cmd : commands) {
      c.add("-c");
      c.add(cmd);
    }
    c.add(image.toString());
    return run(c);
  }

  /** Runs qemu-img check and returns its JSON output. */
  static Result check(Path image) throws IOException {
    return qemuImg("check", "-f", "qcow2", "--output=json", image.toString());
  }
}
