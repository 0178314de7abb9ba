package io.blocksim.sim.cli;

import io.blocksim.sim.files.Cleanup;
import io.blocksim.sim.runner.JunitXml;
import io.blocksim.sim.tlc.TlcRunner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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

  @Option(names = "--junit", paramLabel = "FILE",
      description = "Write JUnit XML: a test per configuration, a class per spec; a spec that"
          + " should hold but has a counterexample is an error typed invariant-violation.")
  Path junit;

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
      List<TlcRunner.Outcome> outcomes = new ArrayList<>();
      int code = TlcRunner.checkAll(specsDir, runDir, Main.out, outcomes);
      if (junit != null && code != TlcRunner.EXIT_BAD_INPUT) {
        JunitXml.writeTests(junit, "blocksim check", junitTests(outcomes));
      }
      return code;
    } finally {
      Cleanup.deleteTree(runDir);
    }
  }

  static List<JunitXml.TestCase> junitTests(List<TlcRunner.Outcome> outcomes) {
    List<JunitXml.TestCase> tests = new ArrayList<>();
    for (TlcRunner.Outcome o : outcomes) {
      JunitXml.Outcome outcome = switch (o.kind()) {
        case PASSED -> JunitXml.Outcome.PASSED;
        case FAILED -> JunitXml.Outcome.FAILED;
        case UNEXPECTED_VIOLATION -> JunitXml.Outcome.INVARIANT_VIOLATION;
      };
      tests.add(new JunitXml.TestCase("specs/" + o.module(), o.config(), outcome, o.message(),
          o.detail(), o.millis() * 1_000_000));
    }
    return tests;
  }
}
