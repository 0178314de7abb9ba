package io.blocksim.model.qapi;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Canonical JSON text for QMP values, formatted exactly as Python's {@code json.dumps(v,
 * sort_keys=True)} formats it (the iotests' log style): keys sorted, {@code ", "} and {@code ": "}
 * separators, non-ASCII escaped. QMP values are plain Java: {@code null}, {@link Boolean}, {@link
 * Long} (or any integral {@link Number}), {@link String}, {@link List} and {@link Map} with string
 * keys.
 */
public final class Json {
  private Json() {}

  /** Returns the one-line form. */
  public static String compact(Object value) {
    StringBuilder out = new StringBuilder();
    write(out, value, -1, 0);
    return out.toString();
  }

  /** Returns the indented form ({@code json.dumps(v, indent=2, sort_keys=True)}). */
  public static String pretty(Object value) {
    StringBuilder out = new StringBuilder();
    write(out, value, 2, 0);
    return out.toString();
  }

  private static void write(StringBuilder out, Object value, int indent, int depth) {
    if (value == null) {
      out.append("null");
    } else if (value instanceof Boolean b) {
      out.append(b ? "true" : "false");
    } else if (value instanceof Number n) {
      out.append(n.longValue());
    } else if (value instanceof String s) {
      quote(out, s);
    } else if (value instanceof Map<?, ?> map) {
      writeMap(out, map, indent, depth);
    } else if (value instanceof List<?> list) {
      writeList(out, list, indent, depth);
    } else {
      throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
    }
  }

  private static void writeMap(StringBuilder out, Map<?, ?> map, int indent, int depth) {
    if (map.isEmpty()) {
      out.append("{}");
      return;
    }
    String[] keys = sortedKeys(map);
    out.append('{');
    boolean first = true;
    for (String key : keys) {
      separate(out, first, indent, depth + 1);
      first = false;
      quote(out, key);
      out.append(": ");
      write(out, map.get(key), indent, depth + 1);
    }
    close(out, indent, depth);
    out.append('}');
  }

  /**
   * The map's keys in String order (sort_keys=True), by insertion sort: a map here has a few
   * dozen keys at most, and a TreeMap per map made this recursive writer one of the costliest
   * methods for the JIT to compile in a whole-corpus run.
   */
  private static String[] sortedKeys(Map<?, ?> map) {
    String[] keys = new String[map.size()];
    int n = 0;
    for (Object k : map.keySet()) {
      String key = (String) k;
      int i = n++;
      while (i > 0 && keys[i - 1].compareTo(key) > 0) {
        keys[i] = keys[i - 1];
        i--;
      }
      keys[i] = key;
    }
    return keys;
  }

  private static void writeList(StringBuilder out, List<?> list, int indent, int depth) {
    if (list.isEmpty()) {
      out.append("[]");
      return;
    }
    out.append('[');
    boolean first = true;
    for (Object item : list) {
      separate(out, first, indent, depth + 1);
      first = false;
      write(out, item, indent, depth + 1);
    }
    close(out, indent, depth);
    out.append(']');
  }

  private static void separate(StringBuilder out, boolean first, int indent, int depth) {
    if (indent < 0) {
      if (!first) {
        out.append(", ");
      }
      return;
    }
    if (!first) {
      out.append(',');
    }
    out.append('\n').append(" ".repeat(indent * depth));
  }

  private static void close(StringBuilder out, int indent, int depth) {
    if (indent >= 0) {
      out.append('\n').append(" ".repeat(indent * depth));
    }
  }

  private static void quote(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || c > 0x7e) {
            out.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    out.append('"');
  }

  /** Returns a mutable, insertion-ordered map built from alternating keys and values. */
  public static Map<String, Object> object(Object... keysAndValues) {
    Map<String, Object> map = new java.util.LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      map.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return map;
  }

  /** Returns a mutable list. */
  public static List<Object> array(Object... items) {
    return new ArrayList<>(List.of(items));
  }
}
