package io.blocksim.sim.scenario;

import java.math.BigInteger;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A YAML value with the place it was written: what the parser interprets. Scalars are resolved
 * with the YAML 1.2 core schema (only {@code true}/{@code false} are booleans, so {@code on},
 * {@code off}, {@code yes} and {@code no} stay strings, as QAPI enums need them), not YAML 1.1's.
 */
sealed interface YamlNode permits YamlNode.Scalar, YamlNode.Sequence, YamlNode.Mapping {

  Location location();

  /** Returns what the value is, for messages: "a string", "a list", ... */
  String describe();

  /** The YAML 1.2 core schema types, plus FLOAT, which scenario files never accept as a value. */
  enum Kind {
    STRING("a string"),
    INTEGER("an integer"),
    BOOLEAN("a boolean"),
    NULL("null"),
    FLOAT("a floating-point number");

    final String description;

    Kind(String description) {
      this.description = description;
    }
  }

  /**
   * A scalar. {@code text} is the value as written (without quotes); {@code value} is a String,
   * BigInteger, Boolean or null according to {@code kind} (FLOAT keeps its text).
   */
  record Scalar(Location location, String text, Kind kind, Object value) implements YamlNode {
    private static final Pattern NULL = Pattern.compile("~|null|Null|NULL|");
    private static final Pattern TRUE = Pattern.compile("true|True|TRUE");
    private static final Pattern FALSE = Pattern.compile("false|False|FALSE");
    private static final Pattern DECIMAL = Pattern.compile("[-+]?[0-9]+");
    private static final Pattern OCTAL = Pattern.compile("0o[0-7]+");
    private static final Pattern HEX = Pattern.compile("0x[0-9a-fA-F]+");
    private static final Pattern FLOAT =
        Pattern.compile(
            "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?"
                + "|[-+]?\\.(inf|Inf|INF)|\\.nan|\\.NaN|\\.NAN");

    /** Resolves a plain (unquoted) scalar as the YAML 1.2 core schema does. */
    static Scalar plain(Location location, String text) {
      // Each pattern is tried only where the first character allows it to match (most scalars
      // are words: keys, command and node names), which spares a few regex matchers per scalar.
      char first = text.isEmpty() ? '~' : text.charAt(0);
      if ((first == '~' || first == 'n' || first == 'N') && NULL.matcher(text).matches()) {
        return new Scalar(location, text, Kind.NULL, null);
      }
      if ((first == 't' || first == 'T') && TRUE.matcher(text).matches()) {
        return new Scalar(location, text, Kind.BOOLEAN, Boolean.TRUE);
      }
      if ((first == 'f' || first == 'F') && FALSE.matcher(text).matches()) {
        return new Scalar(location, text, Kind.BOOLEAN, Boolean.FALSE);
      }
      boolean numeric = (first >= '0' && first <= '9') || first == '+' || first == '-'
          || first == '.';
      if (!numeric) {
        return string(location, text);
      }
      if (DECIMAL.matcher(text).matches()) {
        String digits = text.startsWith("+") ? text.substring(1) : text;
        return new Scalar(location, text, Kind.INTEGER, new BigInteger(digits));
      }
      if (OCTAL.matcher(text).matches()) {
        return new Scalar(location, text, Kind.INTEGER, new BigInteger(text.substring(2), 8));
      }
      if (HEX.matcher(text).matches()) {
        return new Scalar(location, text, Kind.INTEGER, new BigInteger(text.substring(2), 16));
      }
      if (FLOAT.matcher(text).matches()) {
        return new Scalar(location, text, Kind.FLOAT, text);
      }
      return string(location, text);
    }

    static Scalar string(Location location, String text) {
      return new Scalar(location, text, Kind.STRING, text);
    }

    /** Returns the same value written at another place (a substituted {@code ${var}}). */
    Scalar at(Location elsewhere) {
      return new Scalar(elsewhere, text, kind, value);
    }

    /** Returns whether two scalars are the same YAML value (so 16 and 0x10 are equal). */
    boolean sameValue(Scalar other) {
      return kind == other.kind
          && (kind == Kind.FLOAT ? text.equals(other.text) : java.util.Objects.equals(value,
              other.value));
    }

    @Override
    public String describe() {
      return kind == Kind.NULL ? "null" : kind.description + " '" + text + "'";
    }
  }

  record Sequence(Location location, List<YamlNode> items) implements YamlNode {
    @Override
    public String describe() {
      return "a list";
    }
  }

  /** A mapping, entries in file order; keys are unique (the reader reports duplicates). */
  record Mapping(Location location, List<Entry> entries) implements YamlNode {
    /** Returns the value of a key, or null. */
    YamlNode get(String key) {
      Entry entry = entry(key);
      return entry == null ? null : entry.value();
    }

    Entry entry(String key) {
      for (Entry e : entries) {
        if (e.key().text().equals(key)) {
          return e;
        }
      }
      return null;
    }

    @Override
    public String describe() {
      return "a map";
    }
  }

  record Entry(Scalar key, YamlNode value) {}
}
