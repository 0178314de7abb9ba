package io.blocksim.sim.tlc;

import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.StepException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A {@link Backend} around any other (the simulator, or a real qemu-storage-daemon) that records
 * the life of its jobs for trace validation against JobLifecycle ({@link JobTraceRecorder}).
 *
 * <p>Order: {@link Backend#events()} is cumulative, so the events new since the last look are
 * recorded before each call (they happened while time passed), and the ones new after a QMP
 * command as emitted while it ran, after its own step. Under real QEMU an event of a job running
 * on its own may land between the last look and the command's start; the window is the
 * command's round trip, far shorter than a job's steps, and a trace it disorders is rejected,
 * never silently accepted.
 */
public final class JobTracingBackend implements Backend {
  private final Backend inner;
  private final JobTraceRecorder recorder = new JobTraceRecorder();
  private int eventsSeen;

  public JobTracingBackend(Backend inner) {
    this.inner = inner;
  }

  /** Returns the backend that carries out the calls. */
  public Backend inner() {
    return inner;
  }

  /** Returns the trace recorded so far. */
  public JobTraceRecorder recorder() {
    return recorder;
  }

  /** Returns the events emitted since the last call, and moves past them. */
  private List<QmpEvent> newEvents() {
    List<QmpEvent> all = inner.events();
    List<QmpEvent> fresh = new ArrayList<>(all.subList(Math.min(eventsSeen, all.size()),
        all.size()));
    eventsSeen = all.size();
    return fresh;
  }

  /** Records what happened since the last call: the run's own steps. */
  private void catchUp() {
    recorder.events(newEvents());
  }

  @Override
  public void createImage(ImageSpec spec) throws StepException {
    inner.createImage(spec);
  }

  @Override
  public Map<String, Object> qmp(String command, Map<String, Object> args) throws StepException {
    // The backend runs what is due now before a command, as QEMU's main loop does; doing it
    // here first keeps the events that work emits ahead of the command in the trace.
    inner.advance(0);
    catchUp();
    Map<String, Object> reply = inner.qmp(command, args);
    recorder.command(command, args, reply, newEvents());
    return reply;
  }

  @Override
  public IoOutcome io(String node, String command) throws StepException {
    catchUp();
    IoOutcome outcome = inner.io(node, command);
    catchUp();
    return outcome;
  }

  @Override
  public void advance(long durationNs) throws StepException {
    catchUp();
    inner.advance(durationNs);
    catchUp();
  }

  @Override
  public boolean runUntil(BooleanSupplier condition, long timeoutNs) throws StepException {
    catchUp();
    boolean held = inner.runUntil(condition, timeoutNs);
    catchUp();
    return held;
  }

  @Override
  public List<QmpEvent> events() {
    return inner.events();
  }

  @Override
  public String imageDigest(String nodeOrFile) throws StepException {
    catchUp();
    String digest = inner.imageDigest(nodeOrFile);
    catchUp();
    return digest;
  }

  @Override
  public boolean imagesEqual(String a, String b) throws StepException {
    catchUp();
    boolean equal = inner.imagesEqual(a, b);
    catchUp();
    return equal;
  }

  @Override
  public void crashProcess() throws StepException {
    catchUp();
    inner.crashProcess();
    newEvents();
    recorder.processDied("crash: process");
  }

  @Override
  public void crashPower() throws StepException {
    catchUp();
    inner.crashPower();
    newEvents();
    recorder.processDied("crash: power");
  }

  @Override
  public MapOutcome nbdMap(String export, String context) throws StepException {
    return inner.nbdMap(export, context);
  }

  @Override
  public ImgOutcome img(String command) throws StepException {
    catchUp();
    ImgOutcome outcome = inner.img(command);
    catchUp();
    return outcome;
  }

  /** Records the events emitted since the last call (at the end of a run). */
  public void flush() {
    catchUp();
  }

  @Override
  public void close() {
    inner.close();
  }
}
