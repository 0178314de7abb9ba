package io.blocksim.sim.tlc;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Parses values as TLC prints them in states (dot labels, error traces) into plain Java values,
 * so that a model-based test can compare a spec state with the engine's abstract state without
 * reproducing TLC's pretty-printer:
 *
 * <ul>
 *   <li>integer → {@link Long}; {@code TRUE}/{@code FALSE} → {@link Boolean}; {@code "s"} →
 *       {@link String}
 *   <li>{@code {a, b}} → unmodifiable {@link Set}
 *   <li>{@code <<a, b>>} (a sequence, or a function on 1..n) → unmodifiable {@link List}
 *   <li>{@code [f |-> v, ...]} (a record, or a function on identifier strings) and {@code (k :> v
 *       @@ ...)} (any other function) → unmodifiable {@link Map}
 * </ul>
 *
 * Equal TLA+ values give equal Java values, except that a function on 1..n and the same function
 * written with {@code :>} differ (TLC always prints the first form).
 */
public final class TlaValues {
  private final String text;
  private int pos;

  private TlaValues(String text) {
    this.text = text;
  }

  /** Parses one TLC value; throws {@link IllegalArgumentException} on anything else. */
  public static Object parse(String text) {
    TlaValues parser = new TlaValues(text);
    Object value = parser.value();
    parser.skipSpace();
    if (parser.pos != text.length()) {
      throw parser.error("unexpected text after the value");
    }
    return value;
  }

  private Object value() {
    skipSpace();
    if (pos >= text.length()) {
      throw error("value expected");
    }
    char c = text.charAt(pos);
    if (c == '{') {
      return set();
    }
    if (text.startsWith("<<", pos)) {
      return sequence();
    }
    if (c == '[') {
      return record();
    }
    if (c == '(') {
      return function();
    }
    if (c == '"') {
      return string();
    }
    if (c == '-' || Character.isDigit(c)) {
      return integer();
    }
    if (text.startsWith("TRUE", pos)) {
      pos += 4;
      return Boolean.TRUE;
    }
    if (text.startsWith("FALSE", pos)) {
      pos += 5;
      return Boolean.FALSE;
    }
    throw error("unknown value");
  }

  private Set<Object> set() {
    pos++;
    LinkedHashSet<Object> elements = new LinkedHashSet<>();
    for (Object element : list("}")) {
      elements.add(element);
    }
    return Collections.unmodifiableSet(elements);
  }

  private List<Object> sequence() {
    pos += 2;
    return Collections.unmodifiableList(list(">>"));
  }

  /** Reads comma-separated values up to and including {@code close}. */
  private List<Object> list(String close) {
    List<Object> elements = new ArrayList<>();
    skipSpace();
    if (text.startsWith(close, pos)) {
      pos += close.length();
      return elements;
    }
    while (true) {
      elements.add(value());
      skipSpace();
      if (text.startsWith(close, pos)) {
        pos += close.length();
        return elements;
      }
      expect(",");
    }
  }

  private Map<Object, Object> record() {
    pos++;
    LinkedHashMap<Object, Object> fields = new LinkedHashMap<>();
    while (true) {
      skipSpace();
      int start = pos;
      while (pos < text.length()
          && (Character.isLetterOrDigit(text.charAt(pos)) || text.charAt(pos) == '_')) {
        pos++;
      }
      if (start == pos) {
        throw error("field name expected");
      }
      String name = text.substring(start, pos);
      expect("|->");
      fields.put(name, value());
      skipSpace();
      if (text.startsWith("]", pos)) {
        pos++;
        return Collections.unmodifiableMap(fields);
      }
      expect(",");
    }
  }

  private Map<Object, Object> function() {
    pos++;
    LinkedHashMap<Object, Object> entries = new LinkedHashMap<>();
    while (true) {
      Object key = value();
      expect(":>");
      entries.put(key, value());
      skipSpace();
      if (text.startsWith(")", pos)) {
        pos++;
        return Collections.unmodifiableMap(entries);
      }
      expect("@@");
    }
  }

  private String string() {
    pos++;
    StringBuilder out = new StringBuilder();
    while (pos < text.length() && text.charAt(pos) != '"') {
      char c = text.charAt(pos++);
      if (c == '\\' && pos < text.length()) {
        char next = text.charAt(pos++);
        out.append(next == 'n' ? '\n' : next == 't' ? '\t' : next);
      } else {
        out.append(c);
      }
    }
    if (pos >= text.length()) {
      throw error("unterminated string");
    }
    pos++;
    return out.toString();
  }

  private Long integer() {
    int start = pos;
    if (text.charAt(pos) == '-') {
      pos++;
    }
    while (pos < text.length() && Character.isDigit(text.charAt(pos))) {
      pos++;
    }
    if (start == pos || (pos == start + 1 && text.charAt(start) == '-')) {
      throw error("digits expected");
    }
    return Long.parseLong(text.substring(start, pos));
  }

  private void expect(String token) {
    skipSpace();
    if (!text.startsWith(token, pos)) {
      throw error("'" + token + "' expected");
    }
    pos += token.length();
  }

  private void skipSpace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
      pos++;
    }
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException(what + " at column " + (pos + 1) + " of: " + text);
  }
}
