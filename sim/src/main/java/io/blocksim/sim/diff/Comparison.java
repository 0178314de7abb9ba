package io.blocksim.sim.diff;

import io.blocksim.model.qapi.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Compares the observations object of one case as QEMU produced it with the simulator's, category
 * by category (bitmaps, jobs, images, responses, events, outcome), and keeps the first differing
 * value of each.
 *
 * <p>QEMU 7.2 emits {@code BLOCK_JOB_PENDING} and {@code BLOCK_JOB_READY} intermittently for the
 * same run, so those two are left out of the event comparison; the {@code JOB_STATUS_CHANGE}
 * sequence still shows every status a job went through.
 */
public final class Comparison {
  public static final List<String> CATEGORIES = List.of("outcome", "bitmaps", "jobs", "images",
      "responses", "maps", "img", "io", "events");
  private static final java.util.regex.Pattern GENERATED =
      java.util.regex.Pattern.compile("#block[0-9]+");
  static final List<String> OPTIONAL_EVENTS = List.of("BLOCK_JOB_PENDING", "BLOCK_JOB_READY");

  /**
   * The first difference of a category: where (with the step and its line for a response), the
   * JSON path of the first differing value inside it ({@code $} for the whole value), and both
   * values at that path.
   */
  public record Difference(String category, String where, Object qemu, Object sim, String path) {
    public Difference(String category, String where, Object qemu, Object sim) {
      this(category, where, qemu, sim, "$");
    }

    public String render() {
      return render("qemu: ", "sim:  ");
    }

    /** As {@link #render()}, with other names for the two sides (each padded alike). */
    public String render(String left, String right) {
      return category + " differ at " + where + (path.equals("$") ? "" : ", " + path) + ":\n"
          + "    " + left + show(qemu) + "\n    " + right + show(sim);
    }

    private static String show(Object value) {
      return value instanceof String s ? s : Json.compact(value);
    }
  }

  /** Returns the difference narrowed to the first differing value inside the two values. */
  static Difference narrowed(String category, String where, Object qemu, Object sim) {
    StringBuilder path = new StringBuilder("$");
    Object a = qemu;
    Object b = sim;
    while (true) {
      if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y && x.keySet().equals(y.keySet())) {
        Object key = x.keySet().stream().filter(k -> !equal(x.get(k), y.get(k))).findFirst()
            .orElse(null);
        if (key == null) {
          break;
        }
        path.append('.').append(key);
        a = x.get(key);
        b = y.get(key);
      } else if (a instanceof List<?> x && b instanceof List<?> y && x.size() == y.size()) {
        int i = 0;
        while (i < x.size() && equal(x.get(i), y.get(i))) {
          i++;
        }
        if (i == x.size()) {
          break;
        }
        path.append('[').append(i).append(']');
        a = x.get(i);
        b = y.get(i);
      } else {
        break;
      }
    }
    return new Difference(category, where, a, b, path.toString());
  }

  private Comparison() {}

  /** Returns the differences, one per differing category, in category order. */
  public static List<Difference> compare(Map<String, Object> qemu, Map<String, Object> sim) {
    return compare(qemu, sim, Map.of());
  }

  /**
   * As above; {@code stepLines} maps a step's number to its line in the scenario file, so a
   * differing response names both.
   */
  public static List<Difference> compare(Map<String, Object> qemu, Map<String, Object> sim,
      Map<Integer, Integer> stepLines) {
    List<Difference> differences = new ArrayList<>();
    if (!Objects.equals(qemu.get("passed"), sim.get("passed"))
        || !Objects.equals(qemu.get("failure"), sim.get("failure"))) {
      differences.add(new Difference("outcome", "the case's result",
          outcome(qemu), outcome(sim)));
    }
    for (String category : List.of("bitmaps", "jobs", "images")) {
      Difference d = compareObservations(category, list(qemu.get("observations")),
          list(sim.get("observations")));
      if (d != null) {
        differences.add(d);
      }
    }
    Difference responses = compareLists("responses", list(qemu.get("responses")),
        list(sim.get("responses")), "response", stepLines);
    if (responses != null) {
      differences.add(responses);
    }
    if (qemu.containsKey("maps") || sim.containsKey("maps")) {
      Difference maps = compareLists("maps", list(qemu.get("maps")), list(sim.get("maps")),
          "map", stepLines);
      if (maps != null) {
        differences.add(maps);
      }
    }
    // Both sides have "img" whenever a case ran img steps; observations written before the
    // field existed (old baselines and recordings) have none and are not compared on it.
    if (qemu.containsKey("img") && sim.containsKey("img")) {
      Difference img = compareLists("img", withoutDiskSizes(list(qemu.get("img"))),
          withoutDiskSizes(list(sim.get("img"))), "img step", stepLines);
      if (img != null) {
        differences.add(img);
      }
    }
    // The io steps that failed and qemu-io's error text, which an io step's error: only
    // matches by substring (EACCES reads as EINVAL over NBD): compared like img.
    if (qemu.containsKey("io") && sim.containsKey("io")) {
      Difference io = compareLists("io", list(qemu.get("io")), list(sim.get("io")),
          "io step", stepLines);
      if (io != null) {
        differences.add(io);
      }
    }
    Difference events = compareLists("events", withoutOptional(list(qemu.get("events"))),
        withoutOptional(list(sim.get("events"))), "event", Map.of());
    if (events != null) {
      differences.add(events);
    }
    return differences;
  }

  private static String outcome(Map<String, Object> result) {
    return Boolean.TRUE.equals(result.get("passed")) ? "passed"
        : "failed: " + result.get("failure");
  }

  private static Difference compareObservations(String category, List<Object> qemu,
      List<Object> sim) {
    int n = Math.max(qemu.size(), sim.size());
    for (int i = 0; i < n; i++) {
      Map<?, ?> q = i < qemu.size() ? (Map<?, ?>) qemu.get(i) : null;
      Map<?, ?> s = i < sim.size() ? (Map<?, ?>) sim.get(i) : null;
      String label = String.valueOf(q != null ? q.get("label") : s.get("label"));
      Object qv = q == null ? "<no observation>" : q.get(category);
      Object sv = s == null ? "<no observation>" : s.get(category);
      if (!equal(qv, sv)) {
        return firstInside(category, "observation '" + label + "'", qv, sv);
      }
    }
    return null;
  }

  private static Difference firstInside(String category, String where, Object qv, Object sv) {
    if (qv instanceof List<?> ql && sv instanceof List<?> sl) {
      for (int j = 0; j < Math.max(ql.size(), sl.size()); j++) {
        Object a = j < ql.size() ? ql.get(j) : "<missing>";
        Object b = j < sl.size() ? sl.get(j) : "<missing>";
        if (!equal(a, b)) {
          return narrowed(category, where + " entry " + (j + 1), a, b);
        }
      }
    }
    return new Difference(category, where, qv, sv);
  }

  private static Difference compareLists(String category, List<Object> qemu, List<Object> sim,
      String noun, Map<Integer, Integer> stepLines) {
    for (int i = 0; i < Math.max(qemu.size(), sim.size()); i++) {
      Object a = i < qemu.size() ? qemu.get(i) : "<no more " + noun + "s>";
      Object b = i < sim.size() ? sim.get(i) : "<no more " + noun + "s>";
      if (!equal(a, b)) {
        String where = noun + " " + (i + 1);
        Object step = a instanceof Map<?, ?> m ? m.get("step")
            : b instanceof Map<?, ?> m ? m.get("step") : null;
        if (step instanceof Number n) {
          Integer line = stepLines.get(n.intValue());
          where += " (step " + n + (line == null ? "" : ", line " + line) + ")";
        }
        return narrowed(category, where, a, b);
      }
    }
    return null;
  }

  private static final java.util.regex.Pattern DISK_SIZE =
      java.util.regex.Pattern.compile("(disk size: |\\s*\"actual-size\": )[^,]*(,?)");

  /**
   * The img steps with the host allocation masked, as iotests' _filter_img_info drops it: blocksim
   * counts written 4 KiB pages of its fake disk, not a file system's blocks
   * (docs/qemu-behaviour.md §21.5). Exit codes and every other line are compared.
   */
  private static List<Object> withoutDiskSizes(List<Object> steps) {
    List<Object> masked = new ArrayList<>();
    for (Object step : steps) {
      if (!(step instanceof Map<?, ?> m) || !(m.get("output") instanceof List<?> lines)) {
        masked.add(step);
        continue;
      }
      Map<Object, Object> copy = new java.util.LinkedHashMap<>(m);
      List<Object> out = new ArrayList<>();
      for (Object line : lines) {
        java.util.regex.Matcher d = DISK_SIZE.matcher(String.valueOf(line));
        out.add(d.matches() ? d.group(1) + "SIZE" + d.group(2) : line);
      }
      copy.put("output", out);
      masked.add(copy);
    }
    return masked;
  }

  private static List<Object> withoutOptional(List<Object> events) {
    List<Object> kept = new ArrayList<>();
    for (Object e : events) {
      if (!(e instanceof Map<?, ?> m && OPTIONAL_EVENTS.contains(m.get("event")))) {
        kept.add(e);
      }
    }
    return kept;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> list(Object value) {
    return value instanceof List<?> l ? (List<Object>) l : List.of();
  }

  /**
   * Deep equality that treats integral numbers of different boxed types as equal, and node names
   * QEMU generates ({@code #block146}: a counter and two random digits) as equal to each other,
   * alone or inside a text.
   */
  static boolean equal(Object a, Object b) {
    if (a instanceof String x && b instanceof String y) {
      // Also inside a longer text (an error naming a filter node: "unshared by node '#block286'").
      return x.equals(y) || GENERATED.matcher(x).replaceAll("#block").equals(
          GENERATED.matcher(y).replaceAll("#block"));
    }
    if (a instanceof Number x && b instanceof Number y) {
      return x.longValue() == y.longValue();
    }
    if (a instanceof Map<?, ?> x && b instanceof Map<?, ?> y) {
      if (!x.keySet().equals(y.keySet())) {
        return false;
      }
      for (Object key : x.keySet()) {
        if (!equal(x.get(key), y.get(key))) {
          return false;
        }
      }
      return true;
    }
    if (a instanceof List<?> x && b instanceof List<?> y) {
      if (x.size() != y.size()) {
        return false;
      }
      for (int i = 0; i < x.size(); i++) {
        if (!equal(x.get(i), y.get(i))) {
          return false;
        }
      }
      return true;
    }
    return Objects.equals(a, b);
  }

  /** Returns a map view for tests. */
  static Map<String, Object> object(Object... kv) {
    return new LinkedHashMap<>(Json.object(kv));
  }
}
