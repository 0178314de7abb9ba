package io.blocksim.sim.cli;

import io.blocksim.sim.files.Cleanup;
import io.blocksim.sim.tlc.TlcRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blocksim check}: TLC on every spec, compared with specs/manifest.json. */
@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Model-check every TLA+ spec in specs/ with TLC and compare with the manifest.")
final class CheckCommand implements Callable<Integer> {
  @Option(names = "--specs", paramLabel = "DIR",
      description = "The specs folder with manifest.json (default: the repository's specs/,"
          + " wherever blocksim is run from).")
  Path specs;

  @Option(names = "--work", paramLabel = "DIR",
      description = "Where TLC's scratch files go: each run makes its own folder inside DIR and"
          + " deletes it at the end (default: the system's temporary folder).")
  Path work;

  @Override
  public Integer call() throws Exception {
    Path specsDir = specs != null ? specs : Main.repositoryRoot().resolve("specs");
    if (!Files.isRegularFile(specsDir.resolve("manifest.json"))) {
      Main.err.println("blocksim: error: " + specsDir + " has no manifest.json"
          + (specs == null ? " (give the specs folder with --specs)" : ""));
      return Main.EXIT_BAD_INPUT;
    }
    Path runDir;
    try {
      // Its own folder per run, so two checks at once never share TLC's files.
      runDir = work == null ? Files.createTempDirectory("blocksim-check-")
          : Files.createTempDirectory(Files.createDirectories(work), "check-");
    } catch (java.io.IOException e) {
      Main.err.println("blocksim: error: cannot create a work folder in "
          + (work == null ? "the temporary folder" : work) + ": " + e.getMessage());
      return Main.EXIT_BAD_INPUT;
    }
    try (Cleanup.Handle folder = Cleanup.deleteOnExit(runDir)) {
      return TlcRunner.checkAll(specsDir, runDir, Main.out);
    } finally {
      Cleanup.deleteTree(runDir);
    }
  }
}
