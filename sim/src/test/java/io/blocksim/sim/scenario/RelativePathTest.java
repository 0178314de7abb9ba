package io.blocksim.sim.scenario;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Paths from scenario files stay inside the scratch directory (scenario-format.md, File). */
class RelativePathTest {
  private static final Location WHERE = new Location("s.yaml", 7, 9);

  @ParameterizedTest
  @ValueSource(strings = {"a.qcow2", "dir/a.qcow2", "./a.raw", "a..b", "..a", "a/./b", "a//b"})
  void acceptsPathsInsideTheScratchDirectory(String path) {
    assertThatCode(() -> ScenarioParser.checkRelativePath(path, WHERE)).doesNotThrowAnyException();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "/etc/passwd|path '/etc/passwd' is absolute",
        "..|path '..' has a '..' component",
        "a/../../b|path 'a/../../b' has a '..' component",
        "a/..|path 'a/..' has a '..' component",
        ".|path '.' names the scratch directory itself",
        "./|path './' names the scratch directory itself",
        "file:/etc/passwd|path 'file:/etc/passwd' starts with a protocol prefix ('file:'), which"
            + " QEMU would open instead of a file",
        "nbd+unix:///x?socket=/s|path 'nbd+unix:///x?socket=/s' starts with a protocol prefix"
            + " ('nbd+unix:'), which QEMU would open instead of a file",
      })
  void refusesPathsThatLeaveOrNameTheScratchDirectory(String path, String message) {
    assertThatThrownBy(() -> ScenarioParser.checkRelativePath(path, WHERE))
        .isInstanceOf(ScenarioError.class)
        .hasMessage(
            "s.yaml:7:9: error: " + message + "\n"
                + "hint: paths are relative to the scenario's scratch directory and may not leave"
                + " it\n");
  }

  @org.junit.jupiter.api.Test
  void refusesEmptyPathsAndNulCharacters() {
    assertThatThrownBy(() -> ScenarioParser.checkRelativePath("", WHERE))
        .hasMessageStartingWith("s.yaml:7:9: error: a path must not be empty\n");
    assertThatThrownBy(() -> ScenarioParser.checkRelativePath("a\0b", WHERE))
        .hasMessageStartingWith("s.yaml:7:9: error: path 'a\\0b' contains a NUL character\n");
  }
}
