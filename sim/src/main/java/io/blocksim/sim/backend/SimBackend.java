package io.blocksim.sim.backend;

import io.blocksim.model.Engine;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.Permissions;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.semantics.Variant;
import io.blocksim.model.port.Scheduler;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.disk.FakeDisk;
import io.blocksim.sim.disk.LatencyModel;
import io.blocksim.sim.guest.GuestIo;
import io.blocksim.sim.guest.QemuIoCommand;
import io.blocksim.sim.loop.EventLoop;
import io.blocksim.sim.loop.LimitReached;
import io.blocksim.sim.prng.Prng;
import io.blocksim.sim.prng.WorldSeeds;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.StepException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The simulated world behind a scenario: one seeded PRNG, the event loop, the fake disk and the
 * engine (one simulated qemu-storage-daemon, replaced by a fresh one after a crash).
 */
public final class SimBackend implements Backend {
  private final Prng root;
  private final WorldSeeds seeds;
  private final FakeDisk disk;
  private final EventLoop loop;
  private final Set<String> semantics;
  private final List<QmpEvent> eventsOfDeadProcesses = new ArrayList<>();
  private Engine engine;
  /** Bumped at every crash so that work scheduled by a dead process never runs. */
  private long epoch;
  private boolean quit;

  public SimBackend(long seed, Set<String> semantics) {
    this(seed, semantics, false);
  }

  /**
   * A world whose disk is, when {@code perturbed}, of another speed than the default one (another
   * schedule, {@code run --schedules}): each request's base latency is drawn from 1 µs up to a
   * per-world bound between 20 µs and 5 ms, and the transfer rate is between 50 MB/s and 4 GB/s,
   * so concurrent jobs and guest I/O interleave differently. The default world is unchanged.
   */
  public SimBackend(long seed, Set<String> semantics, boolean perturbed) {
    this.root = new Prng(seed);
    this.seeds = WorldSeeds.draw(root);
    this.disk = new FakeDisk();
    Prng latency = new Prng(seeds.diskLatency());
    if (perturbed) {
      // Drawn after every WorldSeeds component, so the other components keep their seeds.
      Prng speed = new Prng(root.nextLong());
      this.loop = new EventLoop(new LatencyModel(latency, 1_000,
          speed.rangeInclusive(20_000, 5_000_000), speed.rangeInclusive(50_000_000,
          4_000_000_000L)));
    } else {
      this.loop = new EventLoop(new LatencyModel(latency));
    }
    this.semantics = semantics;
    this.engine = newEngine();
  }

  private Engine newEngine() {
    long myEpoch = epoch;
    Scheduler scheduler = new Scheduler() {
      @Override
      public long nowNs() {
        return loop.nowNs();
      }

      @Override
      public void schedule(long delayNs, Runnable task) {
        loop.schedule(delayNs, () -> {
          if (epoch == myEpoch) {
            task.run();
          }
        });
      }

      @Override
      public long ioLatencyNs(long bytes) {
        return loop.ioLatencyNs(bytes);
      }

      @Override
      public boolean pollNow(BooleanSupplier done) {
        return loop.pollNow(done);
      }
    };
    return new Engine(scheduler, disk, semantics);
  }

  public Engine engine() {
    return engine;
  }

  public FakeDisk disk() {
    return disk;
  }

  public EventLoop loop() {
    return loop;
  }

  @Override
  public void createImage(ImageSpec spec) throws StepException {
    try {
      Images.create(disk, spec);
    } catch (HostIoException e) {
      throw new StepException("cannot create image '" + spec.path() + "': "
          + HostIoException.strerror(e.errno()));
    }
  }

  @Override
  public Map<String, Object> qmp(String command, Map<String, Object> args) {
    // QEMU's main loop runs the bottom halves and coroutine wake-ups already due before it
    // dispatches the next command read from the monitor.
    loop.advance(0);
    return QemuCommands.explain(command, engine.execute(command, args));
  }

  @Override
  public IoOutcome io(String nodeName, String command) throws StepException {
    loop.advance(0); // As for a QMP command: the harness starts with nbd-server-add.
    BlockNode node = engine.graph().find(nodeName);
    if (node == null) {
      throw new StepException("io: no node named '" + nodeName + "'");
    }
    QemuIoCommand parsed;
    try {
      parsed = QemuIoCommand.parse(command);
    } catch (IllegalArgumentException e) {
      throw new StepException("io: " + e.getMessage());
    }
    BlockNode top = aboveJobFilters(engine.graph(), node);
    // The harness's export asks for consistent read (and write, unless the node is read-only)
    // and fails to attach, before any drain, where a running job's parent withholds them.
    String conflict = Permissions.attachConflict(top, !top.readOnly());
    if (conflict == null && !top.readOnly()) {
      // A filter passes the export's write permission down to its file: a read-only node
      // there refuses it (bdrv_node_refresh_perm: "Block node is read-only").
      BlockNode below = top;
      while (conflict == null && below.driver().isFilter() && below.primaryChild() != null) {
        below = below.primaryChild();
        if (below.readOnly()) {
          conflict = "Block node is read-only";
        }
      }
    }
    if (conflict != null) {
      String refusal = EXPORT_REFUSED + conflict;
      return new IoOutcome(java.util.List.of(refusal), refusal);
    }
    // Attaching and detaching the harness's NBD export each drain the node, so the jobs that
    // use it pass a pause point twice (measured on QEMU 7.2: two paused/running pairs).
    engine.jobs().drain(top);
    if (top.readOnly() && (parsed.kind() == QemuIoCommand.Kind.WRITE
        || parsed.kind() == QemuIoCommand.Kind.DISCARD)) {
      // The harness exports a read-only node read-only (qemu-io -r), which refuses the request.
      engine.jobs().drain(top);
      String refusal = "qemu-io: Block node is read-only";
      return new IoOutcome(java.util.List.of(refusal), refusal);
    }
    GuestIo.Result result = GuestIo.run(top, parsed,
        bytes -> loop.advance(loop.ioLatencyNs(bytes)));
    engine.jobs().drain(top);
    return new IoOutcome(result.lines(), result.error());
  }

  /**
   * One qemu-io session of many requests over one connection of the harness's export (qemu-io
   * with several {@code -c} commands): the export is attached once (one drain, as {@link #io}
   * does), each request lets virtual time pass while in flight, and {@link #close} flushes the
   * node and detaches (the second drain). The compact form of a guest workload for benchmarks.
   */
  public final class GuestSession implements AutoCloseable {
    private final BlockNode top;
    private byte[] buffer = new byte[0];

    private GuestSession(BlockNode top) {
      this.top = top;
    }

    /** Writes {@code length} bytes of {@code pattern} at offset ({@code write -P}). */
    public void write(long offset, int length, byte pattern) throws HostIoException {
      if (offset < 0 || length < 0 || offset > top.length() || length > top.length() - offset) {
        throw new HostIoException(HostIoException.EIO, "request beyond the end of the export");
      }
      if (buffer.length != length) {
        buffer = new byte[length];
        java.util.Arrays.fill(buffer, pattern);
      } else if (length > 0 && buffer[0] != pattern) {
        java.util.Arrays.fill(buffer, pattern);
      }
      // Writers never change the buffer they are given and copy what they keep (as for
      // qemu-io's pattern writes, GuestIo.patternBuffer), so one buffer serves the session.
      BlockIo.write(top, offset, buffer, 0, length, io.blocksim.model.graph.RequestFlags.NONE);
      loop.advance(loop.ioLatencyNs(length));
    }

    @Override
    public void close() throws HostIoException {
      try {
        BlockIo.flush(top);
      } finally {
        engine.jobs().drain(top);
      }
    }
  }

  /** Opens a {@link GuestSession} on the node, as {@link #io} attaches its export. */
  public GuestSession guestSession(String nodeName) throws StepException {
    loop.advance(0);
    BlockNode node = engine.graph().find(nodeName);
    if (node == null) {
      throw new StepException("io: no node named '" + nodeName + "'");
    }
    BlockNode top = aboveJobFilters(engine.graph(), node);
    String conflict = Permissions.attachConflict(top, !top.readOnly());
    if (conflict != null || top.readOnly()) {
      throw new StepException(conflict != null ? EXPORT_REFUSED + conflict
          : "qemu-io: Block node is read-only");
    }
    engine.jobs().drain(top);
    return new GuestSession(top);
  }

  /**
   * Returns the node a guest device attached to {@code node} talks to: a job inserts its filter
   * (copy-before-write, mirror_top, commit_top, stream's unnamed copy-on-read) above the node and
   * takes over its parents, so the harness's export goes above those filters as well, as
   * QemuBackend does. A filter added with blockdev-add (a fleecing copy-before-write) is the
   * scenario's own: it took no parent of the node, so the export stays below it.
   */
  static BlockNode aboveJobFilters(io.blocksim.model.graph.NodeGraph graph, BlockNode node) {
    BlockNode top = node;
    boolean moved = true;
    while (moved) {
      moved = false;
      for (BlockNode parent : top.parents()) {
        boolean jobFilter = JOB_FILTERS.contains(parent.driver().name())
            || (parent.driver().name().equals("copy-on-read") && parent.autoNamed());
        if (jobFilter && parent.primaryChild() == top && !graph.isMonitorOwned(parent)) {
          top = parent;
          moved = true;
          break;
        }
      }
    }
    return top;
  }

  /** Filters only jobs insert; a copy-on-read filter counts only with a generated name. */
  private static final java.util.List<String> JOB_FILTERS = java.util.List.of(
      "copy-before-write", "mirror_top", "commit_top");

  @Override
  public Long virtualNowNs() {
    return loop.nowNs();
  }

  @Override
  public List<Map<String, Object>> namedNodeBitmaps() {
    // What query-named-block-nodes does around it (SimBackend.qmp's advance, the dispatcher's
    // lock commit), then its node-name and dirty-bitmaps members, built by the same code, newest
    // node first.
    loop.advance(0);
    engine.layer().commitLocks();
    List<Map<String, Object>> nodes = new ArrayList<>();
    for (BlockNode node : engine.graph().all()) {
      Map<String, Object> info = new java.util.LinkedHashMap<>();
      info.put("node-name", node.name());
      List<Object> bitmaps = io.blocksim.model.qmp.BlockdevCommands.bitmapInfos(node);
      if (!bitmaps.isEmpty()) {
        info.put("dirty-bitmaps", bitmaps);
      }
      nodes.add(0, info);
    }
    return nodes;
  }

  @Override
  public List<Map<String, Object>> bitmapGranules() {
    List<Map<String, Object>> rows = new ArrayList<>();
    for (BlockNode node : engine.graph().all()) {
      for (io.blocksim.model.bitmap.DirtyBitmap bitmap : node.bitmaps()) {
        Map<String, Object> row = new java.util.LinkedHashMap<>();
        row.put("node", node.name());
        row.put("name", bitmap.name() == null ? "" : bitmap.name());
        row.put("size", bitmap.sizeBytes());
        row.put("granularity", bitmap.granularityBytes());
        row.put("disabled", bitmap.disabled());
        row.put("frozen", bitmap.hasSuccessor());
        row.put("dirty", dirtyRuns(bitmap));
        if (bitmap.hasSuccessor()) {
          row.put("successor", dirtyRuns(bitmap.successor()));
        }
        rows.add(row);
      }
    }
    return rows;
  }

  /** Returns the bitmap's dirty bytes as [offset, length] runs, so a 1 TiB bitmap stays small. */
  private static List<Object> dirtyRuns(io.blocksim.model.bitmap.DirtyBitmap bitmap) {
    List<Object> runs = new ArrayList<>();
    io.blocksim.model.bitmap.HBitmap bits = bitmap.hbitmap();
    long size = bitmap.sizeBytes();
    long at = 0;
    while (at < size) {
      io.blocksim.model.bitmap.HBitmap.DirtyArea area =
          bits.nextDirtyArea(at, size, Long.MAX_VALUE);
      if (area == null) {
        break;
      }
      runs.add(List.of(area.offsetBytes(), area.lengthBytes()));
      at = area.offsetBytes() + area.lengthBytes();
    }
    return runs;
  }

  @Override
  public void advance(long durationNs) {
    long deadlineNs = durationNs > Long.MAX_VALUE - loop.nowNs() ? Long.MAX_VALUE
        : loop.nowNs() + durationNs;
    loop.runUntil(() -> {
      checkEventCount();
      return false;
    }, deadlineNs);
  }

  @Override
  public boolean runUntil(BooleanSupplier condition, long timeoutNs) {
    long deadlineNs = timeoutNs > Long.MAX_VALUE - loop.nowNs() ? Long.MAX_VALUE
        : loop.nowNs() + timeoutNs;
    return loop.runUntil(() -> {
      checkEventCount();
      return condition.getAsBoolean();
    }, deadlineNs);
  }

  /**
   * A run that emits more QMP events than any scenario could read (a job retrying a permanent
   * error forever under on-source-error: ignore, without time passing) ends at this limit
   * quickly, rather than at the loop's task limit after gigabytes of events. The bundled
   * scenarios emit at most about a hundred.
   */
  public static final int QMP_EVENTS_MAX = 10_000;

  private void checkEventCount() {
    if (engine.events().size() + eventsOfDeadProcesses.size() > QMP_EVENTS_MAX) {
      throw new LimitReached("QMP events per run", QMP_EVENTS_MAX, loop.nowNs());
    }
  }

  @Override
  public List<QmpEvent> events() {
    if (eventsOfDeadProcesses.isEmpty()) {
      return engine.events();
    }
    // A view, not a copy: awaits look at the events after every task.
    List<QmpEvent> dead = eventsOfDeadProcesses;
    List<QmpEvent> live = engine.events();
    return new java.util.AbstractList<>() {
      @Override
      public QmpEvent get(int index) {
        return index < dead.size() ? dead.get(index) : live.get(index - dead.size());
      }

      @Override
      public int size() {
        return dead.size() + live.size();
      }
    };
  }

  @Override
  public String imageDigest(String nodeOrFile) throws StepException {
    try {
      BlockNode node = engine.graph().find(nodeOrFile);
      if (node != null) {
        return HexFormat.of().formatHex(GuestIo.digest(node));
      }
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      if (disk.exists(nodeOrFile)) {
        Images.digestFile(disk, nodeOrFile, sha);
      } else {
        throw new StepException("no node or image file named '" + nodeOrFile + "'");
      }
      return HexFormat.of().formatHex(sha.digest());
    } catch (HostIoException e) {
      throw new StepException("reading '" + nodeOrFile + "' failed: "
          + HostIoException.strerror(e.errno()));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Compares two nodes or image files without hashing: ranges both chains report as zero are
   * skipped, the rest is read as the harness's NBD reads would read it.
   */
  @Override
  public boolean imagesEqual(String a, String b) throws StepException {
    try {
      BlockNode na = nodeOrImage(a);
      BlockNode nb = nodeOrImage(b);
      if (na.length() != nb.length()) {
        return false;
      }
      long length = na.length();
      long offset = 0;
      byte[] bufferA = null; // Read into again and again: a MiB each per run was garbage.
      byte[] bufferB = null;
      while (offset < length) {
        long left = Math.min(1 << 20, length - offset);
        BlockStatus sa = BlockIo.blockStatusAbove(na, offset, left);
        BlockStatus sb = BlockIo.blockStatusAbove(nb, offset, left);
        int run = (int) Math.min(sa.lengthBytes(), sb.lengthBytes());
        if (!(sa.zero() && sb.zero())) {
          if (bufferA == null) {
            bufferA = new byte[1 << 20];
            bufferB = new byte[1 << 20];
          }
          GuestIo.readSparse(na, offset, run, bufferA);
          GuestIo.readSparse(nb, offset, run, bufferB);
          if (!java.util.Arrays.equals(bufferA, 0, run, bufferB, 0, run)) {
            return false;
          }
        }
        offset += run;
      }
      return true;
    } catch (HostIoException e) {
      throw new StepException("comparing '" + a + "' and '" + b + "' failed: "
          + HostIoException.strerror(e.errno()));
    }
  }

  /** Returns the node of that name, or the image file of that name opened as qemu-img would. */
  private BlockNode nodeOrImage(String name) throws StepException, HostIoException {
    BlockNode node = engine.graph().find(name);
    if (node != null) {
      return node;
    }
    if (!disk.exists(name)) {
      throw new StepException("no node or image file named '" + name + "'");
    }
    return ImageReader.open(disk, name).node();
  }

  @Override
  public void crashProcess() {
    eventsOfDeadProcesses.addAll(engine.events());
    epoch++;
    disk.crashProcess();
    engine = newEngine();
  }

  @Override
  public void crashPower() {
    eventsOfDeadProcesses.addAll(engine.events());
    epoch++;
    disk.crashPower(new Prng(seeds.diskPowerLoss() + epoch));
    engine = newEngine();
  }

  @Override
  public ImgOutcome img(String command) throws StepException {
    // qemu-img runs while the daemon lives: its file nodes' lock bytes stand (a killed daemon's
    // engine is a new, empty one).
    return QemuImg.run(disk, command, semantics.contains(Variant.QBM.spelling()),
        path -> io.blocksim.model.graph.FileLocks.held(engine.graph(), path));
  }

  @Override
  public MapOutcome nbdMap(String export, String context) throws StepException {
    try {
      return NbdClient.map(engine, export, context);
    } catch (HostIoException e) {
      // The server fails the whole NBD_CMD_BLOCK_STATUS with the errno as NBD carries it.
      return new MapOutcome(List.of(), "nbdinfo: nbd_block_status: block-status: command failed: "
          + HostIoException.strerror(GuestIo.overNbd(e.errno())));
    }
  }

  /**
   * Quits the process cleanly, as qemu-storage-daemon's {@code quit} does at the end of a run:
   * jobs still there are cancelled and allowed to finish (job_cancel_sync_all: a backup gives
   * its bitmap's successor back before the bitmap is stored), then every node is closed (a
   * qcow2 node stores its persistent bitmaps), roots first. Runs once; later calls do nothing.
   */
  public void quit() {
    if (quit) {
      return;
    }
    quit = true;
    cancelJobs();
    BlockLayer layer = engine.layer();
    boolean closed = true;
    while (closed) {
      closed = false;
      for (BlockNode node : engine.graph().all()) {
        if (node.parents().isEmpty() && engine.graph().find(node.name()) == node) {
          layer.release(node);
          closed = true;
          break;
        }
      }
    }
    epoch++;
  }

  private void cancelJobs() {
    Object jobs = engine.execute("query-jobs", new java.util.LinkedHashMap<>()).get("return");
    if (!(jobs instanceof List<?> list) || list.isEmpty()) {
      return;
    }
    for (Object job : list) {
      Object id = ((Map<?, ?>) job).get("id");
      engine.execute("block-job-cancel", io.blocksim.model.qapi.Json.object("device", id,
          "force", true));
    }
    loop.runUntil(() -> {
      Object now = engine.execute("query-jobs", new java.util.LinkedHashMap<>()).get("return");
      if (!(now instanceof List<?> remaining)) {
        return true;
      }
      for (Object job : remaining) {
        Object status = ((Map<?, ?>) job).get("status");
        if (!"concluded".equals(status) && !"null".equals(status)) {
          return false;
        }
      }
      return true;
    }, loop.nowNs() + 60_000_000_000L);
  }

  @Override
  public void close() {
    // Nothing outlives the run: the disk and the loop are garbage once the runner lets go.
  }
}
