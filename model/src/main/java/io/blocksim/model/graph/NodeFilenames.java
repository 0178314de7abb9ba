package io.blocksim.model.graph;

import io.blocksim.model.driver.Driver;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The file name QEMU 7.2 gives a node (bdrv_refresh_filename in block.c): the plain file name
 * when opening it as this node's format recreates the node's tree, else {@code json:} and the
 * node's full open options. A format node's backing counts as overridden
 * (bdrv_backing_overridden) unless its header's backing name (auto_backing_file) equals the
 * backing node's file name as QEMU knows it: a name QEMU took from a node (an implicitly opened
 * backing file, a header QEMU wrote from a node's name) does; a name a user wrote into an image
 * (relative, while every file a QMP command opens has an absolute name) does not. The options
 * are a QDict, printed in its hash-bucket order (qdict_first/qdict_next) as qobject_to_json does.
 */
public final class NodeFilenames {
  private static final int QDICT_BUCKET_MAX = 512;

  /** Each driver's strong_runtime_opts (a key ending in '.' is a prefix of flattened keys). */
  private static final Map<String, List<String>> STRONG_OPTIONS = Map.of(
      "blkdebug", List.of("config", "inject-error.", "set-state.", "align", "max-transfer",
          "opt-write-zero", "max-write-zero", "opt-discard", "max-discard"),
      "raw", List.of("offset", "size"),
      "null-co", List.of("size", "read-zeroes"),
      "null-aio", List.of("size", "read-zeroes"),
      "throttle", List.of("throttle-group"));

  /** Drivers with bdrv_file_open (protocol drivers): a format may take their exact file name. */
  private static final Set<String> PROTOCOLS = Set.of("file", "blkdebug", "null-co", "null-aio");

  private NodeFilenames() {}

  /** What bdrv_refresh_filename leaves in a node: exact_filename, full_open_options, filename. */
  private record Refreshed(String exact, Map<String, Object> options, String filename) {}

  /** Returns the node's bs->filename after bdrv_refresh_filename. */
  public static String filename(BlockNode node) {
    return new Memo().filename(node);
  }

  /**
   * File names of nodes of one unchanged graph, each node refreshed once: a query of every node
   * (and a node's backing check, which asks for its backing node's name again) would otherwise
   * refresh a chain's lower nodes once per node above them. Valid only while the graph, the
   * nodes' options and their headers' backing names stay as they were.
   */
  public static final class Memo {
    private final Map<BlockNode, Refreshed> refreshed = new java.util.IdentityHashMap<>();

    /** Returns the node's bs->filename after bdrv_refresh_filename. */
    public String filename(BlockNode node) {
      return refresh(node, this).filename();
    }
  }

  /** Returns the host file name under a node (its protocol layer's), or null. */
  public static String protocolFilename(BlockNode node) {
    for (BlockNode n = node; n != null; n = n.primaryChild()) {
      if (n.driver().filename() != null) {
        return n.driver().filename();
      }
    }
    return null;
  }

  /** bdrv_backing_overridden: whether the node's backing is not what its header names. */
  public static boolean backingOverridden(BlockNode node) {
    return backingOverridden(node, new Memo());
  }

  private static boolean backingOverridden(BlockNode node, Memo memo) {
    String auto = node.autoBackingFile();
    BlockNode backing = node.backing();
    if (backing == null) {
      return auto != null && !auto.isEmpty();
    }
    return !node.autoBackingFromNode() || auto == null || !auto.equals(memo.filename(backing));
  }

  private static Refreshed refresh(BlockNode node, Memo memo) {
    Refreshed known = memo.refreshed.get(node);
    if (known == null) {
      known = refreshOnce(node, memo);
      memo.refreshed.put(node, known);
    }
    return known;
  }

  private static Refreshed refreshOnce(BlockNode node, Memo memo) {
    Driver drv = node.driver();
    String driverName = drv.name();
    Map<String, Refreshed> children = new LinkedHashMap<>();
    for (Map.Entry<String, BlockNode> c : node.children().entrySet()) {
      children.put(c.getKey(), refresh(c.getValue(), memo));
    }
    BlockNode primary = node.primaryChild();
    if (node.implicit() && primary != null && children.size() == 1) {
      // An implicit (job) filter copies everything from its single child.
      return children.get(primaryRole(node));
    }
    if (drv.filename() != null && children.isEmpty()) {
      // A file node: exact_filename is its filename option.
      Map<String, Object> opts = new LinkedHashMap<>();
      opts.put("driver", driverName);
      opts.put("filename", drv.filename());
      return new Refreshed(drv.filename(), opts, drv.filename());
    }
    Map<String, Object> opts = new LinkedHashMap<>();
    boolean generateJson = strongOptions(node, driverName, opts);
    if (!opts.containsKey("driver")) {
      opts.put("driver", driverName);
    }
    boolean overridden = backingOverridden(node, memo);
    generateJson |= overridden;
    for (Map.Entry<String, Refreshed> c : children.entrySet()) {
      if (c.getKey().equals(BlockNode.BACKING) && !overridden) {
        continue;
      }
      opts.put(c.getKey(), c.getValue().options());
    }
    if (overridden && node.backing() == null) {
      opts.put(BlockNode.BACKING, null);
    }
    String exact = null;
    Refreshed primaryInfo = primary == null ? null : children.get(primaryRole(node));
    switch (driverName) {
      case "copy-before-write", "snapshot-access", "mirror_top", "commit_top" ->
          exact = primaryInfo == null ? null : primaryInfo.filename();
      case "blkdebug" -> {
        if (primaryInfo != null && primaryInfo.exact() != null) {
          boolean plain = opts.keySet().stream().allMatch(
              k -> k.equals("config") || k.equals("image") || k.equals("x-image")
                  || k.equals("driver"));
          if (plain) {
            Object config = opts.get("config");
            exact = "blkdebug:" + (config == null ? "" : config) + ":" + primaryInfo.exact();
          }
        }
      }
      case "null-co", "null-aio" -> {
        boolean plain = opts.keySet().stream().allMatch(
            k -> k.equals("filename") || k.equals("driver") || k.equals("latency-ns"));
        exact = plain ? driverName + "://" : null;
      }
      default -> {
        if (primaryInfo != null && primaryInfo.exact() != null
            && PROTOCOLS.contains(primary.driver().name()) && !drv.isFilter()
            && !generateJson) {
          exact = primaryInfo.exact();
        }
      }
    }
    Map<String, Object> ordered = qdictOrder(opts);
    String filename = exact != null ? exact : "json:" + toJson(ordered);
    return new Refreshed(exact, ordered, filename);
  }

  private static String primaryRole(BlockNode node) {
    for (Map.Entry<String, BlockNode> c : node.children().entrySet()) {
      if (c.getValue() == node.primaryChild()) {
        return c.getKey();
      }
    }
    return BlockNode.FILE;
  }

  /**
   * append_strong_runtime_options: copies the driver's strong options from the node's (flattened)
   * options; returns whether one other than driver and filename was there.
   */
  private static boolean strongOptions(BlockNode node, String driverName,
      Map<String, Object> out) {
    Map<String, Object> flat = new LinkedHashMap<>();
    for (Map.Entry<String, Object> e : node.options().entrySet()) {
      if (!node.children().containsKey(e.getKey())) {
        flatten(e.getKey(), e.getValue(), flat);
      }
    }
    boolean found = false;
    if (flat.containsKey("driver")) {
      out.put("driver", flat.get("driver"));
    }
    if (flat.containsKey("filename")) {
      out.put("filename", flat.get("filename"));
    }
    for (String option : STRONG_OPTIONS.getOrDefault(driverName, List.of())) {
      for (Map.Entry<String, Object> e : flat.entrySet()) {
        if (option.endsWith(".") ? e.getKey().startsWith(option) : e.getKey().equals(option)) {
          out.put(e.getKey(), e.getValue());
          found = true;
        }
      }
    }
    return found;
  }

  /**
   * Returns the key a QDict of these options, flattened, iterates first (the option QEMU names
   * in "Block format '...' does not support the option '...'"), or null if there is none.
   */
  public static String firstFlattenedKey(String key, Object value) {
    Map<String, Object> flat = new LinkedHashMap<>();
    flatten(key, value, flat);
    String first = null;
    for (String k : qdictOrder(flat).keySet()) {
      first = k;
      break;
    }
    return first;
  }

  /** qdict_flatten: nested dicts and lists become dotted keys. */
  @SuppressWarnings("unchecked")
  private static void flatten(String key, Object value, Map<String, Object> out) {
    if (value instanceof Map<?, ?> m) {
      for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
        flatten(key + "." + e.getKey(), e.getValue(), out);
      }
    } else if (value instanceof List<?> l) {
      for (int i = 0; i < l.size(); i++) {
        flatten(key + "." + i, l.get(i), out);
      }
    } else {
      out.put(key, value);
    }
  }

  /** tdb_hash in qobject/qdict.c. */
  static int bucket(String key) {
    byte[] b = key.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    int value = 0x238F13AF * b.length;
    for (int i = 0; i < b.length; i++) {
      value = value + ((b[i] & 0xff) << (i * 5 % 24));
    }
    int hash = 1103515243 * value + 12345;
    return (int) (Integer.toUnsignedLong(hash) % QDICT_BUCKET_MAX);
  }

  /**
   * The iteration order of a QDict: by bucket; within a bucket the newest insertion first
   * (QLIST_INSERT_HEAD).
   */
  static Map<String, Object> qdictOrder(Map<String, Object> inserted) {
    List<String> keys = new ArrayList<>(inserted.keySet());
    List<String> reversed = new ArrayList<>(keys);
    java.util.Collections.reverse(reversed);
    reversed.sort(Comparator.comparingInt(NodeFilenames::bucket));
    Map<String, Object> out = new LinkedHashMap<>();
    for (String k : reversed) {
      out.put(k, inserted.get(k));
    }
    return out;
  }

  /** qobject_to_json (not pretty): {"key": value, ...}. */
  @SuppressWarnings("unchecked")
  static String toJson(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof Map<?, ?> m) {
      StringBuilder sb = new StringBuilder("{");
      boolean first = true;
      for (Map.Entry<String, Object> e : ((Map<String, Object>) m).entrySet()) {
        if (!first) {
          sb.append(", ");
        }
        first = false;
        sb.append(quote(e.getKey())).append(": ").append(toJson(e.getValue()));
      }
      return sb.append('}').toString();
    }
    if (value instanceof String s) {
      return quote(s);
    }
    return String.valueOf(value);
  }

  private static String quote(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20 || c >= 0x7f) {
            sb.append(String.format("\\u%04X", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }
}
