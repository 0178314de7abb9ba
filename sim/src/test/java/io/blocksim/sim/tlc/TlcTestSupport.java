package io.blocksim.sim.tlc;

import java.nio.file.Files;
import java.nio.file.Path;

/** Where the tests find {@code specs/} and put TLC's scratch files. */
final class TlcTestSupport {
  private TlcTestSupport() {}

  /**
   * Returns the repository's {@code specs/} directory. Surefire runs in the sim module, so it is
   * {@code ../specs}; from the repository root it is {@code specs}. A missing directory fails the
   * test: TLC checks must never pass by not running.
   */
  static Path specsDir() {
    for (Path candidate : new Path[] {Path.of("../specs"), Path.of("specs")}) {
      if (Files.isRegularFile(candidate.resolve("manifest.json"))) {
        return candidate.toAbsolutePath().normalize();
      }
    }
    throw new IllegalStateException(
        "not run: specs/manifest.json not found from " + Path.of("").toAbsolutePath());
  }

  /** Returns a work directory under {@code target/} for one test class. */
  static Path workDir(String name) {
    return Path.of("target", "tlc", name).toAbsolutePath();
  }
}
