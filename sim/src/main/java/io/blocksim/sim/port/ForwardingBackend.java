package io.blocksim.sim.port;

import io.blocksim.model.qapi.QmpEvent;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A {@link Backend} that passes every call on to another: the base of wrappers that observe or
 * change a few calls and leave the rest alone.
 */
public abstract class ForwardingBackend<B extends Backend> implements Backend {
  protected final B inner;

  protected ForwardingBackend(B inner) {
    this.inner = inner;
  }

  @Override
  public void createImage(ImageSpec spec) throws StepException {
    inner.createImage(spec);
  }

  @Override
  public Map<String, Object> qmp(String command, Map<String, Object> args) throws StepException {
    return inner.qmp(command, args);
  }

  @Override
  public IoOutcome io(String node, String command) throws StepException {
    return inner.io(node, command);
  }

  @Override
  public void advance(long durationNs) throws StepException {
    inner.advance(durationNs);
  }

  @Override
  public boolean runUntil(BooleanSupplier condition, long timeoutNs) throws StepException {
    return inner.runUntil(condition, timeoutNs);
  }

  @Override
  public List<QmpEvent> events() {
    return inner.events();
  }

  @Override
  public String imageDigest(String nodeOrFile) throws StepException {
    return inner.imageDigest(nodeOrFile);
  }

  @Override
  public boolean imagesEqual(String a, String b) throws StepException {
    return inner.imagesEqual(a, b);
  }

  @Override
  public void crashProcess() throws StepException {
    inner.crashProcess();
  }

  @Override
  public void crashPower() throws StepException {
    inner.crashPower();
  }

  @Override
  public ImgOutcome img(String command) throws StepException {
    return inner.img(command);
  }

  @Override
  public MapOutcome nbdMap(String export, String context) throws StepException {
    return inner.nbdMap(export, context);
  }

  @Override
  public void close() {
    inner.close();
  }

  @Override
  public Long virtualNowNs() {
    return inner.virtualNowNs();
  }

  @Override
  public List<Map<String, Object>> bitmapGranules() throws StepException {
    return inner.bitmapGranules();
  }
}
