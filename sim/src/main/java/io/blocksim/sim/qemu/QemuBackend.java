package io.blocksim.sim.qemu;

import io.blocksim.sim.files.Cleanup;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.qemu.ToolRun.ToolTimeoutException;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.StepException;
import io.blocksim.sim.scenario.ShellWords;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Carries out a scenario's steps on a real qemu-storage-daemon 7.2, so that {@code blocksim diff}
 * can set the simulator's answers beside QEMU's.
 *
 * <p>Layout: image files live in the scenario's scratch directory, and scenario paths are
 * relative to it; QMP arguments get absolute file names on the way out and replies and events
 * lose the scratch prefix on the way back. Sockets, the daemon's log and temporary files live in
 * a separate short-named control directory (a UNIX socket path must stay under 108 bytes).
 *
 * <p>Guest I/O: each {@code io} step exports the node over NBD (writable, with a fresh export
 * name), runs {@code qemu-io -f raw nbd+unix://...}, and deletes the export again; the export's
 * own {@code BLOCK_EXPORT_DELETED} events are kept out of {@link #events()}. While a job has a
 * filter above the node, the export goes on top of the filter, where a guest device would be
 * (see {@link #guestTop}). qemu-io flushes when it disconnects (docs/qemu-behaviour.md §10.3), which is
 * QEMU's real behaviour and the simulator's too.
 *
 * <p>Fault model: the daemon may crash or hang. A crash is reported as {@code "QEMU crashed
 * (signal N)"} with the tail of the daemon's log, never as a simulator failure; a hang ends in a
 * {@link StepException} after the command time limit. Known: qemu-storage-daemon 7.2 segfaults
 * on {@code query-named-block-nodes} after a block-stream job with auto-dismiss false has
 * concluded.
 *
 * <p>This backend works in real time ({@link System#nanoTime()}, sleeping); it is outside the
 * deterministic simulator by nature.
 */
public final class QemuBackend implements Backend {
  /** Longest a QMP command may take before the daemon counts as hung. */
  static final long COMMAND_TIMEOUT_NS = 30_000_000_000L;
  /** Longest a qemu-io, qemu-img or nbdcopy run may take. */
  static final long TOOL_TIMEOUT_NS = 120_000_000_000L;
  /** The longest {@code advance} a scenario may ask of real time under diff. */
  public static final long ADVANCE_MAX_NS = 60_000_000_000L;
  /** The most real time a case's {@code advance} steps may ask for together under diff. */
  public static final long ADVANCE_TOTAL_MAX_NS = 300_000_000_000L;
  /** Upper bound of a {@link #runUntil} wait in real time, whatever the scenario asks. */
  static final long RUN_UNTIL_CAP_NS = 30_000_000_000L;
  private static final long EXPORT_DELETE_TIMEOUT_NS = 10_000_000_000L;
  private static final long EXIT_WAIT_MS = 2_000L;
  private static final int LOG_TAIL_LINES = 20;
  private static final String INTERNAL_EXPORT_PREFIX = "blocksim-";
  private static final String DAEMON_LOG = "qemu-storage-daemon.log";
  private static final Pattern FORMAT_MEMBER = Pattern.compile("\"format\": \"([a-z0-9]+)\"");

  private final ScratchPaths paths;
  private final boolean keepScratch;
  private final Consumer<String> log;
  private final Path controlDir;
  private final Path daemonLog;
  private final long commandTimeoutNs;
  private final Map<String, Path> tools = new LinkedHashMap<>();
  private final List<QmpEvent> events = new ArrayList<>();
  private final Set<String> deletedInternalExports = new LinkedHashSet<>();
  private StorageDaemon daemon;
  /** Deletes the scratch and control directories if the process ends first (Ctrl-C). */
  private Cleanup.Handle folders;
  private int exportSerial;
  /**
   * Nodes the scenario added with blockdev-add: a copy-before-write filter among them is the
   * scenario's own (fleecing), not a job's, and a guest of the node below stays below it.
   */
  private final Set<String> scenarioNodes = new LinkedHashSet<>();
  /** The unix socket of the NBD server the scenario started, or null. */
  private String scenarioNbdSocket;
  private int tempSerial;

  /**
   * Starts a daemon for one case.
   *
   * @param scratchDir the case's scratch directory (created if missing); image paths in the
   *     scenario are relative to it
   * @param keepScratch keep the scratch and control directories on {@link #close()} (their
   *     paths go to {@code log})
   * @param log receives one line per tool run and daemon start, for diagnostics; never part of
   *     the scenario's output
   * @throws StepException when QEMU is not installed or the daemon does not start
   */
  public QemuBackend(Path scratchDir, boolean keepScratch, Consumer<String> log)
      throws StepException {
    this(scratchDir, keepScratch, log, COMMAND_TIMEOUT_NS);
  }

  /** As above, with the QMP command time limit given (tests use a short one). */
  QemuBackend(Path scratchDir, boolean keepScratch, Consumer<String> log, long commandTimeoutNs)
      throws StepException {
    if (Cleanup.shuttingDown()) {
      throw new StepException("interrupted");
    }
    QemuAvailability availability = QemuAvailability.check();
    if (!availability.available()) {
      throw new StepException(availability.reason());
    }
    for (String tool : QemuAvailability.TOOLS) {
      tools.put(tool, QemuAvailability.find(tool));
    }
    this.paths = new ScratchPaths(scratchDir);
    this.keepScratch = keepScratch;
    this.log = log;
    try {
      Files.createDirectories(paths.scratchDir());
      this.controlDir = Files.createTempDirectory("blocksim-qsd-");
    } catch (IOException e) {
      throw new StepException("cannot create the scratch directories: " + e.getMessage(), e);
    }
    Path control = controlDir;
    this.folders = keepScratch ? () -> { } : Cleanup.register(() -> {
      Cleanup.deleteTree(paths.scratchDir());
      Cleanup.deleteTree(control);
    });
    this.daemonLog = controlDir.resolve(DAEMON_LOG);
    this.commandTimeoutNs = commandTimeoutNs;
    try {
      startDaemon();
    } catch (StepException e) {
      close();  // The message carries the log tail; nobody else will call close().
      throw e;
    }
  }

  /** Returns the scratch directory (absolute). */
  public Path scratchDir() {
    return paths.scratchDir();
  }

  /** Returns the daemon's log file (kept with the control directory when keepScratch is set). */
  public Path daemonLog() {
    return daemonLog;
  }

  /** Returns the daemon's process id (tests stop it to simulate a hang). */
  long daemonPid() {
    return daemon.pid();
  }

  @Override
  public void createImage(ImageSpec spec) throws StepException {
    refuseSymbolicLinks();
    List<String> args = new ArrayList<>(List.of("create", "-f", spec.format()));
    List<String> options = new ArrayList<>();
    if (spec.clusterSizeBytes() != null) {
      options.add("cluster_size=" + spec.clusterSizeBytes());
    }
    if (spec.backing() != null) {
      options.add("backing_file=" + escapeOption(spec.backing()));
      String backingFormat =
          spec.backingFormat() != null ? spec.backingFormat() : probeFormat(spec.backing());
      options.add("backing_fmt=" + backingFormat);
    }
    if (spec.options() != null) {
      spec.options().forEach((key, value) ->
          options.add(key.replace('-', '_') + "=" + escapeOption(optionValue(value))));
    }
    if (!options.isEmpty()) {
      args.add("-o");
      args.add(String.join(",", options));
    }
    args.add(spec.path());
    // Always given: an explicit 0 makes a 0-byte image even over a backing file (qemu-img
    // create takes the backing file's size only when no size is given), as the simulator does.
    args.add(Long.toString(spec.sizeBytes()));
    ToolRun run = runTool("qemu-img", args, null);
    if (run.exitCode() != 0) {
      throw new StepException("qemu-img create " + spec.path() + " failed: "
          + String.join("\n", run.lines()));
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public Map<String, Object> qmp(String command, Map<String, Object> args)
      throws StepException {
    refuseSymbolicLinks();
    boolean serverCommand = command.equals("nbd-server-start")
        || command.equals("nbd-server-stop") || command.equals("block-export-add");
    if (serverCommand && scenarioNbdSocket == null) {
      // The harness's own NBD server steps aside, so QEMU answers as if none ran.
      internalNbdServer(false);
    }
    Map<String, Object> reply = executeRaw(command, paths.toQemu(command, args));
    if (command.equals("nbd-server-start") && reply.containsKey("return")) {
      scenarioNbdSocket = unixSocketPath(args);
    } else if (command.equals("nbd-server-stop") && reply.containsKey("return")) {
      scenarioNbdSocket = null;
    } else if (command.equals("blockdev-add") && reply.containsKey("return")
        && args != null && args.get("node-name") instanceof String added) {
      scenarioNodes.add(added);
    }
    if (serverCommand && scenarioNbdSocket == null) {
      internalNbdServer(true);
    }
    return (Map<String, Object>) paths.fromQemu(reply);
  }

  /**
   * The harness's NBD server (for io steps and digests) runs whenever the scenario's does not:
   * stopped before a scenario's nbd-server-start, started again after its nbd-server-stop. It has
   * no exports at a step boundary, so stopping it emits no event.
   */
  private void internalNbdServer(boolean start) throws StepException {
    Map<String, Object> reply = start
        ? executeRaw("nbd-server-start", Map.of("addr", Map.of("type", "unix", "data",
            Map.of("path", controlDir.resolve(StorageDaemon.NBD_SOCKET).toString()))))
        : executeRaw("nbd-server-stop", Map.of());
    if (reply.containsKey("error")) {
      throw new StepException("the harness's NBD server did not " + (start ? "start" : "stop")
          + ": " + errorDesc(reply));
    }
  }

  /** The unix socket a scenario's nbd-server-start listens on (relative to the scratch dir). */
  @SuppressWarnings("unchecked")
  private static String unixSocketPath(Map<String, Object> args) throws StepException {
    Object addr = args.get("addr");
    if (addr instanceof Map<?, ?> a && "unix".equals(a.get("type"))
        && a.get("data") instanceof Map<?, ?> data && data.get("path") instanceof String path) {
      return path;
    }
    throw new StepException("nbd-server-start: blocksim diff needs a unix socket address "
        + "(addr: {type: unix, data: {path: ...}})");
  }

  @Override
  public MapOutcome nbdMap(String export, String context) throws StepException {
    ToolRun run = runTool("nbdinfo", List.of("--map=" + context, nbdUri(export)), null);
    if (run.exitCode() != 0) {
      // nbdinfo names itself by the path it was started with.
      String path = tools.get("nbdinfo").toString();
      List<String> lines = new ArrayList<>();
      for (String line : run.lines()) {
        lines.add(line.startsWith(path + ":") ? "nbdinfo" + line.substring(path.length()) : line);
      }
      return new MapOutcome(List.of(), String.join("\n", lines));
    }
    List<long[]> extents = new ArrayList<>();
    for (String line : run.lines()) {
      String[] f = line.trim().split("\\s+");
      if (f.length < 3) {
        throw new StepException("nbdinfo printed an unexpected line: " + line);
      }
      extents.add(new long[] {Long.parseLong(f[0]), Long.parseLong(f[1]),
          Long.parseLong(f[2])});
    }
    return new MapOutcome(extents, null);
  }

  /**
   * How an io step reports QEMU's refusal to attach the node (a permission conflict with a
   * running job): as the request's error, which a scenario may expect with {@code error:}.
   */
  public static final String EXPORT_REFUSED = "cannot export the node: ";

  @Override
  public IoOutcome io(String node, String command) throws StepException {
    String exportId = nextExportId("io");
    boolean writable;
    try {
      writable = addExport(guestTop(node), exportId, true, "io on node '" + node + "'");
    } catch (PermissionConflict e) {
      String refusal = EXPORT_REFUSED + e.desc;
      return new IoOutcome(List.of(refusal), refusal);
    }
    ToolRun run;
    try {
      List<String> args = new ArrayList<>(List.of("-f", "raw"));
      if (!writable) {
        args.add("-r");  // A read-only node can only be exported read-only.
      }
      args.addAll(List.of(nbdUri(exportId), "-c", command));
      run = runTool("qemu-io", args, null);
    } finally {
      deleteExport(exportId);
    }
    List<String> lines = QemuIoOutput.filter(stripControlPaths(run.lines()));
    for (String line : lines) {
      if (line.contains("can't open device")) {
        throw new StepException("io on node '" + node + "': " + line);
      }
    }
    return new IoOutcome(lines, QemuIoOutput.failure(lines, run.exitCode()));
  }

  @Override
  public void advance(long durationNs) throws StepException {
    if (durationNs > ADVANCE_MAX_NS) {
      throw new StepException("advance of " + durationNs / 1_000_000_000L + " s: under blocksim"
          + " diff an advance passes in real time, and at most " + ADVANCE_MAX_NS / 1_000_000_000L
          + " s is allowed (mark the scenario sim-only to advance further)");
    }
    long deadline = System.nanoTime() + durationNs; // determinism-ok: real QEMU
    requireAlive("advance");
    long leftNs;
    while ((leftNs = deadline - System.nanoTime()) > 0) { // determinism-ok: real QEMU
      try {
        daemon.qmp().awaitEvent(leftNs);
      } catch (IOException e) {
        throw daemonFailure("advance", e);
      }
    }
  }

  @Override
  public boolean runUntil(BooleanSupplier condition, long timeoutNs) throws StepException {
    long deadline = System.nanoTime() + Math.min(timeoutNs, RUN_UNTIL_CAP_NS); // determinism-ok: real QEMU
    requireAlive("a wait");
    while (true) {
      pollEvents();
      if (condition.getAsBoolean()) {
        return true;
      }
      long leftNs = deadline - System.nanoTime(); // determinism-ok: real QEMU
      if (leftNs <= 0) {
        return false;
      }
      try {
        daemon.qmp().awaitEvent(leftNs);
      } catch (IOException e) {
        throw daemonFailure("a wait", e);
      }
    }
  }

  @Override
  public List<QmpEvent> events() {
    if (daemon != null && daemon.alive()) {
      try {
        daemon.qmp().pollEvents();
      } catch (IOException e) {
        // The next command reports the daemon's state; events so far stay valid.
      }
    }
    return List.copyOf(events);
  }

  @Override
  public String imageDigest(String nodeOrFile) throws StepException {
    String exportId = nextExportId("digest");
    Map<String, Object> reply = executeRaw("block-export-add", exportArgs(nodeOrFile, exportId,
        false));
    if (reply.containsKey("error")) {
      String desc = errorDesc(reply);
      if (desc.startsWith("Cannot find device=") && isScratchFile(nodeOrFile)) {
        return fileDigest(nodeOrFile);
      }
      throw new StepException("digest of '" + nodeOrFile + "': " + paths.fromQemu(desc));
    }
    Path contents = nextTempFile("digest");
    try {
      ToolRun run = runTool("nbdcopy", List.of(nbdUri(exportId), "-"), contents);
      if (run.exitCode() != 0) {
        throw new StepException("digest of node '" + nodeOrFile + "': nbdcopy failed: "
            + String.join("\n", stripControlPaths(run.lines())));
      }
    } finally {
      deleteExport(exportId);
    }
    return sha256AndDelete(contents);
  }

  @Override
  public void crashProcess() throws StepException {
    requireAlive("crash: process");
    log.accept("kill -9 qemu-storage-daemon (pid " + daemon.pid() + ")");
    daemon.kill();
    appendToDaemonLog("=== killed with SIGKILL by crash: process; restarting ===");
    scenarioNbdSocket = null;
    startDaemon();
  }

  @Override
  public void crashPower() throws StepException {
    throw new StepException("crash: power is sim-only");
  }

  @Override
  public ImgOutcome img(String command) throws StepException {
    List<String> words;
    try {
      words = ShellWords.split(command);
    } catch (IllegalArgumentException e) {
      throw new StepException("img: " + e.getMessage());
    }
    if (!words.isEmpty() && words.get(0).equals("qemu-img")) {
      words = words.subList(1, words.size());
    }
    if (words.isEmpty()) {
      throw new StepException("img: empty command");
    }
    refuseSymbolicLinks();
    ToolRun run = runTool("qemu-img", words, null);
    return new ImgOutcome(stripControlPaths(run.lines()), run.exitCode());
  }

  private void refuseSymbolicLinks() throws StepException {
    try {
      paths.refuseSymbolicLinks();
    } catch (IOException e) {
      throw new StepException(e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    if (daemon != null) {
      daemon.close();
      daemon = null;
    }
    if (keepScratch) {
      log.accept("kept scratch directory " + paths.scratchDir() + " and control directory "
          + controlDir);
      return;
    }
    deleteTree(paths.scratchDir());
    deleteTree(controlDir);
    folders.close();
  }

  private void startDaemon() throws StepException {
    try {
      // Working directory: the scratch directory. File names from QMP are made absolute, but
      // QEMU 7.2 opens the external data file named in a qcow2 header relative to its working
      // directory, as the simulator resolves it relative to the case's directory.
      daemon = StorageDaemon.start(tools.get("qemu-storage-daemon"), controlDir,
          paths.scratchDir(),
          daemonLog, commandTimeoutNs, this::onEvent);
    } catch (IOException e) {
      throw new StepException("qemu-storage-daemon did not start: " + e.getMessage()
          + logTail(), e);
    }
    log.accept("qemu-storage-daemon started (pid " + daemon.pid() + ")");
  }

  private void onEvent(QmpEvent event) {
    if (event.event().equals("BLOCK_EXPORT_DELETED")
        && event.data().get("id") instanceof String id
        && id.startsWith(INTERNAL_EXPORT_PREFIX)) {
      deletedInternalExports.add(id);
      return;
    }
    @SuppressWarnings("unchecked")
    Map<String, Object> data = (Map<String, Object>) paths.fromQemu(event.data());
    events.add(new QmpEvent(event.event(), data, event.timestampNs()));
  }

  /** Executes a command whose arguments are already in QEMU's form. */
  private Map<String, Object> executeRaw(String command, Map<String, Object> args)
      throws StepException {
    requireAlive("'" + command + "'");
    try {
      return daemon.qmp().execute(command, args);
    } catch (IOException e) {
      throw daemonFailure("'" + command + "'", e);
    }
  }

  private void pollEvents() throws StepException {
    try {
      daemon.qmp().pollEvents();
    } catch (IOException e) {
      throw daemonFailure("a wait", e);
    }
  }

  private void requireAlive(String during) throws StepException {
    if (daemon == null) {
      throw new StepException("qemu-storage-daemon is not running (before " + during + ")");
    }
    if (!daemon.alive()) {
      throw new StepException(describeExit(during));
    }
  }

  /** Turns a QMP transport failure into a step failure that says what QEMU did. */
  private StepException daemonFailure(String during, IOException cause) {
    boolean closed = cause instanceof QmpClient.QmpException q && q.connectionClosed();
    if (closed || !daemon.alive()) {
      return new StepException(describeExit(during), cause);
    }
    return new StepException("qemu-storage-daemon failed during " + during + ": "
        + cause.getMessage() + logTail(), cause);
  }

  private String describeExit(String during) {
    String status = daemon.exitStatus(EXIT_WAIT_MS);
    if (status == null) {
      status = "qemu-storage-daemon closed its QMP connection";
    }
    return status + " during " + during + logTail();
  }

  private String logTail() {
    try {
      if (!Files.exists(daemonLog)) {
        return "";
      }
      List<String> lines = ToolRun.splitLines(Files.readString(daemonLog,
          StandardCharsets.UTF_8));
      if (lines.isEmpty()) {
        return "; the daemon log is empty";
      }
      List<String> tail = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
      return "; daemon log tail:\n  " + String.join("\n  ", stripControlPaths(tail));
    } catch (IOException e) {
      return "; daemon log unreadable: " + e.getMessage();
    }
  }

  private void appendToDaemonLog(String line) {
    try {
      Files.writeString(daemonLog, line + "\n", StandardCharsets.UTF_8,
          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      log.accept("cannot write the daemon log: " + e.getMessage());
    }
  }

  /**
   * Exports the node under a fresh name; returns whether the export is writable. A read-only
   * node is exported read-only when a writable export was asked for.
   */
  private boolean addExport(String node, String exportId, boolean writable, String what)
      throws StepException, PermissionConflict {
    Map<String, Object> reply =
        executeRaw("block-export-add", exportArgs(node, exportId, writable));
    if (reply.containsKey("error") && writable
        && errorDesc(reply).equals("Cannot export read-only node as writable")) {
      return addExport(node, exportId, false, what);
    }
    if (reply.containsKey("error")) {
      String desc = String.valueOf(paths.fromQemu(errorDesc(reply)));
      // A refused permission: a parent withholds it, or a filter passes write down to a
      // read-only node (bdrv_node_refresh_perm) - the guest's attach fails, as in the simulator.
      if (desc.startsWith("Permission conflict on node") || desc.equals("Block node is read-only")) {
        throw new PermissionConflict(desc);
      }
      throw new StepException(what + ": " + EXPORT_REFUSED + desc);
    }
    return writable;
  }

  /** QEMU refused to attach the export because a user of the node withholds a permission. */
  private static final class PermissionConflict extends Exception {
    final String desc;

    PermissionConflict(String desc) {
      super(desc);
      this.desc = desc;
    }
  }

  /**
   * Returns the node a guest device attached to {@code node} would now be attached to: the top
   * of the chain of filters that jobs have inserted above it (backup's copy-before-write,
   * mirror_top, stream's copy-on-read, commit_top). QEMU moves a node's parents onto such a
   * filter, and the filter refuses new writers below it, so guest writes during a job must enter
   * above it, as they do in iotests. Job filters are the only parents QEMU names itself
   * ({@code #block...}): a node added with blockdev-add always has a name given by the scenario.
   * Only filter edges ({@code file}, {@code backing}) are followed, never a filter's {@code
   * target}, so I/O on a backup target stays on the target. A filter the scenario added itself
   * (a fleecing copy-before-write) is not a job's: QEMU's blockdev-add gives the node a new
   * parent without moving the node's other parents, so a guest of the node stays below it.
   */
  @SuppressWarnings("unchecked")
  private String guestTop(String node) throws StepException {
    Map<String, Object> reply = executeRaw("x-debug-query-block-graph", null);
    if (!(reply.get("return") instanceof Map<?, ?> graph)
        || !(graph.get("nodes") instanceof List<?> nodes)
        || !(graph.get("edges") instanceof List<?> edges)) {
      return node;
    }
    Map<Long, String> driverNodeNames = new LinkedHashMap<>();
    for (Object item : nodes) {
      Map<String, Object> info = (Map<String, Object>) item;
      if ("block-driver".equals(info.get("type")) && info.get("id") instanceof Number id) {
        driverNodeNames.put(id.longValue(), (String) info.get("name"));
      }
    }
    Long current = null;
    for (Map.Entry<Long, String> e : driverNodeNames.entrySet()) {
      if (node.equals(e.getValue())) {
        current = e.getKey();
      }
    }
    if (current == null) {
      return node;  // block-export-add then names the problem.
    }
    Map<String, String> drivers = new LinkedHashMap<>();
    if (executeRaw("query-named-block-nodes", null).get("return") instanceof List<?> infos) {
      for (Object info : infos) {
        if (info instanceof Map<?, ?> m && m.get("node-name") instanceof String name) {
          drivers.put(name, String.valueOf(m.get("drv")));
        }
      }
    }
    for (int depth = 0; depth < driverNodeNames.size(); depth++) {
      Long parent = implicitFilterParent(edges, driverNodeNames, drivers, current);
      if (parent == null) {
        break;
      }
      current = parent;
    }
    return driverNodeNames.get(current);
  }

  @SuppressWarnings("unchecked")
  private Long implicitFilterParent(List<?> edges, Map<Long, String> driverNodeNames,
      Map<String, String> drivers, long child) {
    for (Object item : edges) {
      Map<String, Object> edge = (Map<String, Object>) item;
      if (edge.get("child") instanceof Number c && c.longValue() == child
          && edge.get("parent") instanceof Number p
          && (edge.get("name").equals("file") || edge.get("name").equals("backing"))) {
        String parentName = driverNodeNames.get(p.longValue());
        if (parentName != null && (parentName.startsWith("#")
            || JOB_FILTER_DRIVERS.contains(drivers.get(parentName))
            && !scenarioNodes.contains(parentName))) {
          return p.longValue();
        }
      }
    }
    return null;
  }

  /**
   * Drivers of filters only jobs insert, named by filter-node-name or not. A copy-on-read filter
   * can also be the scenario's own, so only a generated name marks it as stream's.
   */
  private static final List<String> JOB_FILTER_DRIVERS = List.of("copy-before-write",
      "mirror_top", "commit_top");

  private static Map<String, Object> exportArgs(String node, String exportId, boolean writable) {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("type", "nbd");
    args.put("id", exportId);
    args.put("node-name", node);
    args.put("name", exportId);
    args.put("writable", writable);
    return args;
  }

  /**
   * Deletes an internal export and waits for its BLOCK_EXPORT_DELETED, so the node has no extra
   * parent left when the next step runs. Mode {@code hard}: the client has already disconnected,
   * but the server may not have noticed yet.
   */
  private void deleteExport(String exportId) throws StepException {
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("id", exportId);
    args.put("mode", "hard");
    Map<String, Object> reply = executeRaw("block-export-del", args);
    if (reply.containsKey("error")) {
      throw new StepException("cannot delete export '" + exportId + "': " + errorDesc(reply));
    }
    long deadline = System.nanoTime() + EXPORT_DELETE_TIMEOUT_NS; // determinism-ok: real QEMU
    while (!deletedInternalExports.contains(exportId)) {
      long leftNs = deadline - System.nanoTime(); // determinism-ok: real QEMU
      if (leftNs <= 0) {
        throw new StepException("export '" + exportId + "' was not deleted within "
            + EXPORT_DELETE_TIMEOUT_NS / 1_000_000_000L + " s");
      }
      try {
        daemon.qmp().awaitEvent(leftNs);
      } catch (IOException e) {
        throw daemonFailure("the deletion of export '" + exportId + "'", e);
      }
    }
  }

  private String nextExportId(String purpose) {
    return INTERNAL_EXPORT_PREFIX + purpose + "-" + (++exportSerial);
  }

  private Path nextTempFile(String purpose) {
    return controlDir.resolve(purpose + "-" + (++tempSerial) + ".tmp");
  }

  /** The export on the NBD server that runs now: the scenario's, or else the harness's. */
  private String nbdUri(String exportName) {
    return "nbd+unix:///" + exportName + "?socket=" + (scenarioNbdSocket != null
        ? scenarioNbdSocket : controlDir.resolve(StorageDaemon.NBD_SOCKET));
  }

  private boolean isScratchFile(String name) {
    if (name.isEmpty() || name.startsWith("/")) {
      return false;
    }
    Path file = paths.resolve(name);
    return file.startsWith(paths.scratchDir()) && Files.isRegularFile(file);
  }

  /**
   * Returns the SHA-256 of an image file's guest-visible contents. {@code -U}: a node may still
   * have the file open, and then the digest is of what has reached the file.
   */
  private String fileDigest(String file) throws StepException {
    Path contents = nextTempFile("convert");
    ToolRun run = runTool("qemu-img",
        List.of("convert", "-U", "-O", "raw", file, contents.toString()), null);
    if (run.exitCode() != 0) {
      throw new StepException("digest of file '" + file + "': "
          + String.join("\n", stripControlPaths(run.lines())));
    }
    return sha256AndDelete(contents);
  }

  private String probeFormat(String image) throws StepException {
    ToolRun run = runTool("qemu-img", List.of("info", "-U", "--output=json", image), null);
    String text = String.join("\n", run.lines());
    Matcher m = FORMAT_MEMBER.matcher(text);
    if (run.exitCode() != 0 || !m.find()) {
      throw new StepException("cannot find the format of backing file '" + image + "': " + text);
    }
    return m.group(1);
  }

  private ToolRun runTool(String tool, List<String> args, Path stdout) throws StepException {
    List<String> command = new ArrayList<>();
    command.add(tools.get(tool).toString());
    command.addAll(args);
    log.accept("$ " + tool + " " + String.join(" ", stripControlPaths(args)));
    try {
      ToolRun run = ToolRun.run(command, paths.scratchDir(), nextTempFile("output"), stdout,
          TOOL_TIMEOUT_NS);
      List<String> lines = new ArrayList<>();
      for (String line : run.lines()) {
        lines.add(paths.fromQemu(line));
      }
      return new ToolRun(lines, run.exitCode());
    } catch (IOException | ToolTimeoutException e) {
      throw new StepException(tool + ": " + e.getMessage(), e);
    }
  }

  private List<String> stripControlPaths(List<String> lines) {
    String prefix = controlDir + "/";
    List<String> stripped = new ArrayList<>(lines.size());
    for (String line : lines) {
      stripped.add(line.replace(prefix, ""));
    }
    return stripped;
  }

  private static String sha256AndDelete(Path file) throws StepException {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      byte[] buffer = new byte[1 << 20];
      int n;
      while ((n = in.read(buffer)) > 0) {
        digest.update(buffer, 0, n);
      }
      return HexFormat.of().formatHex(digest.digest());
    } catch (IOException | NoSuchAlgorithmException e) {
      throw new StepException("cannot hash " + file.getFileName() + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        // A leftover temporary file goes with the control directory.
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static String errorDesc(Map<String, Object> reply) {
    Object error = reply.get("error");
    if (error instanceof Map<?, ?> map && map.get("desc") instanceof String desc) {
      return desc;
    }
    return String.valueOf(error);
  }

  private static String optionValue(Object value) {
    if (value instanceof Boolean b) {
      return b ? "on" : "off";
    }
    return String.valueOf(value);
  }

  /** QemuOpts values escape a comma by doubling it. */
  private static String escapeOption(String value) {
    return value.replace(",", ",,");
  }

  private void deleteTree(Path root) {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      log.accept("cannot delete " + root + ": " + e.getMessage());
    }
  }
}
