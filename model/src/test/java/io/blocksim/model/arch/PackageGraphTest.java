package io.blocksim.model.arch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the layering of README's "Architecture" section: the package graph of model/'s main
 * sources (from imports and fully qualified names in code, comments and strings left out) has no
 * cycle except {@code graph} and {@code driver} (QEMU's BlockDriverState and BlockDriver name each
 * other), and no source file of model/ or sim/ (main or test) exceeds 1,000 lines.
 */
class PackageGraphTest {
  static final String ROOT = "io.blocksim.model";
  /** The one cycle QEMU's design has: a node holds its driver, a driver acts on its node. */
  static final Set<String> ALLOWED_CYCLE = Set.of("graph", "driver");
  static final int MAX_LINES = 1000;

  private static final Pattern PACKAGE = Pattern.compile("^package\\s+([\\w.]+)\\s*;",
      Pattern.MULTILINE);
  /** A reference to a class: the package part is lower case, the class name starts upper case. */
  private static final Pattern REFERENCE = Pattern.compile(
      "\\bio\\.blocksim\\.model((?:\\.[a-z_][a-z0-9_]*)*)\\.(?:[A-Z]|\\*)");
  private static final Pattern COMMENT_OR_STRING = Pattern.compile(
      "/\\*.*?\\*/|//[^\\n]*|\"(?:\\\\.|[^\"\\\\\\n])*\"|'(?:\\\\.|[^'\\\\\\n])*'", Pattern.DOTALL);

  static Path moduleRoot(String module) {
    Path here = Path.of("").toAbsolutePath();
    Path candidate = here.resolve(module);
    if (Files.isDirectory(candidate.resolve("src/main/java"))) {
      return candidate;
    }
    return here.getParent().resolve(module);
  }

  /** Returns the package dependency graph of model/'s main sources, relative to ROOT. */
  static Map<String, Set<String>> modelGraph() {
    Map<String, Set<String>> graph = new TreeMap<>();
    for (Path file : javaFiles(moduleRoot("model").resolve("src/main/java"))) {
      String code = COMMENT_OR_STRING.matcher(read(file)).replaceAll(m ->
          m.group().startsWith("\"") || m.group().startsWith("'") ? "\"\"" : " ");
      Matcher pkg = PACKAGE.matcher(code);
      if (!pkg.find()) {
        throw new AssertionError(file + " has no package declaration");
      }
      String from = relative(pkg.group(1));
      Set<String> targets = graph.computeIfAbsent(from, k -> new TreeSet<>());
      Matcher ref = REFERENCE.matcher(code);
      while (ref.find()) {
        String to = relative(ROOT + ref.group(1));
        if (!to.equals(from)) {
          targets.add(to);
        }
      }
    }
    return graph;
  }

  /** Folds subpackages into their top-level package ({@code driver.qcow2} into {@code driver}). */
  static Map<String, Set<String>> topLevel(Map<String, Set<String>> graph) {
    Map<String, Set<String>> top = new TreeMap<>();
    graph.forEach((from, tos) -> {
      Set<String> targets = top.computeIfAbsent(head(from), k -> new TreeSet<>());
      for (String to : tos) {
        if (!head(to).equals(head(from))) {
          targets.add(head(to));
        }
      }
    });
    return top;
  }

  private static String head(String pkg) {
    int dot = pkg.indexOf('.');
    return dot < 0 ? pkg : pkg.substring(0, dot);
  }

  private static String relative(String pkg) {
    return pkg.equals(ROOT) ? "(root)" : pkg.substring(ROOT.length() + 1);
  }

  /** Returns the strongly connected components with more than one package (Tarjan). */
  static List<Set<String>> cycles(Map<String, Set<String>> graph) {
    Map<String, Integer> index = new TreeMap<>();
    Map<String, Integer> low = new TreeMap<>();
    List<String> stack = new ArrayList<>();
    List<Set<String>> result = new ArrayList<>();
    for (String v : graph.keySet()) {
      if (!index.containsKey(v)) {
        strongConnect(v, graph, index, low, stack, result);
      }
    }
    return result;
  }

  private static void strongConnect(String v, Map<String, Set<String>> graph,
      Map<String, Integer> index, Map<String, Integer> low, List<String> stack,
      List<Set<String>> result) {
    index.put(v, index.size());
    low.put(v, index.get(v));
    stack.add(v);
    for (String w : graph.getOrDefault(v, Set.of())) {
      if (!index.containsKey(w)) {
        strongConnect(w, graph, index, low, stack, result);
        low.put(v, Math.min(low.get(v), low.get(w)));
      } else if (stack.contains(w)) {
        low.put(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v).equals(index.get(v))) {
      Set<String> component = new TreeSet<>();
      String w;
      do {
        w = stack.remove(stack.size() - 1);
        component.add(w);
      } while (!w.equals(v));
      if (component.size() > 1) {
        result.add(component);
      }
    }
  }

  @Test
  void topLevelPackagesFormNoCycleButGraphAndDriver() {
    List<Set<String>> cycles = cycles(topLevel(modelGraph()));
    cycles.removeIf(c -> c.equals(ALLOWED_CYCLE));
    assertThat(cycles).as("package cycles in model/ (edges: %s)", topLevel(modelGraph()))
        .isEmpty();
  }

  @Test
  void subpackagesFormNoCycleButGraphAndDriver() {
    // Inside the graph <-> driver pair, only graph and the driver package itself may name each
    // other: a driver's own subpackage (driver.qcow2, ...) sits below both.
    List<Set<String>> cycles = cycles(modelGraph());
    cycles.removeIf(c -> c.equals(ALLOWED_CYCLE));
    assertThat(cycles).as("package cycles in model/ (edges: %s)", modelGraph()).isEmpty();
  }

  @Test
  void cycleFinderFindsACycle() {
    Map<String, Set<String>> g = new TreeMap<>(Map.of("a", Set.of("b"), "b", Set.of("c"),
        "c", Set.of("a"), "d", Set.of("a")));
    assertThat(cycles(g)).containsExactly(Set.of("a", "b", "c"));
  }

  @Test
  void aWildcardImportIsAnEdge() {
    Matcher m = REFERENCE.matcher("import io.blocksim.model.graph.*;");
    assertThat(m.find()).isTrue();
    assertThat(m.group(1)).isEqualTo(".graph");
  }

  @Test
  void noSourceFileExceedsAThousandLines() {
    List<String> tooLong = new ArrayList<>();
    for (String module : List.of("model", "sim")) {
      for (Path file : Stream.of("src/main/java", "src/test/java")
          .flatMap(dir -> javaFiles(moduleRoot(module).resolve(dir)).stream()).toList()) {
        long lines = read(file).lines().count();
        if (lines > MAX_LINES) {
          tooLong.add(module + "/" + moduleRoot(module).relativize(file) + " (" + lines + ")");
        }
      }
    }
    assertThat(tooLong).as("source files above %d lines", MAX_LINES).isEmpty();
  }

  private static List<Path> javaFiles(Path root) {
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(p -> p.toString().endsWith(".java")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Prints the edge list (full packages, then top level): {@code java ... PackageGraphTest}. */
  public static void main(String[] args) {
    Map<String, Set<String>> g = modelGraph();
    g.forEach((from, tos) -> tos.forEach(to -> System.out.println(from + " -> " + to)));
    System.out.println("-- top level");
    topLevel(g).forEach((from, tos) -> tos.forEach(to -> System.out.println(from + " -> " + to)));
    System.out.println("-- cycles " + cycles(g) + " top level " + cycles(topLevel(g)));
  }
}
