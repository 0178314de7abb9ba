package io.blocksim.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
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
 * The packages of sim/ form no cycle (issue 11): the backend port ({@code port}) sits below the
 * scenario parser, the runner and both backends; the command line ({@code cli}) sits on top. The
 * graph is read from the sources: every {@code io.blocksim.sim.<package>.} named in code
 * (imports and qualified names; comments do not count).
 */
class SimPackageCycleTest {
  private static final Path SOURCES = Path.of("src", "main", "java", "io", "blocksim", "sim");
  private static final Pattern REFERENCE = Pattern.compile("\\bio\\.blocksim\\.sim\\.([a-z0-9]+)\\.");
  private static final Pattern COMMENTS =
      Pattern.compile("/\\*.*?\\*/|//[^\\n]*|\"(?:\\\\.|[^\"\\\\])*\"", Pattern.DOTALL);

  @Test
  void simPackagesFormNoCycle() throws IOException {
    Map<String, Set<String>> edges = packageGraph(SOURCES);
    assertThat(edges).containsKeys("port", "scenario", "runner", "backend", "qemu", "cli");

    assertThat(cycles(edges)).as("package cycles in sim/ (edges: %s)", edges).isEmpty();
  }

  @Test
  void theBackendPortDependsOnNoOtherSimPackage() throws IOException {
    assertThat(packageGraph(SOURCES).get("port")).isEmpty();
  }

  @Test
  void aCycleIsFound() {
    Map<String, Set<String>> edges = new TreeMap<>(Map.of(
        "a", Set.of("b"), "b", Set.of("c"), "c", Set.of("a"), "d", Set.of("a")));

    assertThat(cycles(edges)).containsExactly(List.of("a", "b", "c"));
  }

  /** Returns each package's dependencies on other packages of sim/. */
  static Map<String, Set<String>> packageGraph(Path root) throws IOException {
    Map<String, Set<String>> edges = new TreeMap<>();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(root)) {
      files = walk.filter(p -> p.toString().endsWith(".java")).sorted().toList();
    }
    for (Path file : files) {
      Path relative = root.relativize(file.getParent());
      String from = relative.getNameCount() == 0 ? "" : relative.getName(0).toString();
      Set<String> targets = edges.computeIfAbsent(from, k -> new TreeSet<>());
      String code = COMMENTS.matcher(Files.readString(file, StandardCharsets.UTF_8))
          .replaceAll(m -> m.group().startsWith("\"") ? "\"\"" : " ");
      Matcher m = REFERENCE.matcher(code);
      while (m.find()) {
        if (!m.group(1).equals(from)) {
          targets.add(m.group(1));
        }
      }
    }
    return edges;
  }

  /** Returns the strongly connected components with more than one package (Tarjan). */
  static List<List<String>> cycles(Map<String, Set<String>> edges) {
    Map<String, Integer> index = new TreeMap<>();
    Map<String, Integer> low = new TreeMap<>();
    Deque<String> stack = new ArrayDeque<>();
    Set<String> onStack = new TreeSet<>();
    List<List<String>> out = new ArrayList<>();
    for (String node : edges.keySet()) {
      if (!index.containsKey(node)) {
        connect(node, edges, index, low, stack, onStack, out);
      }
    }
    return out;
  }

  private static void connect(String node, Map<String, Set<String>> edges,
      Map<String, Integer> index, Map<String, Integer> low, Deque<String> stack,
      Set<String> onStack, List<List<String>> out) {
    index.put(node, index.size());
    low.put(node, index.get(node));
    stack.push(node);
    onStack.add(node);
    for (String next : edges.getOrDefault(node, Set.of())) {
      if (!index.containsKey(next)) {
        connect(next, edges, index, low, stack, onStack, out);
        low.put(node, Math.min(low.get(node), low.get(next)));
      } else if (onStack.contains(next)) {
        low.put(node, Math.min(low.get(node), index.get(next)));
      }
    }
    if (low.get(node).equals(index.get(node))) {
      Set<String> component = new TreeSet<>();
      String member;
      do {
        member = stack.pop();
        onStack.remove(member);
        component.add(member);
      } while (!member.equals(node));
      if (component.size() > 1) {
        out.add(List.copyOf(component));
      }
    }
  }
}
