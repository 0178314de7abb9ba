package io.blocksim.sim.disk;

/** Observes every completed write, write-zeroes, discard, truncate and flush, in order. */
@FunctionalInterface
public interface DiskOpListener {
  /** Called after the request took effect in the file's cache (or, for a flush, on the disk). */
  void onOp(DiskOp op);
}
