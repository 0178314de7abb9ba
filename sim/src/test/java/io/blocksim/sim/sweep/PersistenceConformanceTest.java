package io.blocksim.sim.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.qemu.QemuBackend;
import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The persistence scenarios against the installed QEMU 7.2 tools (skipped without them). Goal:
 * what blocksim prints for {@code qemu-img info/check/bitmap} and the image files it leaves are
 * QEMU's. Method: run each case in the simulator (keeping its images) and on a real
 * qemu-storage-daemon (keeping its scratch directory); the two logs must be equal line for line
 * except for host allocation sizes ({@code disk size}, {@code actual-size}) and generated node
 * names; the real {@code qemu-img check} must find no corruption in any image blocksim wrote
 * and leaks exactly where it finds them in QEMU's (a kill -9 leaks), and the real
 * {@code qemu-img info} must list the same bitmaps (names, flags, granularities) in blocksim's
 * images as in QEMU's.
 */
class PersistenceConformanceTest {
  @TempDir Path temp;

  static Stream<Path> scenarios() throws Exception {
    Path dir = Path.of("..", "scenarios", "persistence");
    try (Stream<Path> files = Files.list(dir)) {
      return files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @ParameterizedTest
  @MethodSource("scenarios")
  void simulatorLogAndImagesMatchQemu(Path file) throws Exception {
    QemuAvailability availability = QemuAvailability.check();
    Assumptions.assumeTrue(availability.available(), availability.reason());
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(file));
    assertThat(loaded.errors()).isEmpty();
    Scenario scenario = loaded.scenarios().get(0);
    Assumptions.assumeFalse(scenario.simOnly(), "sim-only scenario");
    int index = 0;
    for (Scenario.Case c : scenario.cases()) {
      Path simDir = temp.resolve("sim" + index);
      Path qemuDir = temp.resolve("qemu" + index);
      index++;
      ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(null, false,
          Set.of(), null, false, simDir, null), new PrintStream(OutputStream.nullOutputStream()));
      CaseResult sim = runner.simulate(scenario, c);
      CaseResult real;
      try (QemuBackend backend = new QemuBackend(qemuDir, true, line -> { })) {
        real = new CaseRunner(scenario, c, backend).run();
      }
      assertThat(withoutHostSizes(sim.log())).as("log of %s %s", file, c.name())
          .isEqualTo(withoutHostSizes(real.log()));
      Path simImages;
      try (Stream<Path> dirs = Files.list(simDir)) {
        simImages = dirs.findFirst().orElseThrow();
      }
      try (Stream<Path> images = Files.list(simImages)) {
        for (Path image : images.sorted().toList()) {
          if (!QemuTools.isQcow2(image)) {
            continue;
          }
          QemuTools.Run check = QemuTools.run(image.getParent(), "qemu-img", "check",
              image.getFileName().toString());
          QemuTools.Run qemuCheck = QemuTools.run(qemuDir, "qemu-img", "check",
              image.getFileName().toString());
          assertThat(check.exitCode()).as("qemu-img check %s: %s", image, check.output())
              .isIn(0, 3).isEqualTo(qemuCheck.exitCode());
          assertThat(QemuTools.bitmapsOf(image))
              .as("bitmaps of %s", image.getFileName())
              .isEqualTo(QemuTools.bitmapsOf(qemuDir.resolve(image.getFileName())));
        }
      }
    }
  }

  private static List<String> withoutHostSizes(String log) {
    List<String> lines = new ArrayList<>();
    for (String line : log.split("\n", -1)) {
      if (!line.startsWith("disk size: ") && !line.contains("\"actual-size\": ")) {
        // QEMU's generated node names end in two random digits; blocksim's in "00".
        lines.add(line.replaceAll("#block\\d+", "#block"));
      }
    }
    return lines;
  }
}
