package io.blocksim.sim.tlc;

import io.blocksim.sim.files.Cleanup;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One TLC run in a child JVM.
 *
 * <p>Why a process: TLC keeps global static state (the interned-name table, whose entries carry
 * the positions of variables and definitions, plus {@code TLCGlobals}, model values and output
 * state) and never resets it; measured here, JobLifecycle after Checkpoints in one JVM found 571
 * distinct states instead of 2010. Loading TLC in a class loader of its own per run fixed that,
 * but the runs did not all go away: a mutated engine whose traces TLC rejected left one loader
 * per run reachable (its worker and state-pool threads, RMI's tables), filled a 6 GB heap after
 * a few dozen runs, and the test JVM then spent its time in full collections. A child JVM starts
 * with clean statics and gives all its memory back when it exits; the price is the JVM start.
 */
final class TlcProcess {
  private static final Path TLC_JAR = jarOf(tlc2.TLC.class);
  private static final Path JAVA = Path.of(System.getProperty("java.home"), "bin", "java");

  /** TLC's exit status when it rejects its command line (tlc2.TLC.main). */
  private static final int TLC_BAD_ARGUMENTS = 1;

  private TlcProcess() {}

  /**
   * Runs TLC with {@code args}, module search path {@code paths} and {@code tmpDir} as its
   * {@code java.io.tmpdir}; copies its output to {@code out} and returns its exit status, or
   * {@link TlcRunner#EXIT_BAD_ARGUMENTS} when TLC rejects the arguments.
   */
  static int run(List<Path> paths, List<String> args, Path tmpDir, PrintStream out) {
    List<String> command = new ArrayList<>(List.of(
        JAVA.toString(), "-XX:+UseParallelGC", "-Xss8m",
        "-Djava.io.tmpdir=" + tmpDir.toAbsolutePath(),
        "-DTLA-Library=" + String.join(File.pathSeparator,
            paths.stream().map(p -> p.toAbsolutePath().toString()).toList()),
        "-cp", TLC_JAR.toString(), "tlc2.TLC"));
    command.addAll(args);
    Process process;
    try {
      process = new ProcessBuilder(command).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot start TLC: " + String.join(" ", command), e);
    }
    // Ctrl-C or SIGTERM of blocksim check: the TLC JVM goes too, not left running orphaned.
    try (InputStream output = process.getInputStream();
        Cleanup.Handle child = Cleanup.register(() -> Cleanup.killTree(process))) {
      output.transferTo(out);
      int status = waitFor(process);
      return status == TLC_BAD_ARGUMENTS ? TlcRunner.EXIT_BAD_ARGUMENTS : status;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read TLC's output", e);
    } finally {
      process.destroyForcibly();
    }
  }

  private static int waitFor(Process process) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return process.waitFor();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static Path jarOf(Class<?> type) {
    try {
      return Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException("cannot locate the jar of " + type.getName(), e);
    }
  }
}
