package io.blocksim.model.qapi;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a QMP command's arguments the way QEMU's QAPI input visitor does, with its error texts:
 * {@code Parameter 'x' is missing}, {@code Invalid parameter type for 'x', expected: integer},
 * {@code Parameter 'x' is unexpected}. Nested objects carry their path ({@code file.set-state[0]}).
 */
public final class Args {
  private final Map<String, Object> map;
  private final String path;
  private final Set<String> visited = new LinkedHashSet<>();

  public Args(Map<String, Object> map, String path) {
    this.map = map == null ? Map.of() : map;
    this.path = path;
  }

  public static Args of(Map<String, Object> map) {
    return new Args(map, "");
  }

  public Map<String, Object> map() {
    return map;
  }

  /**
   * Returns these arguments with a default for an absent key (as QEMU's qdict_set_default_str
   * fills a child's options), leaving the caller's map untouched.
   */
  public Args withDefault(String key, Object value) {
    if (map.containsKey(key)) {
      return this;
    }
    Map<String, Object> copy = new java.util.LinkedHashMap<>(map);
    copy.put(key, value);
    return new Args(copy, path);
  }

  private String name(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  public boolean has(String key) {
    visited.add(key);
    return map.containsKey(key);
  }

  public String str(String key) throws QmpError {
    String v = optStr(key);
    if (v == null) {
      throw missing(key);
    }
    return v;
  }

  public String optStr(String key) throws QmpError {
    Object v = get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof String s)) {
      throw type(key, "string");
    }
    return s;
  }

  public long integer(String key) throws QmpError {
    Long v = optInt(key);
    if (v == null) {
      throw missing(key);
    }
    return v;
  }

  public Long optInt(String key) throws QmpError {
    Object v = get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Number n) || v instanceof Double || v instanceof Float) {
      throw type(key, "integer");
    }
    return n.longValue();
  }

  /**
   * Reads a QAPI unsigned member of that width: a non-number fails as {@code uint64} (the
   * visitor's base type), an out-of-range number with the member's own type name. Negative
   * numbers pass the base visit, as QEMU accepts them for backward compatibility.
   */
  public Long optUnsigned(String key, int bits) throws QmpError {
    Object v = get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Number n) || v instanceof Double || v instanceof Float) {
      throw QmpError.generic("Parameter '" + name(key) + "' expects uint64");
    }
    long value = n.longValue();
    if (bits < 64 && (value < 0 || value > (1L << bits) - 1)) {
      throw QmpError.generic("Parameter '" + key + "' expects uint" + bits + "_t");
    }
    return value;
  }

  public boolean bool(String key, boolean defaultValue) throws QmpError {
    Object v = get(key);
    if (v == null) {
      return defaultValue;
    }
    if (!(v instanceof Boolean b)) {
      throw type(key, "boolean");
    }
    return b;
  }

  public Boolean optBool(String key) throws QmpError {
    Object v = get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Boolean b)) {
      throw type(key, "boolean");
    }
    return b;
  }

  /** Returns a nested object's arguments, or null when absent. */
  @SuppressWarnings("unchecked")
  public Args optObject(String key) throws QmpError {
    Object v = get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof Map)) {
      throw type(key, "object");
    }
    return new Args((Map<String, Object>) v, name(key));
  }

  public List<Object> optList(String key) throws QmpError {
    Object v = get(key);
    if (v == null) {
      return null;
    }
    if (!(v instanceof List<?> l)) {
      throw type(key, "array");
    }
    return new ArrayList<>(l);
  }

  /** Returns the list element i as object arguments with the path {@code key[i]}. */
  @SuppressWarnings("unchecked")
  public Args element(String key, List<Object> list, int i) throws QmpError {
    Object v = list.get(i);
    if (!(v instanceof Map)) {
      throw QmpError.generic("Invalid parameter type for '" + name(key) + "[" + i
          + "]', expected: object");
    }
    return new Args((Map<String, Object>) v, name(key) + "[" + i + "]");
  }

  /** Returns the raw value (marks it visited). */
  public Object get(String key) {
    visited.add(key);
    return map.get(key);
  }

  /** Checks an enum member against QEMU's allowed values. */
  public String optEnum(String key, List<String> allowed) throws QmpError {
    String v = optStr(key);
    if (v != null && !allowed.contains(v)) {
      throw QmpError.generic("Parameter '" + name(key) + "' does not accept value '" + v + "'");
    }
    return v;
  }

  /**
   * Reads an optional QAPI enum member: null when absent, QEMU's error for a value the enum does
   * not have.
   */
  public <E extends Enum<E> & QapiEnum> E optEnum(String key, Class<E> type) throws QmpError {
    String v = optStr(key);
    if (v == null) {
      return null;
    }
    for (E e : type.getEnumConstants()) {
      if (e.qapiName().equals(v)) {
        return e;
      }
    }
    throw QmpError.generic("Parameter '" + name(key) + "' does not accept value '" + v + "'");
  }

  /**
   * Takes an option blocksim does not model, already read (and so type-checked) as {@code value}:
   * absent, or equal to one of {@code asBlocksim} (QEMU's default, or a value whose behaviour is
   * exactly blocksim's), it is accepted; any other value is refused, so that a scenario never runs
   * with other semantics than it asked for without saying so.
   */
  public void unmodelled(String key, Object value, Object... asBlocksim) throws QmpError {
    if (value == null) {
      return;
    }
    for (Object ok : asBlocksim) {
      if (ok.equals(value)) {
        return;
      }
    }
    throw QmpError.generic("Parameter '" + name(key) + "' is not modelled by blocksim");
  }

  /** Fails on the first member that was never read, as visit_check_struct does. */
  public void checkNoExtra() throws QmpError {
    for (String key : map.keySet()) {
      if (!visited.contains(key)) {
        throw QmpError.generic("Parameter '" + name(key) + "' is unexpected");
      }
    }
  }

  public QmpError missing(String key) {
    return QmpError.generic("Parameter '" + name(key) + "' is missing");
  }

  private QmpError type(String key, String expected) {
    return QmpError.generic(
        "Invalid parameter type for '" + name(key) + "', expected: " + expected);
  }
}
