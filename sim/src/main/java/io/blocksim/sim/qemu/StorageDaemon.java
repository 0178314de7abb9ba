package io.blocksim.sim.qemu;

import io.blocksim.sim.files.Cleanup;
import io.blocksim.model.qapi.QmpEvent;
import java.io.IOException;
import java.lang.ProcessBuilder.Redirect;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One qemu-storage-daemon process with its QMP connection and an NBD server on a UNIX socket.
 * Standard output and error go to a log file that outlives the process, so a crash can be
 * reported with the daemon's last words.
 *
 * <p>Fault model: the process may exit or be killed by a signal at any time; {@link #exitStatus()}
 * then says which, and the QMP client reports the closed connection instead of hanging.
 */
final class StorageDaemon implements AutoCloseable {
  static final String QMP_SOCKET = "qmp.sock";
  static final String NBD_SOCKET = "nbd.sock";
  private static final long CONNECT_TIMEOUT_NS = 10_000_000_000L;
  private static final long QUIT_TIMEOUT_MS = 5_000L;
  private static final long DRAIN_TIMEOUT_NS = 1_000_000_000L;
  /** Java reports a process killed by signal N as exit value 128 + N. */
  private static final int SIGNAL_EXIT_BASE = 128;

  private final Process process;
  private final QmpClient qmp;

  /** Kills the daemon if the process ends while it runs (Ctrl-C, SIGTERM). */
  private Cleanup.Handle cleanup;

  private StorageDaemon(Process process, QmpClient qmp) {
    this.process = process;
    this.qmp = qmp;
  }

  /**
   * Starts the daemon with its sockets in {@code controlDir}, working directory {@code workDir},
   * output appended to {@code logFile}, and connects to its monitor.
   */
  static StorageDaemon start(Path binary, Path controlDir, Path workDir, Path logFile,
      long commandTimeoutNs, Consumer<QmpEvent> eventSink) throws IOException {
    Path qmpSocket = controlDir.resolve(QMP_SOCKET);
    Path nbdSocket = controlDir.resolve(NBD_SOCKET);
    Files.deleteIfExists(qmpSocket);
    Files.deleteIfExists(nbdSocket);
    List<String> command = List.of(binary.toString(),
        "--chardev", "socket,id=qmp0,path=" + qmpSocket + ",server=on,wait=off",
        "--monitor", "chardev=qmp0",
        "--nbd-server", "addr.type=unix,addr.path=" + nbdSocket);
    Process process = new ProcessBuilder(command)
        .directory(workDir.toFile())
        .redirectErrorStream(true)
        .redirectOutput(Redirect.appendTo(logFile.toFile()))
        .redirectInput(Redirect.from(Path.of("/dev/null").toFile()))
        .start();
    try {
      QmpClient qmp = QmpClient.connect(qmpSocket, CONNECT_TIMEOUT_NS, commandTimeoutNs,
          process::isAlive, eventSink);
      StorageDaemon daemon = new StorageDaemon(process, qmp);
      daemon.cleanup = Cleanup.register(() -> Cleanup.killTree(process));
      return daemon;
    } catch (IOException e) {
      process.destroyForcibly();
      waitQuietly(process, QUIT_TIMEOUT_MS);
      throw e;
    }
  }

  QmpClient qmp() {
    return qmp;
  }

  long pid() {
    return process.pid();
  }

  boolean alive() {
    return process.isAlive();
  }

  /**
   * Waits briefly for the process to end and describes how it ended: {@code "QEMU crashed
   * (signal N)"}, {@code "qemu-storage-daemon exited with status N"}, or null while it runs.
   */
  String exitStatus(long waitMs) {
    if (!waitQuietly(process, waitMs)) {
      return null;
    }
    int exitValue = process.exitValue();
    if (exitValue > SIGNAL_EXIT_BASE) {
      return "QEMU crashed (signal " + (exitValue - SIGNAL_EXIT_BASE) + ")";
    }
    return "qemu-storage-daemon exited with status " + exitValue;
  }

  /**
   * Kills the process as {@code kill -9} does and waits for it. Events the daemon sent before it
   * died are still read from the socket, so none that QEMU emitted is lost.
   */
  void kill() {
    Cleanup.killTree(process);
    waitQuietly(process, QUIT_TIMEOUT_MS);
    cleanup.close();
    long deadline = System.nanoTime() + DRAIN_TIMEOUT_NS; // determinism-ok: real QEMU
    try {
      while (!qmp.closedByPeer() && deadline - System.nanoTime() > 0) { // determinism-ok: real QEMU
        qmp.awaitEvent(deadline - System.nanoTime()); // determinism-ok: real QEMU
      }
    } catch (IOException e) {
      // The connection is closed: everything sent has been read.
    }
    qmp.close();
  }

  /** Asks the daemon to quit (it closes its images cleanly); kills it if it does not. */
  @Override
  public void close() {
    if (process.isAlive()) {
      try {
        qmp.execute("quit", null);
      } catch (IOException e) {
        // A daemon that cannot take 'quit' is killed below.
      }
    }
    qmp.close();
    if (!waitQuietly(process, QUIT_TIMEOUT_MS)) {
      Cleanup.killTree(process);
      waitQuietly(process, QUIT_TIMEOUT_MS);
    }
    cleanup.close();
  }

  private static boolean waitQuietly(Process process, long waitMs) {
    try {
      return process.waitFor(waitMs, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return !process.isAlive();
    }
  }
}
