package io.blocksim.sim.runner;

import io.blocksim.sim.port.StepException;
import io.blocksim.sim.port.Backend;
import io.blocksim.model.qapi.Json;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the observable state through QMP queries only ({@code query-named-block-nodes},
 * {@code x-debug-block-dirty-bitmap-sha256}, {@code query-jobs}), so the simulator and real QEMU
 * are observed the same way. These queries are not scenario steps: they are neither logged nor
 * listed among the responses.
 */
public final class Observer {
  private Observer() {}

  /** Returns one observation object of the contract. */
  public static Map<String, Object> observe(Backend backend, String label, List<String> images)
      throws StepException {
    Map<String, Object> observation = new LinkedHashMap<>();
    observation.put("label", label);
    observation.put("bitmaps", bitmaps(backend));
    List<Object> jobs = new ArrayList<>();
    for (Map<String, Object> job : jobs(backend)) {
      Map<String, Object> row = Json.object("id", job.get("id"), "type", job.get("type"),
          "status", job.get("status"));
      if (job.get("error") != null) {
        row.put("error", job.get("error")); // the contract: where query-jobs reports one
      }
      jobs.add(row);
    }
    observation.put("jobs", jobs);
    if (images != null) {
      List<Object> digests = new ArrayList<>();
      for (String node : images) {
        digests.add(Json.object("node", node, "sha256", backend.imageDigest(node)));
      }
      observation.put("images", digests);
    }
    List<Object> granules = granules(backend);
    if (granules != null) {
      observation.put("granules", granules); // for the HTML report; absent on QEMU
    }
    return observation;
  }

  /** Returns every node's bitmaps, sorted by node then name (QEMU's order among equal names). */
  public static List<Object> bitmaps(Backend backend) throws StepException {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (Map<String, Object> node : namedNodes(backend)) {
      String nodeName = normalizedNodeName((String) node.get("node-name"));
      Object list = node.get("dirty-bitmaps");
      if (!(list instanceof List<?> bitmaps)) {
        continue;
      }
      for (Object item : bitmaps) {
        Map<?, ?> info = (Map<?, ?>) item;
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("node", nodeName);
        String name = info.containsKey("name") ? (String) info.get("name") : "";
        row.put("name", name);
        row.put("count", info.get("count"));
        row.put("granularity", info.get("granularity"));
        row.put("recording", info.get("recording"));
        row.put("busy", info.get("busy"));
        row.put("persistent", info.get("persistent"));
        row.put("inconsistent", Boolean.TRUE.equals(info.get("inconsistent")));
        if (!name.isEmpty()) {
          row.put("sha256", sha256(backend, (String) node.get("node-name"), name));
        }
        rows.add(row);
      }
    }
    // A stable sort keeps QEMU's list order among bitmaps of one node that share a name ("").
    rows.sort(Comparator.comparing((Map<String, Object> r) -> (String) r.get("node"))
        .thenComparing(r -> (String) r.get("name")));
    return new ArrayList<>(rows);
  }

  /** Returns each bitmap's dirty runs sorted as {@link #bitmaps}, or null (QEMU). */
  static List<Object> granules(Backend backend) throws StepException {
    List<Map<String, Object>> rows = backend.bitmapGranules();
    if (rows == null) {
      return null;
    }
    List<Map<String, Object>> sorted = new ArrayList<>();
    for (Map<String, Object> row : rows) {
      Map<String, Object> copy = new LinkedHashMap<>(row);
      copy.put("node", normalizedNodeName((String) row.get("node")));
      sorted.add(copy);
    }
    sorted.sort(Comparator.comparing((Map<String, Object> r) -> (String) r.get("node"))
        .thenComparing(r -> (String) r.get("name")));
    return new ArrayList<>(sorted);
  }

  /** Returns the 257-style dump: node → its bitmaps in QEMU's order, nodes without none left out. */
  public static Map<String, Object> bitmapDump(Backend backend) throws StepException {
    Map<String, Object> dump = new TreeMap<>();
    for (Map<String, Object> node : namedNodes(backend)) {
      Object list = node.get("dirty-bitmaps");
      if (list instanceof List<?> bitmaps && !bitmaps.isEmpty()) {
        dump.put((String) node.get("node-name"), bitmaps);
      }
    }
    return dump;
  }

  /**
   * Returns the node name as observations record it: names QEMU generates ({@code #block146},
   * whose last two digits are random) become {@code #block}, so the two sides can be compared.
   */
  static String normalizedNodeName(String name) {
    return GENERATED_NODE_NAME.matcher(name).matches() ? "#block" : name;
  }

  private static final java.util.regex.Pattern GENERATED_NODE_NAME =
      java.util.regex.Pattern.compile("#block[0-9]+");

  /** Each node's name and bitmaps as query-named-block-nodes reports them (newest node first). */
  static List<Map<String, Object>> namedNodes(Backend backend) throws StepException {
    return backend.namedNodeBitmaps();
  }

  /** Returns query-jobs, sorted by id. */
  @SuppressWarnings("unchecked")
  public static List<Map<String, Object>> jobs(Backend backend) throws StepException {
    Map<String, Object> reply = backend.qmp("query-jobs", new LinkedHashMap<>());
    Object value = reply.get("return");
    if (!(value instanceof List)) {
      throw new StepException("query-jobs failed: " + Json.compact(reply));
    }
    List<Map<String, Object>> jobs = new ArrayList<>((List<Map<String, Object>>) value);
    jobs.sort(Comparator.comparing(j -> String.valueOf(j.get("id"))));
    return jobs;
  }

  static String sha256(Backend backend, String node, String name) throws StepException {
    Map<String, Object> reply = backend.qmp("x-debug-block-dirty-bitmap-sha256",
        Json.object("node", node, "name", name));
    Object value = reply.get("return");
    if (!(value instanceof Map<?, ?> m)) {
      throw new StepException("x-debug-block-dirty-bitmap-sha256 failed: "
          + Json.compact(reply));
    }
    return (String) m.get("sha256");
  }
}
