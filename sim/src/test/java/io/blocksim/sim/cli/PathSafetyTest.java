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

  /**
   * Members that name files QEMU opens but that are no BlockdevRef or filename: a serial, pipe
   * or parallel character device's {@code device} (QEMU 7.2's qemu-storage-daemon opened it under
   * diff), rbd's {@code conf}, qom-set's {@code value}, and any other string that is an absolute
   * path (a member no list knows).
   */
  @ParameterizedTest
  @ValueSource(strings = {
      "run|chardev-add|{id: c, backend: {type: serial, data: {device: VICTIM}}}|backend.data.device",
      "diff|chardev-add|{id: c, backend: {type: pipe, data: {device: VICTIM}}}|backend.data.device",
      "diff|chardev-change|{id: c, backend: {type: parallel, data: {device: VICTIM}}}"
          + "|backend.data.device",
      "run|blockdev-add|{node-name: r, driver: rbd, pool: p, image: i, conf: VICTIM}|conf",
      "diff|blockdev-add|{node-name: r, driver: rbd, pool: p, image: i, conf: VICTIM}|conf",
      "diff|qom-set|{path: /objects/s, property: file, value: VICTIM}|value",
      "run|object-add|{qom-type: some-future-type, id: o, keyfile: VICTIM}|keyfile",
      "diff|blockdev-add|{node-name: n, driver: ssh, path: x, x-unknown: {deep: [VICTIM]}}"
          + "|x-unknown.deep[0]"})
  void everyOtherFileNamingMemberIsRefusedToo(String spec) throws Exception {
    String[] parts = spec.split("\\|");
    Path victim = Files.writeString(dir.resolve("victim"), "precious");
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: outside\nsteps:\n"
        + "  - qmp: " + parts[1] + "\n    args: " + parts[2].replace("VICTIM", victim.toString())
        + "\n");

    Outcome outcome = blocksim(parts[0], scenario.toString());

    assertThat(outcome.code).as(outcome.out + outcome.err).isEqualTo(Main.EXIT_BAD_INPUT);
    assertThat(outcome.err).startsWith(scenario + ":4:")
        .contains(": error: '" + parts[3] + "' in step 1: ")
        .contains(victim.toString())
        .contains("hint: paths are relative to the scenario's scratch directory");
    assertThat(outcome.out).isEmpty();
    assertThat(Files.readString(victim)).isEqualTo("precious");
  }

  @org.junit.jupiter.api.Test
  void aQomPathIsNoFileName() throws Exception {
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: qom\nsteps:\n"
        + "  - qmp: qom-get\n    args: {path: /objects, property: type}\n    error: \"\"\n");

    Outcome outcome = blocksim("run", scenario.toString());

    assertThat(outcome.code).as(outcome.out + outcome.err).isEqualTo(Main.EXIT_OK);
  }

  @org.junit.jupiter.api.Test
  void aBitmapNameThatStartsWithASlashIsAName() throws Exception {
    Path scenario = Files.writeString(dir.resolve("s.yaml"), "name: slash\n"
        + "images:\n  - {path: d.qcow2, format: qcow2, size: 1M}\nsteps:\n"
        + "  - qmp: blockdev-add\n"
        + "    args: {node-name: d, driver: qcow2, file: {driver: file, filename: d.qcow2}}\n"
        + "  - qmp: block-dirty-bitmap-add\n    args: {node: d, name: /etc/passwd}\n"
        + "  - observe: bitmaps\n");

    Outcome outcome = blocksim("run", scenario.toString());

    assertThat(outcome.code).as(outcome.out + outcome.err).isEqualTo(Main.EXIT_OK);
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
