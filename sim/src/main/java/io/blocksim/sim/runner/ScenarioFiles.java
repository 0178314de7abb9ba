package io.blocksim.sim.runner;

import io.blocksim.sim.files.RepositoryRoot;
import io.blocksim.sim.scenario.Location;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.ScenarioError;
import io.blocksim.sim.scenario.ScenarioParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Finds scenario files under the paths given on the command line and parses them. */
public final class ScenarioFiles {
  private ScenarioFiles() {}

  /** The parsed scenarios and the rendered errors of the files that did not parse. */
  public record Loaded(List<Scenario> scenarios, List<String> errors) {}

  /** Returns the .yaml files named or found below the paths, sorted, as display paths. */
  public static List<Path> find(List<Path> paths) throws IOException {
    List<Path> files = new ArrayList<>();
    for (Path path : paths) {
      if (Files.isDirectory(path)) {
        try (Stream<Path> walk = Files.walk(path)) {
          walk.filter(p -> p.toString().endsWith(".yaml") && Files.isRegularFile(p))
              .sorted()
              .forEach(files::add);
        }
      } else {
        files.add(path);
      }
    }
    return files;
  }

  public static Loaded load(List<Path> paths) throws IOException {
    List<Path> files = find(paths);
    // Each file parses on its own (parsing is a pure function of its bytes), so the files are
    // parsed on all cores; the results are taken in file order.
    List<Object> parsed = files.parallelStream() // determinism-ok: pure parses, kept in order
        .map(ScenarioFiles::loadOne).toList();
    List<Scenario> scenarios = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    for (Object one : parsed) {
      if (one instanceof Scenario scenario) {
        scenarios.add(scenario);
      } else if (one instanceof String error) {
        errors.add(error);
      } else {
        throw (IOException) one;
      }
    }
    return new Loaded(scenarios, errors);
  }

  /** A file's scenario, or its rendered error, or the IOException reading it threw. */
  private static Object loadOne(Path file) {
    String display = display(file);
    if (!Files.isRegularFile(file)) {
      return new ScenarioError.Problem(new Location(display, 1, 1), "no such scenario file",
          "give a .yaml file or a directory of them", null).render();
    }
    try {
      return ScenarioParser.parse(file, display);
    } catch (ScenarioError e) {
      return e.render();
    } catch (IOException e) {
      return e;
    }
  }

  /**
   * Returns how a file is shown (in results, errors, {@code reproduce:} lines, JUnit, and as a
   * scenario's path): relative to the repository root when inside it, else absolute, with
   * forward slashes; so the same file reads the same from any working directory, however it was
   * spelled. Outside a checkout (no root known): as the user wrote it, without a leading "./".
   */
  public static String display(Path file) {
    Path root = RepositoryRoot.find();
    if (root != null) {
      Path absolute = file.toAbsolutePath().normalize();
      return slashes(absolute.startsWith(root) ? root.relativize(absolute) : absolute);
    }
    String s = slashes(file.normalize());
    return s.startsWith("./") ? s.substring(2) : s;
  }

  /** Returns the file a {@link #display} path names, whatever the working directory. */
  public static Path file(String display) {
    Path path = Path.of(display);
    Path root = RepositoryRoot.find();
    return root == null || path.isAbsolute() ? path : root.resolve(path);
  }

  private static String slashes(Path path) {
    return path.toString().replace('\\', '/');
  }

  /** Returns the golden file of a case: NAME.out, or NAME.CASE.out for matrix cases. */
  public static Path golden(String scenarioPath, String caseName) {
    String base = scenarioPath.substring(0, scenarioPath.length() - ".yaml".length());
    return file(caseName.isEmpty() ? base + ".out" : base + "." + caseName + ".out");
  }
}
