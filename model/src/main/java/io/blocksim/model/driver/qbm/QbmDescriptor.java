package io.blocksim.model.driver.qbm;

import io.blocksim.model.qapi.Json;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON descriptor of a QBM image (proposal:qbm; the RFC's docs/specs/qbm.md):
 * {@code {"QBM": {"version": 1, "image": {"file": F, "format": "raw"}, "bitmaps": {NAME:
 * {"file": F, "granularity-bytes": G, "type": "dirty"}}}}}. File names are relative to the
 * descriptor's folder. The RFC's schema has no field saying that a bitmap file is being updated
 * (no in-use flag), and none is added here.
 */
public record QbmDescriptor(String imageFile, String imageFormat, List<Bitmap> bitmaps) {

  /** One bitmap of the descriptor. */
  public record Bitmap(String name, String file, long granularityBytes) {}

  /** Returns the descriptor's bytes, as a JSON text on one line and a newline. */
  public byte[] toBytes() {
    Map<String, Object> bitmapMap = new LinkedHashMap<>();
    for (Bitmap b : bitmaps) {
      bitmapMap.put(b.name(), Json.object("file", b.file(), "granularity-bytes",
          b.granularityBytes(), "type", "dirty"));
    }
    Map<String, Object> desc = Json.object("version", 1L, "image",
        Json.object("file", imageFile, "format", imageFormat), "bitmaps", bitmapMap);
    return (Json.compact(Json.object("QBM", desc)) + "\n").getBytes(StandardCharsets.UTF_8);
  }

  /** Returns the bitmap of that name, or null. */
  public Bitmap bitmap(String name) {
    for (Bitmap b : bitmaps) {
      if (b.name().equals(name)) {
        return b;
      }
    }
    return null;
  }

  /** Returns whether the bytes start like a QBM descriptor (what a probe would look at). */
  public static boolean looksLikeQbm(byte[] head) {
    String text = new String(head, StandardCharsets.UTF_8).stripLeading();
    return text.startsWith("{\"QBM\"") || text.startsWith("{ \"QBM\"");
  }

  /** Parses a descriptor; throws IllegalArgumentException with the reason when it is not one. */
  public static QbmDescriptor parse(byte[] bytes) {
    Object root = new Parser(new String(bytes, StandardCharsets.UTF_8)).document();
    Map<?, ?> top = asMap(root, "the descriptor");
    Map<?, ?> desc = asMap(top.get("QBM"), "'QBM'");
    Object version = desc.get("version");
    if (!(version instanceof Long v) || v != 1) {
      throw new IllegalArgumentException("unsupported QBM version " + version);
    }
    Map<?, ?> image = asMap(desc.get("image"), "'image'");
    String file = asString(image.get("file"), "'image.file'");
    String format = asString(image.get("format"), "'image.format'");
    List<Bitmap> bitmaps = new ArrayList<>();
    Object bm = desc.get("bitmaps");
    if (bm != null) {
      for (Map.Entry<?, ?> e : asMap(bm, "'bitmaps'").entrySet()) {
        Map<?, ?> b = asMap(e.getValue(), "bitmap '" + e.getKey() + "'");
        Object granularity = b.get("granularity-bytes");
        if (!(granularity instanceof Long g) || g < 512 || Long.bitCount(g) != 1) {
          throw new IllegalArgumentException("bitmap '" + e.getKey()
              + "': invalid granularity-bytes " + granularity);
        }
        Object type = b.get("type");
        if (type != null && !"dirty".equals(type)) {
          throw new IllegalArgumentException("bitmap '" + e.getKey() + "': type '" + type
              + "' is not modelled (only dirty)");
        }
        bitmaps.add(new Bitmap((String) e.getKey(), asString(b.get("file"),
            "bitmap '" + e.getKey() + "' file"), g));
      }
    }
    return new QbmDescriptor(file, format, List.copyOf(bitmaps));
  }

  private static Map<?, ?> asMap(Object o, String what) {
    if (!(o instanceof Map<?, ?> m)) {
      throw new IllegalArgumentException(what + " is not a JSON object");
    }
    return m;
  }

  private static String asString(Object o, String what) {
    if (!(o instanceof String s)) {
      throw new IllegalArgumentException(what + " is not a string");
    }
    return s;
  }

  /** A small JSON reader: objects, arrays, strings (simple escapes), integers, true/false/null. */
  private static final class Parser {
    private final String s;
    private int i;

    Parser(String s) {
      this.s = s;
    }

    Object document() {
      Object v = value();
      skip();
      if (i != s.length()) {
        throw new IllegalArgumentException("trailing bytes at " + i);
      }
      return v;
    }

    private void skip() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    private Object value() {
      skip();
      if (i >= s.length()) {
        throw new IllegalArgumentException("unexpected end");
      }
      char c = s.charAt(i);
      if (c == '{') {
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        skip();
        if (peek('}')) {
          return m;
        }
        do {
          skip();
          String key = string();
          skip();
          expect(':');
          m.put(key, value());
          skip();
        } while (peek(','));
        expect('}');
        return m;
      }
      if (c == '[') {
        i++;
        List<Object> l = new ArrayList<>();
        skip();
        if (peek(']')) {
          return l;
        }
        do {
          l.add(value());
          skip();
        } while (peek(','));
        expect(']');
        return l;
      }
      if (c == '"') {
        return string();
      }
      for (String word : new String[] {"true", "false", "null"}) {
        if (s.startsWith(word, i)) {
          i += word.length();
          return word.equals("null") ? null : Boolean.valueOf(word);
        }
      }
      int start = i;
      if (c == '-') {
        i++;
      }
      while (i < s.length() && Character.isDigit(s.charAt(i))) {
        i++;
      }
      if (i == start || (i == start + 1 && c == '-')) {
        throw new IllegalArgumentException("unexpected '" + c + "' at " + start);
      }
      return Long.parseLong(s.substring(start, i));
    }

    private String string() {
      expect('"');
      StringBuilder b = new StringBuilder();
      while (i < s.length() && s.charAt(i) != '"') {
        char c = s.charAt(i++);
        if (c == '\\' && i < s.length()) {
          char e = s.charAt(i++);
          b.append(switch (e) {
            case 'n' -> '\n';
            case 't' -> '\t';
            default -> e;
          });
        } else {
          b.append(c);
        }
      }
      expect('"');
      return b.toString();
    }

    private boolean peek(char c) {
      if (i < s.length() && s.charAt(i) == c) {
        i++;
        return true;
      }
      return false;
    }

    private void expect(char c) {
      if (!peek(c)) {
        throw new IllegalArgumentException("expected '" + c + "' at " + i);
      }
    }
  }
}
