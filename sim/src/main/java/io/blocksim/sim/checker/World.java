package io.blocksim.sim.checker;

import io.blocksim.model.Engine;
import io.blocksim.model.check.InvariantViolation;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.guest.GuestIo;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the checkers share about one run: the simulated world, the events each action emitted, the
 * jobs started by QMP commands (with the nodes they write), and the guest-visible contents of the
 * nodes after the current action (read once per action, whoever asks first).
 */
public final class World {
  /** Node drivers whose contents are host bytes rather than a guest view. */
  private static final Set<String> PROTOCOL_DRIVERS = Set.of("file", "blkdebug");

  private final SimBackend backend;
  private final Map<BlockNode, byte[]> contents = new IdentityHashMap<>();
  /** Contents read at an earlier action, with the version they were read at. */
  private final Map<BlockNode, Versioned> earlier = new IdentityHashMap<>();

  private record Versioned(List<Object> version, byte[] content) {}
  private final Map<String, JobInfo> jobs = new LinkedHashMap<>();
  private int eventsSeen;
  private List<QmpEvent> newEvents = List.of();
  private String checker = "?";

  /**
   * A job a QMP command started: its id and type, the command's arguments, and the named nodes
   * whose guest-visible contents it may change (a backup's or mirror's target, a commit's base
   * and the nodes between it and the top).
   */
  public record JobInfo(String id, String type, Map<String, Object> args, Set<String> writes) {}

  World(SimBackend backend) {
    this.backend = backend;
  }

  public SimBackend backend() {
    return backend;
  }

  public Engine engine() {
    return backend.engine();
  }

  /** The events emitted by the current action, in order. */
  public List<QmpEvent> newEvents() {
    return newEvents;
  }

  /** The jobs started so far by this process, by id, in creation order. */
  public Map<String, JobInfo> jobs() {
    return jobs;
  }

  /** The names of the nodes some job that exists (or just ended) may write. */
  public Set<String> jobWrittenNodes() {
    Set<String> written = new LinkedHashSet<>();
    for (JobInfo job : jobs.values()) {
      written.addAll(job.writes());
    }
    return written;
  }

  /**
   * Returns whether a job may change what the node reads: it writes the node, or a node below it
   * (a commit's base under a node it dropped from the chain, a target's image below a filter).
   */
  public boolean jobMayChange(BlockNode node) {
    for (String name : jobWrittenNodes()) {
      BlockNode written = engine().graph().find(name);
      if (name.equals(node.name()) || (written != null && reaches(node, written))) {
        return true;
      }
    }
    return false;
  }

  /** The named nodes whose contents are a guest view (formats and filters), in graph order. */
  public List<BlockNode> guestNodes() {
    List<BlockNode> nodes = new ArrayList<>();
    for (BlockNode node : engine().graph().all()) {
      if (!node.autoNamed() && !PROTOCOL_DRIVERS.contains(node.driver().name())) {
        nodes.add(node);
      }
    }
    return nodes;
  }

  /**
   * Returns the guest-visible contents of a node after the current action, or null if a read
   * failed (a blkdebug error, a broken image): checkers then skip the node for this action.
   */
  public byte[] content(BlockNode node) {
    if (contents.containsKey(node)) {
      return contents.get(node);
    }
    List<Object> version = version(node);
    Versioned known = earlier.get(node);
    if (known != null && known.version().equals(version)) {
      contents.put(node, known.content());
      return known.content();
    }
    byte[] data;
    List<io.blocksim.model.driver.blkdebug.BlkdebugDriver> blkdebugs = new ArrayList<>();
    collectBlkdebug(node, blkdebugs);
    blkdebugs.forEach(b -> b.setObserving(true));
    try {
      long length = node.length();
      data = length > Integer.MAX_VALUE ? null : GuestIo.readSparse(node, 0, (int) length);
    } catch (HostIoException | RuntimeException e) {
      data = null;
    } finally {
      blkdebugs.forEach(b -> b.setObserving(false));
    }
    contents.put(node, data);
    earlier.put(node, new Versioned(version, data));
    return data;
  }

  /**
   * What a node's contents depend on: the nodes below it (compared by identity), their lengths
   * and write generations (bumped by every tracked write, write-zeroes and discard), and the
   * number of modifying requests each host file has seen (which also moves for the untracked
   * copy-on-read population writes). Equal versions, equal contents: no need to read again.
   */
  private List<Object> version(BlockNode node) {
    List<Object> version = new ArrayList<>();
    addVersion(node, version);
    return version;
  }

  private void addVersion(BlockNode node, List<Object> version) {
    version.add(new Identity(node));
    version.add(node.length());
    version.add(node.writeGeneration());
    if (node.driver() instanceof io.blocksim.model.driver.file.FileDriver file) {
      version.add(backend.disk().opCount(file.filename()));
    }
    for (Map.Entry<String, BlockNode> child : node.children().entrySet()) {
      if (child.getValue() != null) {
        version.add(child.getKey());
        addVersion(child.getValue(), version);
      }
    }
  }

  /** The blkdebug drivers at or below a node (a checker's read must not trip their rules). */
  private static void collectBlkdebug(BlockNode node,
      List<io.blocksim.model.driver.blkdebug.BlkdebugDriver> out) {
    if (node.driver() instanceof io.blocksim.model.driver.blkdebug.BlkdebugDriver b
        && !out.contains(b)) {
      out.add(b);
    }
    for (BlockNode child : node.children().values()) {
      if (child != null) {
        collectBlkdebug(child, out);
      }
    }
  }

  /** Compares a node by identity (BlockNode does not define equality; this says so). */
  private record Identity(BlockNode node) {
    @Override
    public boolean equals(Object o) {
      return o instanceof Identity other && other.node == node;
    }

    @Override
    public int hashCode() {
      return System.identityHashCode(node);
    }
  }

  /** Returns whether {@code lower} is {@code node} or reachable below it through its children. */
  public static boolean reaches(BlockNode node, BlockNode lower) {
    if (node == lower) {
      return true;
    }
    for (BlockNode child : node.children().values()) {
      if (child != null && reaches(child, lower)) {
        return true;
      }
    }
    return false;
  }

  /** Stops the run: the current checker's invariant does not hold. */
  public void fail(String format, Object... args) {
    throw new InvariantViolation(CheckerFailure.PREFIX + checker + ": "
        + String.format(java.util.Locale.ROOT, format, args));
  }

  // ------------------------------------------------------------- driven by CheckedBackend

  void beginAction() {
    contents.clear();
    List<QmpEvent> all = backend.events();
    newEvents = List.copyOf(all.subList(Math.min(eventsSeen, all.size()), all.size()));
    eventsSeen = all.size();
  }

  void setChecker(String name) {
    checker = name;
  }

  void forgetJobs() {
    jobs.clear();
    earlier.clear();
  }

  void noteJob(JobInfo job) {
    jobs.put(job.id(), job);
  }

  /** Forgets jobs that no longer exist (called after every checker has seen the action). */
  void dropEndedJobs() {
    jobs.keySet().removeIf(id -> engine().jobs().find(id) == null);
  }
}
