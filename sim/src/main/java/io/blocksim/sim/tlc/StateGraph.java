package io.blocksim.sim.tlc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The complete state graph of a spec under one configuration, as TLC dumps it with {@code -dump
 * dot,actionlabels} (for model-based testing, tla-crosscheck.md §6): every reachable state with
 * its variables, and every transition labelled with the name of the action that takes it,
 * including self-loops and edges back to states already seen.
 *
 * <p>Dot format of TLC 2.18: node ids are 64-bit fingerprints; a node line is {@code ID
 * [label="..."]}, with {@code ,style = filled} for an initial state; a label is the state as
 * {@code /\ var = value} lines joined by {@code \n}; an edge line is {@code A -> B
 * [label="Action",...];}. Rank and legend lines are skipped. The graph is "strict", so generic dot
 * parsers may merge parallel edges; this parser keeps every edge line.
 */
public final class StateGraph {
  private static final Pattern EDGE =
      Pattern.compile("^(-?\\d+) -> (-?\\d+) \\[label=\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern NODE =
      Pattern.compile("^(-?\\d+) \\[label=\"((?:[^\"\\\\]|\\\\.)*)\"(,style = filled)?\\];?$");
  private static final Pattern START_OF_STATEMENT = Pattern.compile("^-?\\d+ ");

  /**
   * One reachable state.
   *
   * @param id TLC's fingerprint of the state
   * @param initial whether it is an initial state
   * @param variables variable name → value as TLC prints it, whitespace runs collapsed to one
   *     space (sets are sorted, strings quoted)
   */
  public record State(long id, boolean initial, SortedMap<String, String> variables) {

    /** Returns a variable's value parsed by {@link TlaValues#parse}. */
    public Object value(String variable) {
      String printed = variables.get(variable);
      if (printed == null) {
        throw new IllegalArgumentException("state " + id + " has no variable '" + variable + "'");
      }
      return TlaValues.parse(printed);
    }
  }

  /** One transition: {@code action} takes state {@code source} to state {@code target}. */
  public record Edge(long source, long target, String action) {}

  private final Map<Long, State> states;
  private final List<Edge> edges;
  private final TlcResult tlc;
  /** State → its outgoing edges in dot-file order; built once (walks ask per edge). */
  private final Map<Long, List<Edge>> outgoing;
  /**
   * State → the edge that first reaches it in a breadth-first search from the initial states
   * (null for an initial state); built on first use, since every walked edge needs a path.
   */
  private Map<Long, Edge> reachedBy;

  private StateGraph(Map<Long, State> states, List<Edge> edges, TlcResult tlc) {
    this.states = Collections.unmodifiableMap(states);
    this.edges = List.copyOf(edges);
    this.tlc = tlc;
    Map<Long, List<Edge>> out = new HashMap<>();
    this.edges.forEach(edge ->
        out.computeIfAbsent(edge.source(), k -> new ArrayList<>()).add(edge));
    out.replaceAll((id, list) -> List.copyOf(list));
    this.outgoing = out;
  }

  /**
   * Model-checks {@code module} with {@code config} (a file in {@code specsDir}) and loads the
   * state graph TLC dumps. Throws {@link IllegalStateException} if TLC finds an error, since a
   * graph cut short by a violation is not the complete graph.
   */
  public static StateGraph load(Path specsDir, String module, String config, Path workDir) {
    return load(specsDir, module, specsDir.resolve(config), workDir);
  }

  /**
   * As {@link #load(Path, String, String, Path)}, with a configuration file kept anywhere (for
   * example one a test writes with its own small constants).
   */
  public static StateGraph load(Path specsDir, String module, Path configFile, Path workDir) {
    String name = configFile.getFileName().toString().replace(".cfg", "");
    Path dotFile = workDir.resolve("graphs").resolve(name + ".dot");
    try {
      Files.createDirectories(dotFile.getParent());
      Files.deleteIfExists(dotFile);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    TlcResult result = TlcRunner.run(List.of(specsDir), module, configFile, workDir,
        List.of("-dump", "dot,actionlabels", dotFile.toAbsolutePath().toString()));
    if (!result.passed()) {
      throw new IllegalStateException(
          "TLC did not complete " + name + ": " + result.verdict() + "\n" + result.output());
    }
    try {
      return parse(Files.readAllLines(dotFile, StandardCharsets.UTF_8), result);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Parses the lines of a dot file written by TLC; {@code tlc} is the run, or null. */
  public static StateGraph parse(List<String> lines, TlcResult tlc) {
    Map<Long, State> states = new LinkedHashMap<>();
    List<Edge> edges = new ArrayList<>();
    for (String statement : statements(lines)) {
      Matcher edge = EDGE.matcher(statement);
      if (edge.find()) {
        edges.add(new Edge(Long.parseLong(edge.group(1)), Long.parseLong(edge.group(2)),
            unescape(edge.group(3))));
        continue;
      }
      Matcher node = NODE.matcher(statement);
      if (node.matches()) {
        long id = Long.parseLong(node.group(1));
        states.put(id, new State(id, node.group(3) != null, variables(unescape(node.group(2)))));
      }
    }
    for (Edge edge : edges) {
      if (!states.containsKey(edge.source()) || !states.containsKey(edge.target())) {
        throw new IllegalArgumentException("edge " + edge + " names a state with no node line");
      }
    }
    return new StateGraph(states, edges, tlc);
  }

  /** Returns every state, by fingerprint, in the order the dot file lists them. */
  public Map<Long, State> states() {
    return states;
  }

  /** Returns every transition in the order the dot file lists them. */
  public List<Edge> edges() {
    return edges;
  }

  /** Returns the TLC run that produced the graph, or null for a parsed file. */
  public TlcResult tlc() {
    return tlc;
  }

  /** Returns the initial states. */
  public List<State> initialStates() {
    return states.values().stream().filter(State::initial).toList();
  }

  /** Returns the names of the actions that label at least one edge. */
  public SortedSet<String> actions() {
    TreeSet<String> actions = new TreeSet<>();
    edges.forEach(edge -> actions.add(edge.action()));
    return Collections.unmodifiableSortedSet(actions);
  }

  /** Returns the edges leaving a state. */
  public List<Edge> outgoing(long stateId) {
    return outgoing.getOrDefault(stateId, List.of());
  }

  /**
   * Returns a shortest path of edges from an initial state to {@code stateId} (empty for an
   * initial state). Paths are found breadth-first in dot-file order, so they are deterministic
   * and the first failing edge of a walk is a minimal reproducer.
   */
  public List<Edge> shortestPathTo(long stateId) {
    if (!states.containsKey(stateId)) {
      throw new IllegalArgumentException("no state " + stateId);
    }
    Map<Long, Edge> reachedBy = breadthFirstTree();
    if (!reachedBy.containsKey(stateId)) {
      throw new IllegalArgumentException("state " + stateId + " is not reachable");
    }
    List<Edge> path = new ArrayList<>();
    for (Edge edge = reachedBy.get(stateId); edge != null; edge = reachedBy.get(edge.source())) {
      path.add(edge);
    }
    Collections.reverse(path);
    return List.copyOf(path);
  }

  /**
   * The breadth-first tree from the initial states, in dot-file order. A search that stopped at
   * its target would give the same parent to every state it reached, so one full search serves
   * every path (per-edge searches made a walk quadratic in the number of edges).
   */
  private Map<Long, Edge> breadthFirstTree() {
    if (reachedBy == null) {
      Map<Long, Edge> tree = new HashMap<>();
      ArrayDeque<Long> queue = new ArrayDeque<>();
      for (State initial : initialStates()) {
        tree.put(initial.id(), null);
        queue.add(initial.id());
      }
      while (!queue.isEmpty()) {
        long current = queue.poll();
        for (Edge edge : outgoing(current)) {
          if (!tree.containsKey(edge.target())) {
            tree.put(edge.target(), edge);
            queue.add(edge.target());
          }
        }
      }
      reachedBy = tree;
    }
    return reachedBy;
  }

  /**
   * Joins lines into statements. Labels escape their line breaks, but TLC may wrap a long one:
   * a statement ends only where its quotes are balanced and it closes its attribute list.
   */
  private static List<String> statements(List<String> lines) {
    List<String> statements = new ArrayList<>();
    StringBuilder current = null;
    for (String line : lines) {
      if (current == null) {
        if (!START_OF_STATEMENT.matcher(line).find()) {
          continue;   // graph header, rank lines, legend, closing braces
        }
        current = new StringBuilder(line);
      } else {
        current.append('\n').append(line);
      }
      if (isComplete(current)) {
        statements.add(current.toString());
        current = null;
      }
    }
    if (current != null) {
      throw new IllegalArgumentException("unterminated dot statement: " + current);
    }
    return statements;
  }

  private static boolean isComplete(CharSequence statement) {
    boolean inString = false;
    for (int i = 0; i < statement.length(); i++) {
      char c = statement.charAt(i);
      if (inString && c == '\\') {
        i++;
      } else if (c == '"') {
        inString = !inString;
      }
    }
    String text = statement.toString().stripTrailing();
    return !inString && (text.endsWith("]") || text.endsWith("];"));
  }

  private static String unescape(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\\' && i + 1 < text.length()) {
        char next = text.charAt(++i);
        out.append(next == 'n' ? '\n' : next);
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /** Splits a label of {@code /\ var = value} lines into variables. */
  private static SortedMap<String, String> variables(String label) {
    TreeMap<String, String> variables = new TreeMap<>();
    String name = null;
    StringBuilder value = new StringBuilder();
    for (String line : label.split("\n")) {
      if (line.startsWith("/\\ ") && line.contains(" = ")) {
        if (name != null) {
          variables.put(name, collapse(value));
        }
        int equals = line.indexOf(" = ");
        name = line.substring(3, equals).strip();
        value = new StringBuilder(line.substring(equals + 3));
      } else {
        value.append(' ').append(line);
      }
    }
    if (name != null) {
      variables.put(name, collapse(value));
    }
    return Collections.unmodifiableSortedMap(variables);
  }

  private static String collapse(CharSequence value) {
    return value.toString().strip().replaceAll("\\s+", " ");
  }
}
