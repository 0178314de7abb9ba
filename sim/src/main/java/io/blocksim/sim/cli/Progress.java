package io.blocksim.sim.cli;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.function.IntSupplier;

/**
 * A live progress line ("diff: 12/173 cases, 34 s") on standard error while long work runs, only
 * when a person is watching: a terminal, not under {@code CI=true}, and the command prints to the
 * real standard streams. Never in captured output, a pipe or a golden. The line is redrawn in
 * place twice a second by one daemon thread (outside the simulator core; it reads a count and
 * decides nothing), and cleared before every line the command prints, so results never share a
 * line with it.
 */
final class Progress implements AutoCloseable {
  private static final long TICK_MILLIS = 500;

  private final PrintStream err;
  private final String label;
  private final int total;
  private final IntSupplier done;
  private final long startNanos = System.nanoTime(); // determinism-ok: shown on a terminal only
  private final Thread ticker;
  private boolean shown;
  private boolean closed;

  Progress(PrintStream err, String label, int total, IntSupplier done, boolean live) {
    this.err = err;
    this.label = label;
    this.total = total;
    this.done = done;
    if (live) {
      ticker = new Thread(this::tickForever, "blocksim-progress"); // determinism-ok: display only
      ticker.setDaemon(true);
      ticker.start();
    } else {
      ticker = null;
    }
  }

  /** Starts a progress line on the terminal if one is watching, else one that shows nothing. */
  static Progress start(String label, int total, IntSupplier done) {
    return new Progress(System.err, label, total, done, watched(
        Main.out == System.out && Main.err == System.err, terminal(), System.getenv("CI")));
  }

  /** Whether to show progress: the real streams, a terminal, and not under CI=true. */
  static boolean watched(boolean realStreams, boolean terminal, String ci) {
    return realStreams && terminal && !"true".equalsIgnoreCase(ci);
  }

  /**
   * Whether the process runs on a terminal: {@code System.console()} is non-null only then up to
   * JDK 21; from JDK 22 it may exist on a pipe, and {@code Console.isTerminal()} tells.
   */
  static boolean terminal() {
    java.io.Console console = System.console();
    if (console == null) {
      return false;
    }
    try {
      return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
    } catch (ReflectiveOperationException e) {
      return true; // JDK 17-21: a console exists only on a terminal.
    }
  }

  /** Returns a stream that clears the progress line before anything is printed to it. */
  PrintStream wrap(PrintStream out) {
    if (ticker == null) {
      return out;
    }
    return new PrintStream(new FilterOutputStream(out) {
      @Override
      public void write(int b) throws IOException {
        clear();
        out.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        clear();
        out.write(b, off, len);
      }
    }, true, StandardCharsets.UTF_8);
  }

  /** Draws the line once (the ticker's step; also for tests). */
  synchronized void tick() {
    if (closed) {
      return;
    }
    long seconds = (System.nanoTime() - startNanos) / 1_000_000_000L; // determinism-ok: display
    err.print(String.format(Locale.ROOT, "\r%s: %d/%d, %d s\u001b[K", label,
        done.getAsInt(), total, seconds));
    err.flush();
    shown = true;
  }

  private synchronized void clear() {
    if (shown) {
      err.print("\r\u001b[K");
      err.flush();
      shown = false;
    }
  }

  private void tickForever() {
    try {
      while (true) {
        Thread.sleep(TICK_MILLIS);
        tick();
      }
    } catch (InterruptedException e) {
      // Closed.
    }
  }

  @Override
  public void close() {
    if (ticker != null) {
      ticker.interrupt();
    }
    clear();
    synchronized (this) {
      closed = true;
    }
  }
}
