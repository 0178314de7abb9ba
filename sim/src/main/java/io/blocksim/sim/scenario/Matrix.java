package io.blocksim.sim.scenario;

import io.blocksim.sim.scenario.YamlNode.Entry;
import io.blocksim.sim.scenario.YamlNode.Kind;
import io.blocksim.sim.scenario.YamlNode.Mapping;
import io.blocksim.sim.scenario.YamlNode.Scalar;
import io.blocksim.sim.scenario.YamlNode.Sequence;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@code matrix:} of a scenario: variables in written order, each with its values, the cases
 * they make (first variable varying slowest), and the {@code when:} filter of a step.
 */
final class Matrix {
  /** More cases than this is almost certainly a mistake, and each one is a full run. */
  static final int CASE_LIMIT = 1024;

  static final Pattern VARIABLE_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_-]*");

  /** The well-formed variables, in written order. */
  private final Map<String, List<Scalar>> variables;

  /**
   * Variables written but refused; references to them are not reported again, so that one
   * mistake gives one message.
   */
  private final Set<String> broken;

  private Matrix(Map<String, List<Scalar>> variables, Set<String> broken) {
    this.variables = variables;
    this.broken = broken;
  }

  static Matrix none() {
    return new Matrix(new LinkedHashMap<>(), new LinkedHashSet<>());
  }

  /** Reads a {@code matrix:} value; {@code node} is null when the key is absent. */
  static Matrix read(YamlNode node, Problems problems) {
    Matrix matrix = none();
    if (node == null) {
      return matrix;
    }
    Mapping mapping = Nodes.mapping(node, "'matrix'", problems);
    if (mapping == null) {
      return matrix;
    }
    for (Entry e : mapping.entries()) {
      String name = e.key().text();
      List<Scalar> values = readValues(e, problems);
      if (values == null) {
        matrix.broken.add(name);
      } else {
        matrix.variables.put(name, values);
      }
    }
    long cases = matrix.caseCount();
    if (cases > CASE_LIMIT) {
      problems.add(
          mapping.location(),
          "the matrix makes " + (cases == Long.MAX_VALUE ? "too many" : cases)
              + " cases; at most " + CASE_LIMIT + " are allowed",
          "split the scenario, or use fewer values");
      matrix.variables.keySet().forEach(matrix.broken::add);
      matrix.variables.clear();
    }
    return matrix;
  }

  private static List<Scalar> readValues(Entry entry, Problems problems) {
    String name = entry.key().text();
    boolean ok = true;
    if (!VARIABLE_NAME.matcher(name).matches()) {
      problems.add(
          entry.key().location(),
          "matrix variable name '" + name + "' is not valid",
          "use letters, digits, '_' and '-', starting with a letter or '_'");
      ok = false;
    }
    if (!(entry.value() instanceof Sequence seq) || seq.items().isEmpty()) {
      problems.add(
          entry.value().location(),
          "matrix variable '" + name + "' needs a non-empty list of values, but found "
              + (entry.value() instanceof Sequence ? "an empty list" : entry.value().describe()),
          "for example: " + name + ": [a, b]");
      return null;
    }
    List<Scalar> values = new ArrayList<>();
    Set<String> texts = new LinkedHashSet<>();
    for (YamlNode item : seq.items()) {
      if (!(item instanceof Scalar s)) {
        problems.add(
            item.location(),
            "a value of matrix variable '" + name + "' must be a scalar, but found "
                + item.describe());
        ok = false;
        continue;
      }
      if (s.kind() == Kind.FLOAT) {
        Nodes.scalarValue(s, "a matrix value", problems); // reports the float
        ok = false;
        continue;
      }
      if (s.kind() == Kind.INTEGER && Nodes.scalarValue(s, "a matrix value", problems) == null) {
        ok = false;
        continue;
      }
      if (!texts.add(s.text())) {
        problems.add(
            s.location(),
            "matrix variable '" + name + "' lists the value '" + s.text() + "' twice");
        ok = false;
        continue;
      }
      values.add(s);
    }
    return ok ? Collections.unmodifiableList(values) : null;
  }

  /** Returns the number of cases, or Long.MAX_VALUE when it would overflow. */
  private long caseCount() {
    long count = 1;
    for (List<Scalar> values : variables.values()) {
      if (count > Long.MAX_VALUE / values.size()) {
        return Long.MAX_VALUE;
      }
      count *= values.size();
    }
    return count;
  }

  /** Returns the variables and their values as plain Java values, in written order. */
  Map<String, List<Object>> javaValues(Problems problems) {
    Map<String, List<Object>> out = new LinkedHashMap<>();
    for (Map.Entry<String, List<Scalar>> e : variables.entrySet()) {
      List<Object> values = new ArrayList<>();
      for (Scalar s : e.getValue()) {
        values.add(Nodes.scalarValue(s, "a matrix value", problems));
      }
      out.put(e.getKey(), Collections.unmodifiableList(values));
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * Returns every case, each a map variable to value in written order; the first variable varies
   * slowest. Without variables there is one case with none.
   */
  List<Map<String, Scalar>> cases() {
    List<Map<String, Scalar>> cases = new ArrayList<>();
    cases.add(new LinkedHashMap<>());
    for (Map.Entry<String, List<Scalar>> variable : variables.entrySet()) {
      List<Map<String, Scalar>> next = new ArrayList<>();
      for (Map<String, Scalar> partial : cases) {
        for (Scalar value : variable.getValue()) {
          Map<String, Scalar> extended = new LinkedHashMap<>(partial);
          extended.put(variable.getKey(), value);
          next.add(extended);
        }
      }
      cases = next;
    }
    return cases;
  }

  /** Returns {@code var=value,var=value} in written order, "" for no variables. */
  static String caseName(Map<String, Scalar> values) {
    StringBuilder name = new StringBuilder();
    for (Map.Entry<String, Scalar> e : values.entrySet()) {
      if (name.length() > 0) {
        name.append(',');
      }
      name.append(e.getKey()).append('=').append(e.getValue().text());
    }
    return name.toString();
  }

  boolean isBroken(String variable) {
    return broken.contains(variable);
  }

  Set<String> names() {
    return variables.keySet();
  }

  /**
   * Returns whether a step with this {@code when:} runs in the case. Reports a malformed filter;
   * a step whose filter is malformed counts as running, so its other problems are reported too.
   */
  boolean when(YamlNode node, Map<String, Scalar> caseValues, String subject, Problems problems) {
    if (node instanceof Sequence alternatives) {
      // A list of filters runs the step when any of them matches (every one is still checked).
      if (alternatives.items().isEmpty()) {
        problems.add(node.location(), "'when' in " + subject + " lists no filters",
            "for example: when: [{mode: a}, {failure: none}]");
        return true;
      }
      boolean any = false;
      for (YamlNode alternative : alternatives.items()) {
        any |= whenAll(alternative, caseValues, subject, problems);
      }
      return any;
    }
    return whenAll(node, caseValues, subject, problems);
  }

  private boolean whenAll(YamlNode node, Map<String, Scalar> caseValues, String subject,
      Problems problems) {
    Mapping mapping = Nodes.mapping(node, "'when' in " + subject, problems);
    if (mapping == null) {
      return true;
    }
    if (mapping.entries().isEmpty()) {
      problems.add(
          node.location(), "'when' in " + subject + " is empty", "for example: when: {mode: a}");
      return true;
    }
    boolean runs = true;
    for (Entry e : mapping.entries()) {
      String name = e.key().text();
      if (isBroken(name)) {
        continue;
      }
      List<Scalar> values = variables.get(name);
      if (values == null) {
        problems.add(
            e.key().location(),
            "'when' in " + subject + " names '" + name + "', which is not a matrix variable",
            variables.isEmpty()
                ? "the scenario has no matrix"
                : Nodes.hintFor(
                    name, variables.keySet(),
                    "matrix variables: " + String.join(", ", variables.keySet())));
        continue;
      }
      List<Scalar> wanted = whenValues(e, values, subject, problems);
      if (wanted != null && wanted.stream().noneMatch(w -> w.sameValue(caseValues.get(name)))) {
        runs = false;
      }
    }
    return runs;
  }

  private static List<Scalar> whenValues(
      Entry entry, List<Scalar> values, String subject, Problems problems) {
    List<YamlNode> items =
        entry.value() instanceof Sequence seq ? seq.items() : List.of(entry.value());
    if (items.isEmpty()) {
      problems.add(entry.value().location(), "'when' in " + subject + " lists no values");
      return null;
    }
    List<Scalar> wanted = new ArrayList<>();
    for (YamlNode item : items) {
      if (!(item instanceof Scalar s)) {
        problems.add(
            item.location(),
            "a value in 'when' must be a scalar, but found " + item.describe());
        return null;
      }
      if (values.stream().noneMatch(s::sameValue)) {
        List<String> texts = values.stream().map(Scalar::text).toList();
        problems.add(
            s.location(),
            "'" + s.text() + "' is not a value of matrix variable '" + entry.key().text() + "'",
            "its values are: " + String.join(", ", texts)
                + (texts.contains(s.text()) ? " (compare as YAML values: quote or unquote it)"
                    : ""));
        return null;
      }
      wanted.add(s);
    }
    return wanted;
  }
}
