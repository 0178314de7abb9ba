package io.blocksim.sim.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A scenario that names a file outside its scratch directory is bad input under {@code run} and
 * {@code diff} alike: exit 2 with a located error, before either backend runs anything, and the
 * file outside is neither read nor written (issue 17, Safety).
 */
class PathSafetyTest {
  @TempDir Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"run", "diff"})
  void anImgCommandOnAnAbsolutePathIsRefusedAndTheFileKept(String command) throws Exception {
    Path victim = Files.writeString(dir.resolve("victim"), "precious");
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: overwrite\nsteps:\n"
        + "  - img: \"create -f raw " + victim + " 4k\"\n");

    Outcome outcome = blocksim(command, scenario.toString());

    assertThat(outcome.code).isEqualTo(Main.EXIT_BAD_INPUT);
    assertThat(outcome.err).startsWith(scenario + ":3:25: error: 'img' in step 1: path '"
        + victim + "' is absolute\n");
    assertThat(outcome.err).doesNotContain("Exception");
    assertThat(Files.readString(victim)).isEqualTo("precious");
  }

  @ParameterizedTest
  @ValueSource(strings = {"run", "diff"})
  void aQmpFilenameOutsideTheCaseIsRefusedAtAnyDepth(String command) throws Exception {
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: read outside\nsteps:\n"
        + "  - qmp: blockdev-add\n"
        + "    args: {node-name: d, driver: raw, file: {driver: blkdebug, image: {driver: file,"
        + " filename: ../../etc/hostname}}}\n");

    Outcome outcome = blocksim(command, scenario.toString());

    assertThat(outcome.code).isEqualTo(Main.EXIT_BAD_INPUT);
    assertThat(outcome.err).startsWith(scenario + ":4:96: error: 'file.image.filename' in step 1:"
        + " path '../../etc/hostname' has a '..' component\n");
  }

  private record Outcome(int code, String out, String err) {}

  private static Outcome blocksim(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Outcome(code, out.toString(StandardCharsets.UTF_8),
        err.toString(StandardCharsets.UTF_8));
  }
}
