package io.blocksim.model.graph;

import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.port.Scheduler;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpError;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.model.semantics.Variant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.BiConsumer;

/**
 * The block layer's services (QEMU's block.c): opens a node from its options through the driver
 * registry, resolves child references, releases nodes that lost their last reference, and carries
 * what every layer above needs from the process (the ports, the switched-on semantics variants,
 * the event queue, drained sections). Drivers, jobs and QMP commands all use it; it uses none of
 * them except through {@link DriverFactory}.
 */
public final class BlockLayer {
  /** Opens a node of one driver from its options (QEMU's BlockDriver.bdrv_open/bdrv_file_open). */
  public interface DriverFactory {
    /** Sets node's driver (and children) from args; unread options fail the open. */
    void open(BlockLayer layer, Args args, BlockNode node, Map<String, Object> inherit,
        List<BlockNode> created) throws QmpError;
  }

  /**
   * One registry line: a driver's QEMU name, whether QEMU opens it as a protocol (bdrv_file_open:
   * the node is named before its children), and its factory.
   */
  public record DriverKind(String name, boolean protocol, DriverFactory factory) {}

  private final Scheduler scheduler;
  private final HostStorage storage;
  private final Set<String> semantics;
  private final NodeGraph graph = new NodeGraph();
  private final FileLocks.Table locks = new FileLocks.Table();
  private final List<QmpEvent> events = new ArrayList<>();
  private final Map<String, DriverKind> drivers = new TreeMap<>();
  private BiConsumer<BlockNode, Runnable> drainedSection = (node, change) -> change.run();

  public BlockLayer(Scheduler scheduler, HostStorage storage, Set<String> semantics,
      List<DriverKind> drivers) {
    this.scheduler = scheduler;
    this.storage = storage;
    this.semantics = new TreeSet<>(semantics);
    for (DriverKind kind : drivers) {
      this.drivers.put(kind.name(), kind);
    }
  }

  public Scheduler scheduler() {
    return scheduler;
  }

  public HostStorage storage() {
    return storage;
  }

  public NodeGraph graph() {
    return graph;
  }

  /** Returns whether a semantics variant is switched on. */
  public boolean variant(Variant variant) {
    return semantics.contains(variant.spelling());
  }

  /** Returns whether a named semantics variant ({@code bug:...}) is switched on. */
  public boolean variant(String name) {
    return semantics.contains(name);
  }

  /** Emits a QMP event now. */
  public void emit(String event, Map<String, Object> data) {
    events.add(new QmpEvent(event, data, scheduler.nowNs()));
  }

  public List<QmpEvent> events() {
    return events;
  }

  /** The registered driver names, sorted (what blockdev-add's {@code driver} accepts). */
  public List<String> driverNames() {
    List<String> names = new ArrayList<>(drivers.keySet());
    if (!variant(Variant.QBM)) {
      // QEMU 7.2 has no qbm driver: "Parameter 'driver' does not accept value 'qbm'".
      names.remove("qbm");
    }
    return names;
  }

  /**
   * Installs what a drained section does around a graph change (the job layer pauses the jobs
   * above the node, as QEMU's drain reaches every parent).
   */
  public void setDrainedSection(BiConsumer<BlockNode, Runnable> drainedSection) {
    this.drainedSection = drainedSection;
  }

  /** Runs {@code change} inside a drained section on {@code node} (bdrv_drained_begin/end). */
  public void drained(BlockNode node, Runnable change) {
    drainedSection.accept(node, change);
  }

  /**
   * Opens a node from its options (bdrv_open, recursively for inline children); {@code inherited}
   * carries the options a child inherits from its parent (read-only; non-null for an inline
   * child, which defaults to discard=unmap); every node named on the way
   * is appended to {@code created} so that a failed open can {@link #detach} them.
   */
  public BlockNode open(Args args, Map<String, Object> inherited, List<BlockNode> created)
      throws QmpError {
    if (inherited != null && inherited.get("read-only") instanceof Boolean inheritedReadOnly) {
      // bdrv_inherited_options / bdrv_backing_options: an inline child takes its parent's
      // read-only (a backing file: read-only) unless its own options say otherwise.
      args = args.withDefault("read-only", inheritedReadOnly);
    }
    String driverName = args.optEnum("driver", driverNames());
    if (driverName == null) {
      throw args.missing("driver");
    }
    String nodeName = args.optStr("node-name");
    String discard = args.optEnum("discard", List.of("ignore", "unmap"));
    if (discard == null && inherited != null) {
      // bdrv_inherited_options: every child opened from its parent's options (file, backing,
      // data-file, a header's backing file) defaults to discard=unmap whatever the parent's
      // discard, as bdrv_co_pdiscard checks each node's own BDRV_O_UNMAP.
      discard = "unmap";
    }
    Boolean readOnly = args.optBool("read-only");
    args.unmodelled("auto-read-only", args.optBool("auto-read-only"), false);
    Boolean forceShare = args.optBool("force-share");
    if (Boolean.TRUE.equals(forceShare) && !Boolean.TRUE.equals(readOnly)) {
      // bdrv_open_common's check, before anything is opened.
      throw QmpError.generic("force-share=on can only be used with read-only images");
    }
    args.unmodelled("force-share", forceShare, false);
    args.unmodelled("detect-zeroes", args.optEnum("detect-zeroes", List.of("off", "on", "unmap")),
        "off");
    Args cache = args.optObject("cache");
    if (cache != null) {
      cache.unmodelled("direct", cache.optBool("direct"), false);
      cache.unmodelled("no-flush", cache.optBool("no-flush"), false);
      cache.checkNoExtra();
    }
    Map<String, Object> childInherit = new LinkedHashMap<>();
    childInherit.put("read-only", Boolean.TRUE.equals(readOnly));
    if (nodeName != null) {
      if (!NodeGraph.wellFormed(nodeName)) {
        throw QmpError.generic("Invalid node-name: '" + nodeName + "'");
      }
    }

    if (nodeName != null && graph.find(nodeName) != null) {
      throw QmpError.generic("Duplicate nodes with node-name='" + nodeName + "'");
    }
    // QEMU names a node (and puts it on the list query-named-block-nodes reports, newest first)
    // before opening the children of a protocol driver, but only after opening the file child of
    // a format driver, which it needs to probe; backing files come after their overlay.
    DriverKind kind = drivers.get(driverName);
    boolean protocol = kind.protocol();
    BlockNode node = new BlockNode(
        nodeName == null && protocol ? graph.generateName() : nodeName,
        nodeName == null, null);
    if (protocol) {
      graph.add(node);
      created.add(node);
    } else {
      node.setOnFirstChild(() -> {
        if (nodeName == null) {
          node.assignGeneratedName(graph.generateName());
        }
        graph.add(node);
        created.add(node);
      });
    }
    // BDRV_O_UNMAP is among the open flags a driver's open sees (qcow2's discard_passthrough).
    node.setDiscardUnmap("unmap".equals(discard));
    kind.factory().open(this, args, node, childInherit, created);
    args.checkNoExtra();
    node.setReadOnly(Boolean.TRUE.equals(readOnly));
    node.setOptions(args.map());
    return node;
  }

  /** Opens a node from options built in code (a header's backing or data file). */
  public BlockNode open(Map<String, Object> options, String context,
      Map<String, Object> inherited, List<BlockNode> created) throws QmpError {
    return open(new Args(options, context), inherited, created);
  }

  /**
   * Resolves a child reference: a string names an existing node, an object defines a new one.
   * Returns null when absent and not required; {@code "backing": null} is handled by the caller.
   */
  public BlockNode child(Args args, String key, boolean required, Map<String, Object> inherit,
      List<BlockNode> created) throws QmpError {
    Object ref = args.get(key);
    if (ref == null) {
      if (required) {
        throw args.missing(key);
      }
      return null;
    }
    if (ref instanceof String name) {
      BlockNode node = graph.find(name);
      if (node == null) {
        throw QmpError.generic("Cannot find device='" + name + "' nor node-name='" + name + "'");
      }
      return node;
    }
    Args childArgs = args.optObject(key);
    BlockNode child = open(childArgs, inherit, created);
    child.markOpenedInline();
    return child;
  }

  /** Opens a node and hands it to the monitor (blockdev-add); a failed open leaves no node. */
  public BlockNode openMonitorOwned(Args args) throws QmpError {
    List<BlockNode> created = new ArrayList<>();
    try {
      BlockNode node = open(args, null, created);
      checkLocks(node, created);
      graph.setMonitorOwned(node);
      commitLocks();
      return node;
    } catch (QmpError e) {
      for (int i = created.size() - 1; i >= 0; i--) {
        detach(created.get(i));
      }
      throw e;
    }
  }

  /**
   * raw_check_perm on the daemon's file nodes after a permission change (their image locks
   * against each other: {@link FileLocks.Table#prepare}); the caller undoes the change when this
   * throws. {@code root} is the node just opened (with {@code created}, what its open created):
   * a conflict on a backing file it opened is prefixed {@code Could not open backing file: }
   * per level, as bdrv_open_backing_file does; null for other changes.
   */
  public void checkLocks(BlockNode root, List<BlockNode> created) throws QmpError {
    FileLocks.Conflict conflict = locks.prepare(graph);
    if (conflict == null) {
      return;
    }
    int levels = root == null ? 0 : Math.max(0, backingLevels(root, conflict.node(), created));
    throw QmpError.generic("Could not open backing file: ".repeat(levels) + conflict.message());
  }

  /** The backing files opened on the way from {@code from} to {@code to}, or -1. */
  private static int backingLevels(BlockNode from, BlockNode to, List<BlockNode> created) {
    if (from == to) {
      return 0;
    }
    for (Map.Entry<String, BlockNode> e : from.children().entrySet()) {
      int below = backingLevels(e.getValue(), to, created);
      if (below >= 0) {
        boolean opened = e.getKey().equals(BlockNode.BACKING) && created.contains(e.getValue());
        return below + (opened ? 1 : 0);
      }
    }
    return -1;
  }

  /** raw_set_perm on every file node: the locks now follow the graph (FileLocks.Table). */
  public void commitLocks() {
    locks.commit(graph);
  }

  /** Closes a node that lost its last reference, and its children that lose theirs (bdrv_unref). */
  public void release(BlockNode node) {
    try {
      node.driver().close(node);
    } catch (HostIoException e) {
      // QEMU reports close-time write-back failures only to stderr; the node goes regardless.
    }
    graph.remove(node);
    for (Map.Entry<String, BlockNode> e : new ArrayList<>(node.children().entrySet())) {
      BlockNode child = e.getValue();
      node.setChild(e.getKey(), null);
      // A job holds its nodes (block_job_add_bdrv takes a reference): a job's filter that was
      // a parent's only child stays until the job drops it.
      if (child.parents().isEmpty() && child.users().isEmpty()
          && !graph.isMonitorOwned(child) && child.blockingJobType() == null
          && child.jobChildren().isEmpty()) {
        release(child);
      }
    }
  }

  /** Forgets a node that failed to open, unlinking its children without closing anything. */
  public void detach(BlockNode node) {
    graph.remove(node);
    for (String role : new ArrayList<>(node.children().keySet())) {
      node.setChild(role, null);
    }
  }

  /** Convenience for event data. */
  public static Map<String, Object> data(Object... keysAndValues) {
    return Json.object(keysAndValues);
  }
}
