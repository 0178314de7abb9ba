package io.blocksim.model;

import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.graph.NodeGraph;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.job.Qcow2Creator;
import io.blocksim.model.port.HostStorage;
import io.blocksim.model.port.Scheduler;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.model.qmp.ExportCommands;
import io.blocksim.model.qmp.QmpDispatcher;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One simulated QEMU process (a qemu-storage-daemon): assembles the block layer with its drivers,
 * the jobs and the QMP monitor. Time and host files come in through the ports; nothing else.
 */
public final class Engine {
  private final BlockLayer layer;
  private final JobManager jobs;
  private final QmpDispatcher dispatcher;

  public Engine(Scheduler scheduler, HostStorage storage, Set<String> semantics) {
    this.layer = new BlockLayer(scheduler, storage, semantics, BlockDrivers.ALL);
    this.jobs = new JobManager(layer);
    jobs.registerFormatCreator("qcow2", new Qcow2Creator(layer,
        (file, dataFile, size, o) -> Qcow2Image.create(file, dataFile, size, o)));
    this.dispatcher = new QmpDispatcher(layer, jobs);
  }

  public Scheduler scheduler() {
    return layer.scheduler();
  }

  public HostStorage storage() {
    return layer.storage();
  }

  /** The block layer's services (open, release, drained sections, events). */
  public BlockLayer layer() {
    return layer;
  }

  public NodeGraph graph() {
    return layer.graph();
  }

  public JobManager jobs() {
    return jobs;
  }

  /** Returns whether a named semantics variant ({@code bug:...}) is switched on. */
  public boolean variant(String name) {
    return layer.variant(name);
  }

  /** Executes a QMP command; returns {@code {"return": ...}} or {@code {"error": {...}}}. */
  public Map<String, Object> execute(String command, Map<String, Object> args) {
    return dispatcher.execute(command, args);
  }

  /** The NBD server and its exports. */
  public ExportCommands exports() {
    return dispatcher.exports();
  }

  /** Emits a QMP event now. */
  public void emit(String event, Map<String, Object> data) {
    layer.emit(event, data);
  }

  public List<QmpEvent> events() {
    return layer.events();
  }

  /** Convenience for event data. */
  public static Map<String, Object> data(Object... keysAndValues) {
    return Json.object(keysAndValues);
  }
}
