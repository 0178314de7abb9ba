package io.blocksim.sim.report;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.diff.Comparison;
import io.blocksim.sim.diff.Differ;
import io.blocksim.sim.report.ReportModel.CaseEntry;
import io.blocksim.sim.report.ReportModel.Conformance;
import io.blocksim.sim.report.ReportModel.Difference;
import io.blocksim.sim.report.ReportModel.Status;
import io.blocksim.sim.runner.CaseResult;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Builds {@link ReportModel} cases from what {@code run}, {@code diff} and saved JSON give. */
public final class ReportInputs {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private ReportInputs() {}

  /** Returns the cases of a {@code blocksim run}; semantics are the run's {@code --semantics}. */
  public static List<CaseEntry> fromRun(List<CaseResult> results, List<String> semantics) {
    List<CaseEntry> cases = new ArrayList<>();
    for (CaseResult r : results) {
      Status status = switch (r.kind()) {
        case PASSED -> Status.PASSED;
        case FAILED -> Status.FAILED;
        case INVARIANT -> Status.BUG;
        case LIMIT -> Status.LIMIT;
        case NOT_RUN -> Status.NOT_RUN;
      };
      cases.add(new CaseEntry(r.scenarioPath(), r.caseName(), status, r.failure(),
          replay(r.observations(), r.scenarioPath(), r.caseName(), semantics), r.observations(),
          null, null));
    }
    return cases;
  }

  /**
   * Returns the cases of saved observations: each file holds the list {@code --json} writes (or
   * a report's observations.json, which adds each case's conformance), or one case object.
   */
  @SuppressWarnings("unchecked")
  public static List<CaseEntry> fromJson(List<Path> files) throws IOException {
    List<CaseEntry> cases = new ArrayList<>();
    for (Path file : files) {
      Object value = MAPPER.readValue(file.toFile(), Object.class);
      List<Object> items = value instanceof List<?> l ? (List<Object>) l : List.of(value);
      for (Object item : items) {
        if (!(item instanceof Map<?, ?> m) || !m.containsKey("scenario")) {
          throw new IOException(file + ": not an observations file (expected the case objects "
              + "that 'blocksim run --json' writes)");
        }
        cases.add(fromObject(new LinkedHashMap<>((Map<String, Object>) m)));
      }
    }
    return cases;
  }

  /** Reads a saved observations file into case objects keyed by {@link #key}. */
  @SuppressWarnings("unchecked")
  public static Map<String, Map<String, Object>> readKeyed(Path file) throws IOException {
    Map<String, Map<String, Object>> byName = new LinkedHashMap<>();
    for (CaseEntry c : fromJson(List.of(file))) {
      byName.put(key(c), c.observations());
    }
    return byName;
  }

  /**
   * Returns the name a case is matched by across runs: its path from the scenarios folder on
   * ("backup/x.yaml [case]"), so a baseline made in sim/ (../scenarios/...) matches a run from
   * the repository's root (scenarios/...).
   */
  public static String key(CaseEntry c) {
    String path = c.scenario();
    int under = path.lastIndexOf("scenarios/");
    path = under >= 0 ? path.substring(under + "scenarios/".length()) : path;
    return c.caseName().isEmpty() ? path : path + " [" + c.caseName() + "]";
  }

  @SuppressWarnings("unchecked")
  private static CaseEntry fromObject(Map<String, Object> o) {
    String scenario = String.valueOf(o.get("scenario"));
    String caseName = o.get("case") == null ? "" : String.valueOf(o.get("case"));
    String failure = o.get("failure") == null ? null : String.valueOf(o.get("failure"));
    Status status;
    if (o.get("status") instanceof String s) {
      status = Status.valueOf(s.toUpperCase(Locale.ROOT).replace(' ', '_'));
    } else if (Boolean.TRUE.equals(o.get("passed"))) {
      status = Status.PASSED;
    } else if (failure != null && (failure.contains("invariant violated")
        || failure.contains("internal error"))) {
      status = Status.BUG;
    } else {
      status = Status.FAILED;
    }
    Conformance conformance = null;
    if (o.get("conformance") instanceof Map<?, ?> c) {
      List<Difference> differences = new ArrayList<>();
      for (Object d : (List<Object>) c.get("differences")) {
        Map<String, Object> dm = (Map<String, Object>) d;
        differences.add(new Difference((String) dm.get("category"), (String) dm.get("where"),
            (String) dm.get("qemu"), (String) dm.get("sim")));
      }
      conformance = new Conformance((String) c.get("verdict"), (String) c.get("detail"),
          differences);
    }
    return new CaseEntry(scenario, caseName, status, failure,
        replay(o, scenario, caseName, List.of()), o, conformance, null);
  }

  /** Returns a {@code blocksim diff} verdict as the report shows it. */
  public static Conformance conformanceOf(Differ.CaseDiff d) {
    String verdict = switch (d.verdict()) {
      case IDENTICAL -> "identical";
      case KNOWN -> "known divergence";
      case DIFFERS -> "differs";
      case QEMU_CRASHED -> "QEMU crashed";
      case SKIPPED -> "skipped";
    };
    List<Difference> differences = new ArrayList<>();
    for (Comparison.Difference x : d.differences()) {
      differences.add(new Difference(x.category(), x.where(), show(x.qemu()), show(x.sim())));
    }
    return new Conformance(verdict, d.detail(), differences);
  }

  /** Attaches each diff verdict to the case of the same name (cases without one keep null). */
  public static List<CaseEntry> withConformance(List<CaseEntry> cases,
      List<Differ.CaseDiff> diffs) {
    Map<String, Conformance> byName = new LinkedHashMap<>();
    for (Differ.CaseDiff d : diffs) {
      byName.put(d.displayName(), conformanceOf(d));
    }
    List<CaseEntry> out = new ArrayList<>();
    for (CaseEntry c : cases) {
      out.add(c.withConformance(byName.get(c.displayName())));
    }
    return out;
  }

  /** Returns the case object as saved in a report's observations.json. */
  public static Map<String, Object> toJson(CaseEntry c) {
    Map<String, Object> o = new LinkedHashMap<>(c.observations());
    o.put("status", c.status().name().toLowerCase(Locale.ROOT));
    if (c.conformance() != null) {
      List<Object> differences = new ArrayList<>();
      for (Difference d : c.conformance().differences()) {
        differences.add(Json.object("category", d.category(), "where", d.where(), "qemu",
            d.left(), "sim", d.right()));
      }
      o.put("conformance", Json.object("verdict", c.conformance().verdict(), "detail",
          c.conformance().detail(), "differences", differences));
    }
    return o;
  }

  static String show(Object value) {
    return value instanceof String s ? s : Json.compact(value);
  }

  private static String replay(Map<String, Object> o, String scenario, String caseName,
      List<String> semantics) {
    if (!(o.get("seed") instanceof Number seed)) {
      return null;
    }
    StringBuilder replay = new StringBuilder("./blocksim run --seed " + seed.longValue());
    if (!caseName.isEmpty()) {
      replay.append(" --case '").append(caseName).append('\'');
    }
    if (!semantics.isEmpty()) {
      replay.append(" --semantics ").append(String.join(",", semantics));
    }
    return replay.append(' ').append(scenario).toString();
  }
}
