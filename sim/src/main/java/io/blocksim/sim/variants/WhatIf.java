package io.blocksim.sim.variants;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.runner.CaseResult;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What changes in one case when a variant is switched on: the two runs' outcomes, the bitmaps of
 * every observation, how each job ended, and the replies and events that differ. Lines read
 * "what: QEMU 7.2 | variant".
 */
public record WhatIf(List<String> lines) {
  private static final int MAX_EVENT_LINES = 6;

  public boolean unchanged() {
    return lines.isEmpty();
  }

  /** Compares a run under 7.2's semantics (before) with one under the variant (after). */
  public static WhatIf compare(CaseResult before, CaseResult after) {
    List<String> lines = new ArrayList<>();
    if (before.kind() != after.kind() || !Objects.equals(before.failure(), after.failure())) {
      lines.add(pair("outcome", outcome(before), outcome(after)));
      if (after.kind() == CaseResult.Kind.INVARIANT) {
        lines.add("checker fired: " + after.failure());
      }
    }
    observations(before, after, lines);
    jobs(before, after, lines);
    replies(before, after, lines);
    events(before, after, lines);
    return new WhatIf(List.copyOf(lines));
  }

  private static String outcome(CaseResult r) {
    return switch (r.kind()) {
      case PASSED -> "pass";
      case INVARIANT -> "invariant violated";
      case LIMIT -> "simulation limit";
      default -> "failed: " + r.failure();
    };
  }

  static String pair(String what, Object left, Object right) {
    return what + ": " + left + " | " + right;
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> list(CaseResult r, String key) {
    Object v = r.observations().get(key);
    return v instanceof List<?> l ? (List<Map<String, Object>>) l : List.of();
  }

  @SuppressWarnings("unchecked")
  private static void observations(CaseResult before, CaseResult after, List<String> lines) {
    List<Map<String, Object>> a = list(before, "observations");
    List<Map<String, Object>> b = list(after, "observations");
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
      Map<String, Object> oa = i < a.size() ? a.get(i) : Map.of();
      Map<String, Object> ob = i < b.size() ? b.get(i) : Map.of();
      String label = String.valueOf(oa.getOrDefault("label", ob.get("label")));
      Map<String, Map<String, Object>> ba = byName((List<Object>) oa.get("bitmaps"));
      Map<String, Map<String, Object>> bb = byName((List<Object>) ob.get("bitmaps"));
      List<String> keys = new ArrayList<>(ba.keySet());
      bb.keySet().stream().filter(k -> !ba.containsKey(k)).forEach(keys::add);
      for (String key : keys) {
        Map<String, Object> x = ba.get(key);
        Map<String, Object> y = bb.get(key);
        if (x == null || y == null) {
          lines.add(pair("observe '" + label + "' bitmap " + key, x == null ? "absent" : brief(x),
              y == null ? "absent" : brief(y)));
        } else if (!brief(x).equals(brief(y))) {
          lines.add(pair("observe '" + label + "' bitmap " + key, brief(x), brief(y)));
        }
      }
      if (!Objects.equals(oa.get("jobs"), ob.get("jobs"))) {
        lines.add(pair("observe '" + label + "' jobs", Json.compact(oa.get("jobs")),
            Json.compact(ob.get("jobs"))));
      }
      if (!Objects.equals(oa.get("images"), ob.get("images"))) {
        lines.add("observe '" + label + "': image contents differ");
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Map<String, Object>> byName(List<Object> bitmaps) {
    Map<String, Map<String, Object>> m = new LinkedHashMap<>();
    if (bitmaps == null) {
      return m;
    }
    int anonymous = 0;
    for (Object o : bitmaps) {
      Map<String, Object> b = (Map<String, Object>) o;
      String name = String.valueOf(b.get("name"));
      String key = b.get("node") + "/" + (name.isEmpty() ? "(anonymous " + (++anonymous) + ")"
          : name);
      m.put(key, b);
    }
    return m;
  }

  private static String brief(Map<String, Object> b) {
    StringBuilder s = new StringBuilder("count " + b.get("count"));
    for (String flag : List.of("recording", "busy", "persistent", "inconsistent")) {
      if (Boolean.TRUE.equals(b.get(flag))) {
        s.append(' ').append(flag);
      }
    }
    return s.toString();
  }

  /** How each block job ended: from its BLOCK_JOB_COMPLETED / BLOCK_JOB_CANCELLED event. */
  @SuppressWarnings("unchecked")
  private static Map<String, String> endings(CaseResult r) {
    Map<String, String> m = new LinkedHashMap<>();
    for (Map<String, Object> e : list(r, "events")) {
      String name = String.valueOf(e.get("event"));
      if (!name.equals("BLOCK_JOB_COMPLETED") && !name.equals("BLOCK_JOB_CANCELLED")) {
        continue;
      }
      Map<String, Object> d = (Map<String, Object>) e.get("data");
      String how = name.equals("BLOCK_JOB_CANCELLED") ? "cancelled" : "completed";
      if (d.get("error") != null) {
        how += " (" + d.get("error") + ")";
      }
      how += " at " + d.get("offset") + "/" + d.get("len");
      m.merge(String.valueOf(d.get("device")), how, (x, y) -> x + ", then " + y);
    }
    return m;
  }

  private static void jobs(CaseResult before, CaseResult after, List<String> lines) {
    Map<String, String> a = endings(before);
    Map<String, String> b = endings(after);
    List<String> ids = new ArrayList<>(a.keySet());
    b.keySet().stream().filter(k -> !a.containsKey(k)).forEach(ids::add);
    for (String id : ids) {
      String x = a.getOrDefault(id, "did not end");
      String y = b.getOrDefault(id, "did not end");
      if (!x.equals(y)) {
        lines.add(pair("job " + id, x, y));
      }
    }
  }

  private static void replies(CaseResult before, CaseResult after, List<String> lines) {
    List<Map<String, Object>> a = list(before, "responses");
    List<Map<String, Object>> b = list(after, "responses");
    for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
      Map<String, Object> x = i < a.size() ? a.get(i) : null;
      Map<String, Object> y = i < b.size() ? b.get(i) : null;
      if (!Objects.equals(x, y)) {
        Object step = (x != null ? x : y).get("step");
        lines.add(pair("reply of step " + step, reply(x), reply(y)));
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static String reply(Map<String, Object> r) {
    if (r == null) {
      return "(not sent)";
    }
    if (r.containsKey("error")) {
      return "error: " + ((Map<String, Object>) r.get("error")).get("desc");
    }
    return "return " + Json.compact(r.get("return"));
  }

  private static void events(CaseResult before, CaseResult after, List<String> lines) {
    List<Map<String, Object>> a = list(before, "events");
    List<Map<String, Object>> b = list(after, "events");
    if (a.equals(b)) {
      return;
    }
    int first = 0;
    while (first < Math.min(a.size(), b.size()) && a.get(first).equals(b.get(first))) {
      first++;
    }
    lines.add("events: " + a.size() + " | " + b.size() + ", first difference at event "
        + (first + 1) + ":");
    for (int i = first; i < Math.max(a.size(), b.size()) && i < first + MAX_EVENT_LINES; i++) {
      lines.add("  " + pair("#" + (i + 1), event(a, i), event(b, i)));
    }
  }

  @SuppressWarnings("unchecked")
  private static String event(List<Map<String, Object>> events, int i) {
    if (i >= events.size()) {
      return "-";
    }
    Map<String, Object> e = events.get(i);
    Map<String, Object> d = (Map<String, Object>) e.get("data");
    Object status = d == null ? null : d.get("status");
    return e.get("event") + (status != null ? " " + status
        : d != null && d.get("device") != null ? " " + d.get("device") : "");
  }
}
