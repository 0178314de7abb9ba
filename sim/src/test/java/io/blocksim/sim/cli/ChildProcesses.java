package io.blocksim.sim.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs blocksim's entry point as a child JVM, for what a test cannot do in-process. */
final class ChildProcesses {
  private static final Path JAVA = Path.of(System.getProperty("java.home"), "bin", "java");

  /** The repository root: the tests run in sim/. */
  static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  private ChildProcesses() {}

  /** Starts blocksim in {@code cwd} with {@code tmp} as its temporary folder; output to a file. */
  static Process start(Path cwd, Path tmp, Path output, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of(JAVA.toString(), "-XX:+UseSerialGC",
        "-Xss8m", "-Djava.io.tmpdir=" + tmp, "-cp", System.getProperty("java.class.path"),
        Main.class.getName()));
    command.addAll(List.of(args));
    return new ProcessBuilder(command).directory(cwd.toFile()).redirectErrorStream(true)
        .redirectOutput(output.toFile()).start();
  }

  /** Runs blocksim to the end (at most two minutes); returns exit code and output. */
  static Result run(Path cwd, Path tmp, String... args) throws Exception {
    Path output = Files.createTempFile(tmp, "out", ".txt");
    Process process = start(cwd, tmp, output, args);
    if (!process.waitFor(2, TimeUnit.MINUTES)) {
      process.destroyForcibly();
      throw new AssertionError("blocksim " + String.join(" ", args) + " did not end");
    }
    String text = Files.readString(output, StandardCharsets.UTF_8);
    Files.delete(output);
    return new Result(process.exitValue(), text);
  }

  record Result(int code, String output) {}
}
