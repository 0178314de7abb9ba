package io.blocksim.sim.files;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What must be undone when the process ends, whatever ends it (issue 17): daemons and tools to
 * kill, scratch folders and half-written temporary files to delete. Each owner registers an
 * action while it holds the resource and closes the returned handle once it has released the
 * resource itself; a shutdown hook (Ctrl-C, SIGTERM, {@code System.exit}) runs whatever is still
 * registered, newest first. Outside the simulator core: the hook is the one thread here.
 */
public final class Cleanup {
  private static final Map<Long, Runnable> ACTIONS = new LinkedHashMap<>();
  private static long serial;
  private static boolean hooked;
  private static volatile boolean shuttingDown;
  /** The thread running the clean-up: its own actions may still write (the interrupted report). */
  private static volatile Thread cleanupThread;

  private Cleanup() {}

  /** A registered action; closing it unregisters without running it. */
  public interface Handle extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Registers an action to run if the process ends before the handle is closed. Once the process
   * is ending, the action runs at once: a daemon started by a worker thread that has not noticed
   * yet is killed rather than left behind.
   */
  public static synchronized Handle register(Runnable action) {
    if (shuttingDown) {
      action.run();
      return () -> { };
    }
    if (!hooked) {
      Runtime.getRuntime().addShutdownHook(new Thread(Cleanup::runAll, "blocksim-cleanup")); // determinism-ok: exit handling only
      hooked = true;
    }
    long id = serial++;
    ACTIONS.put(id, action);
    return () -> {
      synchronized (Cleanup.class) {
        ACTIONS.remove(id);
      }
    };
  }

  /** A temporary file whose deletion is registered; closing it unregisters the deletion. */
  public record TempFile(Path path, Handle handle) implements AutoCloseable {
    @Override
    public void close() {
      handle.close();
    }
  }

  /**
   * Creates a temporary file in the folder and registers its deletion in one step the shutdown
   * hook cannot split: created before the hook runs, it is deleted by the hook; once the hook
   * has started, nothing is created. (Creating first and registering after left a file behind
   * when SIGTERM fell between the two.) Writers must open the file without CREATE, so a file the
   * hook deleted is not created again. The clean-up's own actions (an interrupted run writing
   * what it has: JSON, JUnit, reports) still create files: the writer deletes one it could not
   * rename, and nothing else runs after them.
   */
  public static synchronized TempFile createTempFile(Path dir, String prefix, String suffix)
      throws IOException {
    if (shuttingDown && Thread.currentThread() == cleanupThread) {
      return new TempFile(Files.createTempFile(dir, prefix, suffix), () -> { });
    }
    if (shuttingDown) {
      throw new java.io.InterruptedIOException("interrupted: the process is ending");
    }
    Path file = Files.createTempFile(dir, prefix, suffix);
    return new TempFile(file, register(() -> {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        // Left behind; nothing more can be done here.
      }
    }));
  }

  /** Returns whether the process is ending (a shutdown hook is running). */
  public static boolean shuttingDown() {
    return shuttingDown;
  }

  /** Registers the deletion of a folder and everything in it. */
  public static Handle deleteOnExit(Path folder) {
    return register(() -> deleteTree(folder));
  }

  /** Runs every registered action, newest first (what the shutdown hook does; tests call it). */
  static void runAll() {
    List<Runnable> actions;
    synchronized (Cleanup.class) {
      shuttingDown = true;
      cleanupThread = Thread.currentThread();
      actions = new ArrayList<>(ACTIONS.values());
      ACTIONS.clear();
    }
    for (int i = actions.size() - 1; i >= 0; i--) {
      try {
        actions.get(i).run();
      } catch (RuntimeException | Error e) {
        // Go on with the others: each is independent.
      }
    }
    cleanupThread = null;  // Its actions are done; whatever comes after writes nothing.
  }

  /** Ends a test's pretend shutdown, so the tests after it in the same JVM run normally. */
  static synchronized void endShutdownForTests() {
    shuttingDown = false;
    cleanupThread = null;
  }

  /** Returns how many actions are registered (for tests). */
  static synchronized int registered() {
    return ACTIONS.size();
  }

  /** Kills a process and every process it started, as {@code kill -9} does. */
  public static void killTree(Process process) {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
  }

  /** Deletes a folder and everything in it; what cannot be deleted stays. */
  public static void deleteTree(Path root) {
    if (root == null || !Files.exists(root, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          // Left behind; nothing more can be done here.
        }
      });
    } catch (IOException | java.io.UncheckedIOException e) {
      // As above.
    }
  }
}
