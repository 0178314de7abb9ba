package io.blocksim.model.qapi;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * QEMU's {@code json:} pseudo-protocol (parse_json_filename in block.c): a file name
 * {@code json:{...}} stands for the open options it spells. QEMU writes such names into image
 * headers when a node's file name is {@code json:} (docs/qemu-behaviour.md §24.13).
 */
public final class JsonFilename {
  private final String text;
  private int pos;

  private JsonFilename(String text) {
    this.text = text;
  }

  /** Returns whether the name uses the json: pseudo-protocol. */
  public static boolean is(String name) {
    return name != null && name.startsWith("json:");
  }

  /** Returns the options a json: name spells, or null if it is not one or does not parse. */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> options(String name) {
    if (!is(name)) {
      return null;
    }
    try {
      JsonFilename p = new JsonFilename(name.substring(5));
      p.skipSpace();
      Object value = p.value();
      p.skipSpace();
      if (p.pos != p.text.length() || !(value instanceof Map)) {
        return null;
      }
      return (Map<String, Object>) value;
    } catch (IllegalArgumentException | IndexOutOfBoundsException e) {
      return null;
    }
  }

  /**
   * The options as the block layer reads them: parse_json_filename flattens the parsed object
   * (qdict_flatten), so nested objects and dotted keys mean the same; this crumples every dotted
   * key back into nested objects, and an object whose keys are 0, 1, ... into a list
   * ({@code "inject-error.0.once": true} of a blkdebug node's json: name becomes
   * {@code inject-error: [{once: true}]}), which is how blockdev-add's arguments are shaped.
   */
  public static Map<String, Object> crumpled(Map<String, Object> options) {
    Map<String, Object> flat = new LinkedHashMap<>();
    flatten("", options, flat);
    Map<String, Object> root = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : flat.entrySet()) {
      String[] parts = e.getKey().split("\\.", -1);
      Map<String, Object> at = root;
      for (int i = 0; i < parts.length - 1; i++) {
        Object next = at.get(parts[i]);
        if (!(next instanceof Map)) {
          next = new LinkedHashMap<String, Object>();
          at.put(parts[i], next);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) next;
        at = m;
      }
      at.put(parts[parts.length - 1], e.getValue());
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> result = (Map<String, Object>) listify(root);
    return result;
  }

  @SuppressWarnings("unchecked")
  private static void flatten(String prefix, Map<String, Object> map, Map<String, Object> out) {
    for (Map.Entry<String, Object> e : map.entrySet()) {
      String key = prefix + e.getKey();
      if (e.getValue() instanceof Map<?, ?> m) {
        flatten(key + ".", (Map<String, Object>) m, out);
      } else if (e.getValue() instanceof List<?> l) {
        for (int i = 0; i < l.size(); i++) {
          Object v = l.get(i);
          if (v instanceof Map<?, ?> m) {
            flatten(key + "." + i + ".", (Map<String, Object>) m, out);
          } else {
            out.put(key + "." + i, v);
          }
        }
      } else {
        out.put(key, e.getValue());
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static Object listify(Object value) {
    if (!(value instanceof Map<?, ?> raw)) {
      return value;
    }
    Map<String, Object> map = (Map<String, Object>) raw;
    for (Map.Entry<String, Object> e : map.entrySet()) {
      e.setValue(listify(e.getValue()));
    }
    boolean indexed = !map.isEmpty();
    for (int i = 0; indexed && i < map.size(); i++) {
      indexed = map.containsKey(Integer.toString(i));
    }
    if (!indexed) {
      return map;
    }
    List<Object> list = new ArrayList<>();
    for (int i = 0; i < map.size(); i++) {
      list.add(map.get(Integer.toString(i)));
    }
    return list;
  }

  private Object value() {
    skipSpace();
    char c = text.charAt(pos);
    if (c == '{') {
      pos++;
      Map<String, Object> map = new LinkedHashMap<>();
      skipSpace();
      if (text.charAt(pos) == '}') {
        pos++;
        return map;
      }
      while (true) {
        skipSpace();
        String key = string();
        skipSpace();
        expect(':');
        map.put(key, value());
        skipSpace();
        if (text.charAt(pos) == ',') {
          pos++;
          continue;
        }
        expect('}');
        return map;
      }
    }
    if (c == '[') {
      pos++;
      List<Object> list = new ArrayList<>();
      skipSpace();
      if (text.charAt(pos) == ']') {
        pos++;
        return list;
      }
      while (true) {
        list.add(value());
        skipSpace();
        if (text.charAt(pos) == ',') {
          pos++;
          continue;
        }
        expect(']');
        return list;
      }
    }
    if (c == '"') {
      return string();
    }
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    int start = pos;
    while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) {
      pos++;
    }
    if (start == pos) {
      throw new IllegalArgumentException("unexpected character at " + pos);
    }
    String number = text.substring(start, pos);
    if (number.contains(".") || number.contains("e") || number.contains("E")) {
      return Double.parseDouble(number);
    }
    return Long.parseLong(number);
  }

  private String string() {
    expect('"');
    StringBuilder sb = new StringBuilder();
    while (true) {
      char c = text.charAt(pos++);
      if (c == '"') {
        return sb.toString();
      }
      if (c != '\\') {
        sb.append(c);
        continue;
      }
      char e = text.charAt(pos++);
      switch (e) {
        case 'b' -> sb.append('\b');
        case 'f' -> sb.append('\f');
        case 'n' -> sb.append('\n');
        case 'r' -> sb.append('\r');
        case 't' -> sb.append('\t');
        case 'u' -> {
          sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
          pos += 4;
        }
        default -> sb.append(e);
      }
    }
  }

  private void expect(char c) {
    if (text.charAt(pos) != c) {
      throw new IllegalArgumentException("expected '" + c + "' at " + pos);
    }
    pos++;
  }

  private void skipSpace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
      pos++;
    }
  }
}
