package io.blocksim.sim.cli;

import io.blocksim.sim.files.OutputFiles;
import io.blocksim.sim.scenario.Scenario;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code blocksim} command line. Exit codes: 0 all passed, 1 a case failed, 2 bad input, 3 an
 * invariant was violated (a bug), 4 a simulation limit was reached.
 */
@Command(name = "blocksim", mixinStandardHelpOptions = true, version = "blocksim 0.1",
    description = "Deterministic simulation of QEMU 7.2's block layer.",
    subcommands = {RunCommand.class, DiffCommand.class, CheckCommand.class, BenchCommand.class,
        SemanticsCommand.class, WhatIfCommand.class, SweepCommand.class, ModelsCommand.class,
        ReportCommand.class,
        io.blocksim.sim.explore.ExploreCommand.class,
        io.blocksim.sim.explore.ExploreMergeCommand.class,
        io.blocksim.sim.explore.FuzzCommand.class})
public final class Main implements Callable<Integer> {
  public static final int EXIT_OK = 0;
  public static final int EXIT_FAILED = 1;
  public static final int EXIT_BAD_INPUT = 2;
  public static final int EXIT_INVARIANT = 3;
  public static final int EXIT_LIMIT = 4;

  /** Where the commands print: System.out/err, or a test's streams ({@link #execute}). */
  static PrintStream out = System.out;
  static PrintStream err = System.err;

  /** An output file could not be written: one line, exit 2 (never a stack trace). */
  static final class OutputError extends RuntimeException {
    OutputError(java.io.IOException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /**
   * Returns why a run would run nothing (no scenario file under the paths, or no case of that
   * name), or null: a run that runs nothing is not a pass.
   */
  static String nothingToRun(List<Scenario> scenarios, List<Path> paths, String onlyCase) {
    if (scenarios.isEmpty()) {
      return "no scenario files (*.yaml) in " + String.join(", ",
          paths.stream().map(Path::toString).toList());
    }
    if (onlyCase != null && scenarios.stream().flatMap(s -> s.cases().stream())
        .noneMatch(c -> c.name().equals(onlyCase))) {
      List<String> names = scenarios.stream().flatMap(s -> s.cases().stream())
          .map(Scenario.Case::name).filter(n -> !n.isEmpty()).distinct().limit(10).toList();
      return "no case named '" + onlyCase + "'" + (names.isEmpty()
          ? " (these scenarios have no matrix; leave out --case)"
          : "; cases are named like: " + String.join(" ", names.stream().map(n -> "'" + n + "'")
              .toList()));
    }
    return null;
  }

  /**
   * Returns the repository root: where the {@code blocksim} script lives (it passes {@code
   * -Dblocksim.root}), else the folder the classes were loaded from two levels up
   * (sim/target/classes or the jar in sim/target), else the working directory.
   */
  static Path repositoryRoot() {
    Path root = io.blocksim.sim.files.RepositoryRoot.find();
    return root != null ? root : Path.of("").toAbsolutePath();
  }

  @Override
  public Integer call() {
    CommandLine.usage(this, System.out);
    return EXIT_BAD_INPUT;
  }

  /** One line for an I/O failure: the file and why, in the words ls and cp use. */
  static String describe(java.io.IOException e) {
    if (e instanceof java.nio.file.FileSystemException fs && fs.getFile() != null) {
      String why = e instanceof java.nio.file.AccessDeniedException ? "permission denied"
          : e instanceof java.nio.file.NoSuchFileException ? "no such file or directory"
          : e instanceof java.nio.file.FileAlreadyExistsException ? "a file is in the way"
          : fs.getReason() != null ? fs.getReason() : e.getClass().getSimpleName();
      return fs.getFile() + ": " + why;
    }
    return e.getMessage() != null ? e.getMessage() : e.toString();
  }

  public static void main(String[] args) {
    int code = execute(args, System.out, System.err);
    System.exit(code);
  }

  /** Runs the command line; returns the exit code (for tests). */
  public static int execute(String[] args, PrintStream out, PrintStream err) {
    CommandLine cli = new CommandLine(new Main());
    cli.setOut(new java.io.PrintWriter(out, true));
    cli.setErr(new java.io.PrintWriter(err, true));
    cli.setParameterExceptionHandler((ex, a) -> {
      err.println("blocksim: error: " + ex.getMessage());
      err.println("hint: see 'blocksim " + (ex.getCommandLine().getCommandName()) + " --help'");
      return EXIT_BAD_INPUT;
    });
    cli.setExecutionStrategy(new CommandLine.RunLast());
    cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
      if (ex instanceof OutputError || ex instanceof OutputFiles.Unwritable) {
        err.println("blocksim: error: " + ex.getMessage());
        return EXIT_BAD_INPUT;
      }
      if (ex instanceof java.io.UncheckedIOException u) {
        // An output folder that cannot be made or written (--trace-tla, --keep-images).
        err.println("blocksim: error: " + (u.getCause() instanceof OutputFiles.Unwritable w
            ? w.getMessage() : "cannot write " + describe(u.getCause())));
        return EXIT_BAD_INPUT;
      }
      if (ex instanceof java.io.IOException io) {
        // A file that cannot be read or written (bad input, not a bug): one line, no trace.
        err.println("blocksim: error: " + describe(io));
        return EXIT_BAD_INPUT;
      }
      throw ex;
    });
    Main.out = out;
    Main.err = err;
    io.blocksim.sim.explore.ExploreCommand.out = out;
    io.blocksim.sim.explore.ExploreCommand.err = err;
    return cli.execute(args);
  }
}
