package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.blocksim.sim.qemu.QemuAvailability;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM (what Ctrl-C and {@code kill} send) at a random moment, to blocksim run as a child
 * process: nothing half-written, no daemon or folder left behind (issue 17). And two checks at
 * once do not share TLC's files.
 */
class InterruptTest {
  @TempDir Path dir;

  @Test
  void sigtermDuringUpdateLeavesEveryGoldenWholeOldOrNew() throws Exception {
    // Moments after the start: JVM start-up, parsing, early and late in the run.
    long[] delays = {700, 1500, 2600, 4000};
    for (int round = 0; round < delays.length; round++) {
      Path copy = dir.resolve("round" + round);
      Map<Path, String> fresh = copyScenarios(ChildProcesses.ROOT.resolve("scenarios/backup"),
          copy);
      for (Path golden : fresh.keySet()) {
        Files.writeString(golden, "stale\n");
      }
      Path tmp = Files.createDirectories(dir.resolve("tmp" + round));
      Path output = dir.resolve("out" + round + ".txt");

      Process run = ChildProcesses.start(dir, tmp, output, "run", "--update", copy.toString());
      boolean ended = run.waitFor(delays[round], TimeUnit.MILLISECONDS);
      if (!ended) {
        run.destroy(); // SIGTERM
      }
      assertThat(run.waitFor(60, TimeUnit.SECONDS)).as("ends after SIGTERM").isTrue();

      for (Map.Entry<Path, String> e : fresh.entrySet()) {
        String now = Files.readString(e.getKey(), StandardCharsets.UTF_8);
        assertThat(now).as(e.getKey() + " after SIGTERM at " + delays[round] + " ms")
            .isIn("stale\n", e.getValue());
      }
      try (Stream<Path> files = Files.walk(copy)) {
        assertThat(files.map(Path::getFileName).map(Path::toString)
            .filter(n -> n.endsWith(".tmp")).toList()).as("temporary files").isEmpty();
      }
    }
  }

  @Test
  void sigtermDuringDiffLeavesNoDaemonAndNoFolder() throws Exception {
    QemuAvailability qemu = QemuAvailability.check();
    assumeThat(qemu.available()).as(qemu.reason()).isTrue();
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Path output = dir.resolve("diff.txt");

    Path junit = dir.resolve("diff.xml");
    Process diff = ChildProcesses.start(ChildProcesses.ROOT, tmp, output, "diff", "--jobs", "2",
        "--junit", junit.toString(), "scenarios");
    List<ProcessHandle> daemons = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (daemons.isEmpty() && diff.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(50);
      diff.descendants().filter(p -> p.info().command().orElse("")
          .endsWith("qemu-storage-daemon")).forEach(daemons::add);
    }
    assumeThat(daemons).as("diff started a daemon before it ended").isNotEmpty();
    List<ProcessHandle> children = diff.descendants().toList();

    diff.destroy(); // SIGTERM
    assertThat(diff.waitFor(60, TimeUnit.SECONDS)).as("ends after SIGTERM").isTrue();

    for (ProcessHandle child : children) {
      child.onExit().get(10, TimeUnit.SECONDS);
      assertThat(child.isAlive()).as("pid " + child.pid() + " " + child.info().command())
          .isFalse();
    }
    try (Stream<Path> left = Files.list(tmp)) {
      assertThat(left.map(p -> p.getFileName().toString())
          .filter(n -> !n.startsWith("hsperfdata")).toList()).as("left in the temporary folder")
          .isEmpty();
    }
    assertThat(Files.readString(output)).contains("interrupted: ");
    // An interrupted run still writes what it has, whole.
    assertThat(Files.readString(junit)).startsWith("<?xml")
        .contains("<testsuite name=\"blocksim diff\"").endsWith("</testsuite>\n");
  }

  @Test
  void twoChecksAtOnceDoNotInterfere() throws Exception {
    Path specs = Files.createDirectories(dir.resolve("specs"));
    Path real = ChildProcesses.ROOT.resolve("specs");
    Files.copy(real.resolve("Checkpoints.tla"), specs.resolve("Checkpoints.tla"));
    Files.copy(real.resolve("CheckpointsBugMergeIntoNewer.cfg"),
        specs.resolve("CheckpointsBugMergeIntoNewer.cfg"));
    Files.writeString(specs.resolve("manifest.json"), "{\"tlcVersion\": \"2.18\", \"checks\": ["
        + "{\"module\": \"Checkpoints\", \"config\": \"CheckpointsBugMergeIntoNewer.cfg\","
        + " \"expect\": \"violation\", \"invariant\": \"DiffExact\", \"exitCode\": 12,"
        + " \"distinctStates\": 32}]}\n");
    // Same temporary folder, same --work: only their own folders inside keep them apart.
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Path work = dir.resolve("work");
    Path out1 = dir.resolve("check1.txt");
    Path out2 = dir.resolve("check2.txt");

    Process first = ChildProcesses.start(dir, tmp, out1, "check", "--specs", specs.toString(),
        "--work", work.toString());
    Process second = ChildProcesses.start(dir, tmp, out2, "check", "--specs", specs.toString(),
        "--work", work.toString());

    assertThat(first.waitFor(3, TimeUnit.MINUTES)).isTrue();
    assertThat(second.waitFor(3, TimeUnit.MINUTES)).isTrue();
    assertThat(first.exitValue()).as(Files.readString(out1)).isZero();
    assertThat(second.exitValue()).as(Files.readString(out2)).isZero();
    assertThat(Files.readString(out1)).contains("1 passed, 0 failed");
    assertThat(Files.readString(out2)).contains("1 passed, 0 failed");
    try (Stream<Path> left = Files.list(work)) {
      assertThat(left.toList()).as("work folders are removed").isEmpty();
    }
  }

  /** Copies the scenarios and goldens; returns each golden copy with its current content. */
  private static Map<Path, String> copyScenarios(Path from, Path to) throws Exception {
    Map<Path, String> goldens = new TreeMap<>();
    try (Stream<Path> files = Files.walk(from)) {
      for (Path file : files.filter(Files::isRegularFile).toList()) {
        Path target = to.resolve(from.relativize(file).toString());
        Files.createDirectories(target.getParent());
        Files.copy(file, target);
        if (target.toString().endsWith(".out")) {
          goldens.put(target, Files.readString(file, StandardCharsets.UTF_8));
        }
      }
    }
    return goldens;
  }
}
