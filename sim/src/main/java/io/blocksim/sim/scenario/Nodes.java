package io.blocksim.sim.scenario;

import io.blocksim.sim.scenario.YamlNode.Entry;
import io.blocksim.sim.scenario.YamlNode.Kind;
import io.blocksim.sim.scenario.YamlNode.Mapping;
import io.blocksim.sim.scenario.YamlNode.Scalar;
import io.blocksim.sim.scenario.YamlNode.Sequence;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Typed reads of {@link YamlNode}s. Each reports a located problem and returns null when the
 * value has the wrong type; the parser throws when any problem was reported, so a null never
 * reaches a record. {@code what} names the value in messages, e.g. {@code 'node' in step 3}.
 */
final class Nodes {
  private static final BigInteger LONG_MIN = BigInteger.valueOf(Long.MIN_VALUE);
  private static final BigInteger LONG_MAX = BigInteger.valueOf(Long.MAX_VALUE);

  private Nodes() {}

  /**
   * Returns the text of any non-null scalar (so {@code label: 1} reads as "1"), or null after
   * reporting a list, a map or a null.
   */
  static String text(YamlNode node, String what, Problems problems) {
    if (node instanceof Scalar s && s.kind() != Kind.NULL) {
      return s.text();
    }
    problems.add(node.location(), what + " must be a string, but found " + node.describe());
    return null;
  }

  /** Returns the text of a scalar that must not be empty. */
  static String nonEmptyText(YamlNode node, String what, Problems problems) {
    String text = text(node, what, problems);
    if (text != null && text.isEmpty()) {
      problems.add(node.location(), what + " must not be empty");
      return null;
    }
    return text;
  }

  static Long integer(YamlNode node, String what, Problems problems) {
    if (node instanceof Scalar s && s.kind() == Kind.INTEGER) {
      return toLong(s, what, problems);
    }
    problems.add(node.location(), what + " must be an integer, but found " + node.describe());
    return null;
  }

  static Boolean bool(YamlNode node, String what, Problems problems) {
    if (node instanceof Scalar s && s.kind() == Kind.BOOLEAN) {
      return (Boolean) s.value();
    }
    problems.add(
        node.location(),
        what + " must be true or false, but found " + node.describe(),
        node instanceof Scalar s && s.kind() == Kind.STRING && isYaml11Boolean(s.text())
            ? "scenario files use YAML 1.2: only true and false are booleans"
            : null);
    return null;
  }

  /** Returns a size in bytes ({@link Sizes}), written as an integer or a string. */
  static Long size(YamlNode node, String what, Problems problems) {
    if (node instanceof Scalar s
        && (s.kind() == Kind.INTEGER || s.kind() == Kind.STRING || s.kind() == Kind.FLOAT)) {
      try {
        return Sizes.parse(s.text());
      } catch (IllegalArgumentException e) {
        problems.add(node.location(), what + ": " + e.getMessage(), "for example 65536, 64k, 1M, 0x10000");
        return null;
      }
    }
    problems.add(node.location(), what + " must be a size such as 64k, but found " + node.describe());
    return null;
  }

  static Long durationNs(YamlNode node, String what, Problems problems) {
    if (node instanceof Scalar s && s.kind() != Kind.NULL) {
      try {
        return Durations.parseNs(s.text());
      } catch (IllegalArgumentException e) {
        problems.add(node.location(), what + ": " + e.getMessage(), "for example 10ms, 2s, 1.5s");
        return null;
      }
    }
    problems.add(
        node.location(), what + " must be a duration such as 10ms, but found " + node.describe());
    return null;
  }

  static Mapping mapping(YamlNode node, String what, Problems problems) {
    if (node instanceof Mapping m) {
      return m;
    }
    problems.add(node.location(), what + " must be a map, but found " + node.describe());
    return null;
  }

  static Sequence sequence(YamlNode node, String what, Problems problems) {
    if (node instanceof Sequence s) {
      return s;
    }
    problems.add(node.location(), what + " must be a list, but found " + node.describe());
    return null;
  }

  /** Returns a list of non-empty strings, or null after reporting. */
  static List<String> texts(YamlNode node, String what, Problems problems) {
    Sequence seq = sequence(node, what, problems);
    if (seq == null) {
      return null;
    }
    List<String> out = new ArrayList<>();
    boolean ok = true;
    for (YamlNode item : seq.items()) {
      String text = nonEmptyText(item, "each item of " + what, problems);
      ok &= text != null;
      out.add(text);
    }
    return ok ? Collections.unmodifiableList(out) : null;
  }

  /**
   * Returns a QMP value: Map (LinkedHashMap, file order), List, String, Long, Boolean or null.
   * Floats and integers outside the long range are reported.
   */
  static Object qmpValue(YamlNode node, Problems problems) {
    if (node instanceof Mapping m) {
      return qmpObject(m, problems);
    }
    if (node instanceof Sequence seq) {
      List<Object> out = new ArrayList<>();
      for (YamlNode item : seq.items()) {
        out.add(qmpValue(item, problems));
      }
      return Collections.unmodifiableList(out);
    }
    return scalarValue((Scalar) node, "a QMP value", problems);
  }

  static Map<String, Object> qmpObject(Mapping mapping, Problems problems) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (Entry e : mapping.entries()) {
      out.put(e.key().text(), qmpValue(e.value(), problems));
    }
    return Collections.unmodifiableMap(out);
  }

  /** Returns a scalar as a plain Java value (String, Long, Boolean or null). */
  static Object scalarValue(Scalar s, String what, Problems problems) {
    return switch (s.kind()) {
      case STRING -> s.text();
      case BOOLEAN -> s.value();
      case NULL -> null;
      case INTEGER -> toLong(s, what, problems);
      case FLOAT -> {
        problems.add(
            s.location(),
            "floating-point values are not supported, but found '" + s.text() + "'",
            "use an integer, or quote the value to make it a string");
        yield null;
      }
    };
  }

  private static Long toLong(Scalar s, String what, Problems problems) {
    BigInteger value = (BigInteger) s.value();
    if (value.compareTo(LONG_MIN) < 0 || value.compareTo(LONG_MAX) > 0) {
      problems.add(
          s.location(),
          what + " '" + s.text() + "' is out of range (a 64-bit signed integer is needed)");
      return null;
    }
    return value.longValueExact();
  }

  /**
   * Reports every key of the mapping not in {@code allowed}, as "unknown {@code what} 'key' in
   * {@code where}" (where may be null), with a close match as a hint, or else the list of keys
   * that {@code taker} takes.
   */
  static void checkKeys(
      Mapping mapping, Collection<String> allowed, String what, String where, String taker,
      Problems problems) {
    for (Entry e : mapping.entries()) {
      String key = e.key().text();
      if (!allowed.contains(key)) {
        problems.add(
            e.key().location(),
            "unknown " + what + " '" + key + "'" + (where == null ? "" : " in " + where),
            hintFor(key, allowed, taker + " takes: " + String.join(", ", allowed)));
      }
    }
  }

  /** Returns "did you mean 'x'?" for a close candidate, else {@code otherwise}. */
  static String hintFor(String word, Collection<String> candidates, String otherwise) {
    String closest = Spelling.closest(word, candidates);
    return closest != null ? "did you mean '" + closest + "'?" : otherwise;
  }

  /** Returns the value of a required key, or null after reporting that it is missing. */
  static YamlNode required(Mapping mapping, String key, String subject, Problems problems) {
    YamlNode value = mapping.get(key);
    if (value == null) {
      problems.add(mapping.location(), subject + " needs '" + key + "'");
    }
    return value;
  }

  private static boolean isYaml11Boolean(String text) {
    return text.matches("(?i)yes|no|on|off|y|n");
  }
}
