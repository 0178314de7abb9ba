package io.blocksim.model.driver.blockcopy;

/** What a block-copy state reports its progress to (QEMU's ProgressMeter of the owning job). */
public interface ProgressMeter {
  /** Counts bytes copied. */
  void workDone(long bytes);

  /** Sets the bytes still to copy. */
  void setRemaining(long bytes);
}
