package io.blocksim.model.driver.blockcopy;

import io.blocksim.model.check.Check;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * A test seam for model-based testing (sim's BitmapSyncModelTest): holds the background copy of
 * backup jobs so that a test chooses which cluster is copied next, one cluster per step.
 *
 * <p>Why: a spec step {@code Copy(j, c)} copies one chosen cluster, and QEMU's own order varies
 * (copy-before-write copies out of order, workers race), so the walk needs to drive the engine
 * to each order the spec allows. Nothing else changes: copy-before-write, cancel, pause and
 * error handling run as without a gate; only the background call waits for a grant before each
 * task it creates (and before it finds that nothing is left to copy).
 *
 * <p>Off by default: a gate exists only where a test installs one with
 * {@link io.blocksim.model.job.JobManager#gateBackgroundCopies}; no QMP command or scenario
 * reaches it, and with no gate the copy runs exactly as before.
 */
public final class CopyGate {
  private final ArrayDeque<Long> granted = new ArrayDeque<>();
  private final List<Runnable> parked = new ArrayList<>();
  private boolean open;

  /** Lets the next background copy take the cluster at {@code offset} (one task, one cluster). */
  public void copy(long offset) {
    Check.that(!open, "copy gate: already open");
    granted.add(offset);
    wake();
  }

  /** Opens the gate for good: the background copies run on their own schedule again. */
  public void open() {
    open = true;
    wake();
  }

  /** Returns whether a background call waits at the gate (nothing of it in flight). */
  public boolean holding() {
    return !parked.isEmpty();
  }

  boolean isOpen() {
    return open;
  }

  /** Takes the next grant, or returns -1 when the call must wait. */
  long take() {
    Long offset = granted.poll();
    return offset == null ? -1 : offset;
  }

  void park(Runnable loop) {
    parked.add(loop);
  }

  /** Forgets a parked call (it was cancelled and goes on by itself); true if it was parked. */
  boolean unpark(Runnable loop) {
    return parked.remove(loop);
  }

  private void wake() {
    List<Runnable> waiting = new ArrayList<>(parked);
    parked.clear();
    waiting.forEach(Runnable::run);
    Check.that(granted.isEmpty(), "copy gate: no background copy took the grant");
  }
}
