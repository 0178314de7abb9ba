package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The progress line shows only to a person at a terminal, and never mixes with results. */
class ProgressTest {
  @TempDir Path dir;

  @Test
  void showsOnlyOnATerminalWithTheRealStreamsAndNotUnderCi() {
    assertThat(Progress.watched(true, true, null)).isTrue();
    assertThat(Progress.watched(true, true, "false")).isTrue();
    assertThat(Progress.watched(true, true, "true")).isFalse();
    assertThat(Progress.watched(true, false, null)).isFalse();
    assertThat(Progress.watched(false, true, null)).isFalse();
  }

  @Test
  void aLineThatIsNotWatchedPrintsNothingAndLeavesTheOutputAlone() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    try (Progress progress = new Progress(new PrintStream(err, true, StandardCharsets.UTF_8),
        "run", 3, () -> 1, false)) {
      assertThat(progress.wrap(out)).isSameAs(out);
    }
    assertThat(err.size()).isZero();
  }

  @Test
  void theLineIsClearedBeforeAResultIsPrintedAndAtTheEnd() {
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int[] done = {2};
    // live=false: no ticker thread; the test draws the line itself.
    Progress progress = new Progress(new PrintStream(err, true, StandardCharsets.UTF_8), "diff",
        7, () -> done[0], false);
    progress.tick();
    assertThat(err.toString(StandardCharsets.UTF_8)).startsWith("\rdiff: 2/7, ")
        .endsWith(" s\u001b[K");
    progress.close();
    assertThat(err.toString(StandardCharsets.UTF_8)).endsWith("\r\u001b[K");
    progress.tick(); // After close, nothing more is drawn.
    assertThat(err.toString(StandardCharsets.UTF_8)).endsWith("\r\u001b[K");
    assertThat(out.size()).isZero();
  }

  @Test
  void capturedOutputOfARunHasNoProgressLine() throws Exception {
    Path scenario = Files.writeString(dir.resolve("p.yaml"),
        "name: p\nmatrix: {x: [1, 2, 3]}\nsteps:\n  - log: hi\n");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    int code = Main.execute(new String[] {"run", scenario.toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));

    assertThat(code).isZero();
    String all = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
    assertThat(all).contains("3 passed").doesNotContain("\r").doesNotContain("\u001b");
  }
}
