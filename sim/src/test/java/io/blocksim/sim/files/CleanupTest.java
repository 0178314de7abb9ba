package io.blocksim.sim.files;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the shutdown hook does on Ctrl-C or SIGTERM: kills the process trees and deletes the
 * folders still registered, leaves alone what was released, and undoes at once what is
 * registered while the process is ending. (runAll is the hook's body; the test ends its pretend
 * shutdown afterwards, so the tests after it in the same JVM run normally.)
 */
class CleanupTest {
  @TempDir Path dir;

  @org.junit.jupiter.api.AfterEach
  void endThePretendShutdown() {
    Cleanup.endShutdownForTests();
  }

  @Test
  void registeredProcessTreesAndFoldersAreGoneReleasedOnesStay() throws Exception {
    Process daemon = new ProcessBuilder("sh", "-c", "sleep 300 & sleep 300").start();
    Path scratch = Files.createDirectories(dir.resolve("scratch/sub"));
    Files.writeString(scratch.resolve("img.raw"), "x");
    Path kept = Files.createDirectories(dir.resolve("kept"));
    Cleanup.register(() -> Cleanup.killTree(daemon));
    Cleanup.deleteOnExit(dir.resolve("scratch"));
    Cleanup.deleteOnExit(kept).close();
    // sh forks its two sleeps a moment after it starts: wait for them (a count taken at once
    // was 0 on a loaded CI machine).
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (daemon.descendants().count() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    long children = daemon.descendants().count();

    Cleanup.runAll();

    assertThat(children).isPositive();
    assertThat(daemon.waitFor(5, TimeUnit.SECONDS)).isTrue();
    assertThat(daemon.descendants().count()).isZero();
    assertThat(dir.resolve("scratch")).doesNotExist();
    assertThat(kept).exists();
    assertThat(Cleanup.shuttingDown()).isTrue();
    Path late = Files.createDirectories(dir.resolve("late"));
    Cleanup.deleteOnExit(late);
    assertThat(late).doesNotExist();
  }

  @Test
  void aTemporaryFileCreatedBeforeTheHookIsDeletedByItAndNoneIsCreatedAfter() throws Exception {
    Cleanup.TempFile pending = Cleanup.createTempFile(dir, ".golden.out.", ".tmp");
    assertThat(pending.path()).exists();

    Cleanup.runAll();

    assertThat(pending.path()).doesNotExist();
    org.assertj.core.api.Assertions.assertThatThrownBy(
        () -> Cleanup.createTempFile(dir, ".late.", ".tmp"))
        .isInstanceOf(java.io.InterruptedIOException.class);
    try (java.util.stream.Stream<Path> left = Files.list(dir)) {
      assertThat(left.toList()).isEmpty();
    }
  }

  @Test
  void anOutputFileWrittenWhileTheProcessEndsIsNotWrittenAndLeavesNoTemporaryFile()
      throws Exception {
    Path golden = dir.resolve("case.out");
    Files.writeString(golden, "old\n");

    Cleanup.runAll();

    org.assertj.core.api.Assertions.assertThatThrownBy(() -> OutputFiles.write(golden, "new\n"))
        .isInstanceOf(OutputFiles.Unwritable.class);
    assertThat(golden).hasContent("old");
    try (java.util.stream.Stream<Path> left = Files.list(dir)) {
      assertThat(left.map(p -> p.getFileName().toString()).toList())
          .containsExactly("case.out");
    }
  }

  @Test
  void theCleanUpsOwnActionsStillWriteTheirOutputsWhole() throws Exception {
    // An interrupted run writes what it has (JSON, JUnit) from its clean-up action.
    Path junit = dir.resolve("junit.xml");
    Files.writeString(junit, "old\n");
    Cleanup.TempFile pending = Cleanup.createTempFile(dir, ".golden.out.", ".tmp");
    Cleanup.register(() -> {
      try {
        OutputFiles.write(junit, "what ran so far\n");
      } catch (OutputFiles.Unwritable e) {
        throw new IllegalStateException(e);
      }
    });

    Cleanup.runAll();

    assertThat(junit).hasContent("what ran so far");
    assertThat(pending.path()).doesNotExist();
    try (java.util.stream.Stream<Path> left = Files.list(dir)) {
      assertThat(left.map(p -> p.getFileName().toString()).toList())
          .containsExactly("junit.xml");
    }
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> OutputFiles.write(junit, "late\n"))
        .isInstanceOf(OutputFiles.Unwritable.class);
  }
}
