package io.blocksim.sim.port;

import io.blocksim.model.qapi.QmpEvent;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Where a scenario's steps are carried out: the simulator ({@code SimBackend}) or a real
 * qemu-storage-daemon ({@code QemuBackend}). The runner is the same for both, so the two produce
 * observations in the same way: bitmaps, jobs and responses come from QMP queries on either side.
 */
public interface Backend extends AutoCloseable {
  /**
   * How an io step reports QEMU's refusal to attach the node (a permission conflict with a
   * running job): as the request's error, which a scenario may expect with {@code error:}. Both
   * backends word it so.
   */
  String EXPORT_REFUSED = "cannot export the node: ";

  /** Creates an image file as {@code qemu-img create} would (the scenario's {@code images:}). */
  void createImage(ImageSpec spec) throws StepException;

  /**
   * Executes one QMP command and returns QEMU's reply object: {@code {"return": ...}} or {@code
   * {"error": {"class": ..., "desc": ...}}}. Internal queries made by the runner use the same
   * call.
   */
  Map<String, Object> qmp(String command, Map<String, Object> args) throws StepException;

  /**
   * Runs one qemu-io command against the node and returns its output lines, timings filtered as
   * iotests filter them. A failed request returns the lines qemu-io prints for it, and {@link
   * IoOutcome#error} names the error.
   */
  IoOutcome io(String node, String command) throws StepException;

  /** Lets time pass: virtual time in the simulator, real time under QEMU. */
  void advance(long durationNs) throws StepException;

  /**
   * Runs until the condition (evaluated over {@link #events()}) holds or the timeout passes.
   * Returns whether it held.
   */
  boolean runUntil(BooleanSupplier condition, long timeoutNs) throws StepException;

  /** Returns every QMP event emitted since the start, in emission order. */
  List<QmpEvent> events();

  /** Returns the SHA-256 (hex) of the guest-visible contents of a node, or of an image file. */
  String imageDigest(String nodeOrFile) throws StepException;

  /**
   * Returns whether two nodes or image files have the same guest-visible contents. By default
   * their digests are compared; a backend may compare more cheaply.
   */
  default boolean imagesEqual(String a, String b) throws StepException {
    return imageDigest(a).equals(imageDigest(b));
  }

  /**
   * Returns the virtual time now, for the HTML report's timelines; null where time is real (QEMU),
   * so observations recorded from QEMU stay free of wall-clock values.
   */
  default Long virtualNowNs() {
    return null;
  }

  /**
   * Returns every bitmap's dirty granules, for the HTML report's bitmap pictures: one row per
   * bitmap with {@code node}, {@code name}, {@code size}, {@code granularity}, {@code disabled},
   * {@code frozen}, {@code dirty} (run-length {@code [offset, length]} byte runs) and, while a
   * job holds it, {@code successor} (its successor's runs). Null where the backend cannot tell.
   */
  default List<Map<String, Object>> bitmapGranules() throws StepException {
    return null;
  }

  /**
   * {@code query-named-block-nodes} reduced to what observations read: per node (newest first,
   * as QEMU lists them) its {@code node-name} and, when it has bitmaps, its {@code dirty-bitmaps}
   * (BlockDirtyInfo, as the query reports it). By default the query itself; the simulator answers
   * from its graph without building every node's image information, which was most of the cost
   * of an observation.
   */
  @SuppressWarnings("unchecked")
  default List<Map<String, Object>> namedNodeBitmaps() throws StepException {
    Map<String, Object> reply = qmp("query-named-block-nodes", new java.util.LinkedHashMap<>());
    Object value = reply.get("return");
    if (!(value instanceof List)) {
      throw new StepException("query-named-block-nodes failed: "
          + io.blocksim.model.qapi.Json.compact(reply));
    }
    return (List<Map<String, Object>>) value;
  }

  /** Kills the process as {@code kill -9} would: the host files keep what reached them. */
  void crashProcess() throws StepException;

  /** Cuts the power: unflushed writes may be lost or torn (simulator only). */
  void crashPower() throws StepException;

  /** Runs a {@code qemu-img}-style command on image files; returns its output lines. */
  ImgOutcome img(String command) throws StepException;

  /**
   * Reads an export's extents for a metadata context as an NBD client does ({@code nbdinfo
   * --map}): each extent is {offset, length, type}; a failure has the client's message instead.
   */
  default MapOutcome nbdMap(String export, String context) throws StepException {
    throw new StepException("nbd-map is not supported by this backend");
  }

  @Override
  void close();

  /** An image of the scenario's {@code images:} list. */
  record ImageSpec(
      String path, String format, long sizeBytes, String backing, String backingFormat,
      Long clusterSizeBytes, Map<String, Object> options) {}

  /** The result of an io step. */
  record IoOutcome(List<String> lines, String error) {}

  /** The result of an img step. */
  record ImgOutcome(List<String> lines, int exitCode) {}

  /** The extents an NBD client read ({offset, length, type} each), or its error message. */
  record MapOutcome(List<long[]> extents, String error) {}
}
