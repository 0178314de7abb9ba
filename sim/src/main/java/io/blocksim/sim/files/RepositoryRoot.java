package io.blocksim.sim.files;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The blocksim checkout this code runs from: where the {@code blocksim} script lives (it passes
 * {@code -Dblocksim.root}), else the folder above the classes (sim/target/classes or the jar in
 * sim/target) that has specs/ and sim/. Paths shown to the user are relative to it, so results
 * do not depend on the working directory or on how a path was spelled.
 */
public final class RepositoryRoot {
  private static final Path ROOT = locate();

  private RepositoryRoot() {}

  /** Returns the absolute, normalised root, or null when the code runs outside a checkout. */
  public static Path find() {
    return ROOT;
  }

  private static Path locate() {
    String root = System.getProperty("blocksim.root");
    if (root != null) {
      return Path.of(root).toAbsolutePath().normalize();
    }
    try {
      Path code = Path.of(RepositoryRoot.class.getProtectionDomain().getCodeSource().getLocation()
          .toURI());
      for (Path dir = code; dir != null; dir = dir.getParent()) {
        if (Files.isDirectory(dir.resolve("specs")) && Files.isDirectory(dir.resolve("sim"))) {
          return dir.toAbsolutePath().normalize();
        }
      }
    } catch (java.net.URISyntaxException | RuntimeException e) {
      // Not in a checkout: paths are shown as given.
    }
    return null;
  }
}
