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
      Thread thread = Thread.currentThread();
      ClassLoader savedContext = thread.getContextClassLoader();
      thread.setContextClassLoader(loader);
      try {
        return runIn(loader, paths, args, out);
      } finally {
        thread.setContextClassLoader(savedContext);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ReflectiveOperationException e) {
      Throwable cause = e instanceof InvocationTargetException ? e.getCause() : e;
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      if (cause instanceof Error error) {
        throw error;
      }
      throw new IllegalStateException("cannot drive TLC through reflection", cause);
    }
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
