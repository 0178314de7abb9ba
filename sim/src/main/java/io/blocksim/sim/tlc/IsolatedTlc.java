package io.blocksim.sim.tlc;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.List;

/**
 * One TLC run in a class loader of its own.
 *
 * <p>Why: TLC keeps global static state (the interned-name table, whose entries carry the
 * positions of variables and definitions, plus {@code TLCGlobals}, model values and output
 * state) and never resets it. Sequential runs of the same spec happen to work, but a run of one
 * spec after another can silently go wrong: measured here, JobLifecycle after Checkpoints found
 * 571 distinct states instead of 2010, and Checkpoints after JobLifecycle failed with "The
 * invariant of DiffExact is equal to ... Naturals.LT". Loading the TLC classes afresh for every
 * run gives each run clean statics; the price is class loading and JIT warm-up (about a second
 * per run).
 */
final class IsolatedTlc {
  private static final URL TLC_JAR =
      tlc2.TLC.class.getProtectionDomain().getCodeSource().getLocation();

  private IsolatedTlc() {}

  /**
   * Runs TLC with {@code args}, module search path {@code paths}, output to {@code out}; returns
   * TLC's exit status, or {@link TlcRunner#EXIT_BAD_ARGUMENTS} when TLC rejects the arguments.
   */
  static int run(String[] paths, List<String> args, PrintStream out) {
    // The parent is the platform loader, so that no TLC class comes from the application loader.
    try (URLClassLoader loader =
        new URLClassLoader(new URL[] {TLC_JAR}, ClassLoader.getPlatformClassLoader())) {
      int[] exitCode = new int[1];
      Throwable[] thrown = new Throwable[1];
      // A thread of its own, joined at once, so that thread-locals TLC may set die with it
      // instead of keeping this run's classes (and its state graph) alive on the caller's thread.
      Thread thread = new Thread(() -> { // determinism-ok: TLC, not the engine
        try {
          exitCode[0] = runIn(loader, paths, args, out);
        } catch (Throwable t) {
          thrown[0] = t;
        } finally {
          unexportFingerprintSet(loader);
        }
      }, "tlc");
      // Not the run's loader: threads TLC starts inherit it, and nothing that outlives the run
      // should hold the loader (and through its statics the whole model checker).
      thread.setContextClassLoader(ClassLoader.getPlatformClassLoader());
      thread.start();
      joinUninterruptibly(thread);
      if (thrown[0] != null) {
        rethrow(thrown[0]);
      }
      return exitCode[0];
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Takes the run's fingerprint set out of RMI's object table. TLC's FPSet is a
   * UnicastRemoteObject, exported when created and never unexported in a local run; the table
   * entry holds the class loader of the run, whose statics hold the model checker and with it the
   * fingerprint set, so without this every run stays in memory for good (measured: about 20 MB
   * per run of a 574-state spec, still there after the heap was filled). With it, what remains
   * after a run is held only by the JDK's soft caches (RMI's method tables), which the collector
   * clears under memory pressure (measured: nothing left after filling the heap).
   */
  private static void unexportFingerprintSet(ClassLoader loader) {
    try {
      Object checker = loader.loadClass("tlc2.TLCGlobals").getField("mainChecker").get(null);
      if (checker == null) {
        return;
      }
      Object fpSet = loader.loadClass("tlc2.tool.ModelChecker").getField("theFPSet").get(checker);
      if (fpSet != null) {
        // TLC's own method: a MultiFPSet unexports each of its parts as well.
        fpSet.getClass().getMethod("unexportObject", boolean.class).invoke(fpSet, true);
      }
    } catch (ReflectiveOperationException e) {
      // Another checker (simulation) or an FPSet never exported: nothing to release.
    }
  }

  private static void joinUninterruptibly(Thread thread) {
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private static void rethrow(Throwable thrown) {
    Throwable cause = thrown instanceof InvocationTargetException ? thrown.getCause() : thrown;
    if (cause instanceof RuntimeException runtime) {
      throw runtime;
    }
    if (cause instanceof Error error) {
      throw error;
    }
    throw new IllegalStateException("cannot drive TLC through reflection", cause);
  }

  private static int runIn(ClassLoader loader, String[] paths, List<String> args, PrintStream out)
      throws ReflectiveOperationException {
    Class<?> toolIo = loader.loadClass("util.ToolIO");
    toolIo.getField("out").set(null, out);
    toolIo.getField("err").set(null, out);

    Class<?> resolverType = loader.loadClass("util.FilenameToStream");
    Object resolver = loader.loadClass("util.SimpleFilenameToStream")
        .getConstructor(String[].class)
        .newInstance((Object) paths);
    Class<?> tlcType = loader.loadClass("tlc2.TLC");
    Object tlc = tlcType.getConstructor().newInstance();
    tlcType.getMethod("setResolver", resolverType).invoke(tlc, resolver);
    Method handleParameters = tlcType.getMethod("handleParameters", String[].class);
    if (!(Boolean) handleParameters.invoke(tlc, (Object) args.toArray(String[]::new))) {
      return TlcRunner.EXIT_BAD_ARGUMENTS;
    }
    int errorCode = (Integer) tlcType.getMethod("process").invoke(tlc);
    Method toExitStatus = loader.loadClass("tlc2.output.EC$ExitStatus")
        .getMethod("errorConstantToExitStatus", int.class);
    return (Integer) toExitStatus.invoke(null, errorCode);
  }
}
