package io.blocksim.model;

import io.blocksim.model.graph.NodeGraph;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.port.Scheduler;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qmp.QmpDispatcher;
import io.blocksim.model.qapi.QmpEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * One simulated QEMU process (a qemu-storage-daemon): the node graph, the jobs, the QMP monitor
 * and the events it emits. Time and host files come in through the ports; nothing else.
 */
public final class Engine {
  private final Scheduler scheduler;
  private final HostStorage storage;
  private final Set<String> semantics;
  private final NodeGraph graph = new NodeGraph();
  private final List<QmpEvent> events = new ArrayList<>();
  private final JobManager jobs;
  private final QmpDispatcher dispatcher;

  public Engine(Scheduler scheduler, HostStorage storage, Set<String> semantics) {
    this.scheduler = scheduler;
    this.storage = storage;
    this.semantics = new TreeSet<>(semantics);
    this.jobs = new JobManager(this);
    jobs.registerFormatCreator("qcow2", new io.blocksim.model.job.Qcow2Creator(this,
        (file, dataFile, size, o) -> io.blocksim.model.driver.qcow2.Qcow2Image.create(file,
            dataFile, size, o)));
    this.dispatcher = new QmpDispatcher(this);
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

  public JobManager jobs() {
    return jobs;
  }

  /** Returns whether a named semantics variant ({@code bug:...}) is switched on. */
  public boolean variant(String name) {
    return semantics.contains(name);
  }

  /** Executes a QMP command; returns {@code {"return": ...}} or {@code {"error": {...}}}. */
  public Map<String, Object> execute(String command, Map<String, Object> args) {
    return dispatcher.execute(command, args);
  }

  /** Emits a QMP event now. */
  public void emit(String event, Map<String, Object> data) {
    events.add(new QmpEvent(event, data, scheduler.nowNs()));
  }

  public List<QmpEvent> events() {
    return events;
  }

  /** Convenience for event data. */
  public static Map<String, Object> data(Object... keysAndValues) {
    return Json.object(keysAndValues);
  }
}
