package io.blocksim.sim.scenario;

import io.blocksim.sim.scenario.YamlNode.Entry;
import io.blocksim.sim.scenario.YamlNode.Kind;
import io.blocksim.sim.scenario.YamlNode.Mapping;
import io.blocksim.sim.scenario.YamlNode.Scalar;
import io.blocksim.sim.scenario.YamlNode.Sequence;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Replaces {@code ${var}} in the strings of one case. A string that is exactly {@code ${var}}
 * becomes the variable's value with its YAML type; inside a longer string the value is inserted as
 * written in the matrix. {@code $${} writes a literal {@code ${}. Keys of maps are not
 * substituted, and neither is a step's {@code when:}.
 */
final class Substitution {
  private static final Pattern EXACT = Pattern.compile("\\$\\{([^}]*)\\}");

  private final Matrix matrix;
  private final Map<String, Scalar> values;
  private final Problems problems;

  Substitution(Matrix matrix, Map<String, Scalar> values, Problems problems) {
    this.matrix = matrix;
    this.values = values;
    this.problems = problems;
  }

  /** Returns the node with every string substituted; keys listed in {@code skip} stay as written. */
  YamlNode apply(YamlNode node, Set<String> skip) {
    if (node instanceof Mapping m) {
      List<Entry> entries = new ArrayList<>();
      for (Entry e : m.entries()) {
        boolean keep = skip.contains(e.key().text());
        entries.add(new Entry(e.key(), keep ? e.value() : apply(e.value(), Set.of())));
      }
      return new Mapping(m.location(), List.copyOf(entries));
    }
    if (node instanceof Sequence seq) {
      List<YamlNode> items = new ArrayList<>();
      for (YamlNode item : seq.items()) {
        items.add(apply(item, Set.of()));
      }
      return new Sequence(seq.location(), List.copyOf(items));
    }
    Scalar scalar = (Scalar) node;
    if (scalar.kind() != Kind.STRING || !scalar.text().contains("$")) {
      return scalar;
    }
    return substitute(scalar);
  }

  private Scalar substitute(Scalar scalar) {
    String text = scalar.text();
    Matcher exact = EXACT.matcher(text);
    if (exact.matches() && Matrix.VARIABLE_NAME.matcher(exact.group(1)).matches()) {
      Scalar value = lookUp(exact.group(1), scalar);
      return value == null ? scalar : value.at(scalar.location());
    }
    StringBuilder out = new StringBuilder();
    int i = 0;
    while (i < text.length()) {
      if (text.startsWith("$${", i)) {
        out.append("${");
        i += 3;
      } else if (text.startsWith("${", i)) {
        int end = text.indexOf('}', i + 2);
        if (end < 0) {
          problems.add(
              problems.locate(scalar.location(), text.substring(i)),
              "unterminated '${' in '" + text + "'",
              "write ${name}, or $${ for a literal '${'");
          return scalar;
        }
        String name = text.substring(i + 2, end);
        String reference = text.substring(i, end + 1);
        if (!Matrix.VARIABLE_NAME.matcher(name).matches()) {
          problems.add(
              problems.locate(scalar.location(), reference),
              "'" + reference + "' is not a valid variable reference",
              "write ${name}, or $${ for a literal '${'");
          return scalar;
        }
        Scalar value = lookUp(name, scalar);
        out.append(value == null ? reference : value.text());
        i = end + 1;
      } else {
        out.append(text.charAt(i));
        i++;
      }
    }
    return Scalar.string(scalar.location(), out.toString());
  }

  /** Returns the case's value of a variable, or null (reported unless the variable is broken). */
  private Scalar lookUp(String name, Scalar use) {
    Scalar value = values.get(name);
    if (value == null && matrix.isBroken(name)) {
      problems.suppressAt(use.location());
    } else if (value == null) {
      problems.add(
          problems.locate(use.location(), "${" + name + "}"),
          "unknown matrix variable '" + name + "'",
          matrix.names().isEmpty()
              ? "the scenario has no matrix; write $${ for a literal '${'"
              : Nodes.hintFor(
                  name, matrix.names(), "matrix variables: " + String.join(", ", matrix.names())));
    }
    return value;
  }
}
