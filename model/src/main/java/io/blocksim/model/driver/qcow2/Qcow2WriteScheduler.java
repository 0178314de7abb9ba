package io.blocksim.model.driver.qcow2;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The coroutines of one guest write that QEMU splits into several host runs, replayed
 * deterministically. QEMU runs each run as a coroutine of an AioTaskPool (at most 8 at once,
 * qcow2_add_task in block/qcow2.c) while the request's own coroutine ("main") allocates the
 * next run under {@code s->lock}. Host requests go to QEMU's thread pool, whose completion
 * bottom half (thread_pool_completion_bh in util/thread-pool.c) wakes the coroutines of all
 * finished requests newest first, rescanning after each one; the model assumes that every
 * request submitted before a scan started has finished and none submitted during it has. So:
 * a "round" takes all outstanding requests and resumes their coroutines newest first; requests
 * they submit wait for the next round. Lock hand-over follows CoMutex (qemu_co_mutex_unlock in
 * util/qemu-coroutine-lock.c): unlock passes the lock to the first waiter, which runs as soon
 * as the unlocking coroutine yields. A task yields after its zero-fill and after its data
 * write; its status check and its L2 update (with COW) take the lock and are atomic here (see
 * {@link Qcow2WriteTask}). Main yields after each host request it makes while allocating, when
 * it waits for the lock or a pool slot, and at the end. The host request order this produces
 * matches qemu-io traces (Qcow2ImageQemuTest).
 */
final class Qcow2WriteScheduler {
  /** QCOW2_MAX_WORKERS (block/qcow2.h): the task pool's size. */
  static final int MAX_WORKERS = 8;

  /** A coroutine of the guest write: its main coroutine or one of its write tasks. */
  abstract static sealed class Coroutine permits MainCoroutine, Qcow2WriteTask {
    /**
     * Coroutines this one handed {@code s->lock} to; CoMutex wakes them once it yields.
     */
    final List<Coroutine> toWakeOnYield = new ArrayList<>();
  }

  /** The request's own coroutine: qcow2_co_pwritev_part itself. */
  static final class MainCoroutine extends Coroutine {
    @Override
    public String toString() {
      return "main";
    }
  }

  /** A host request a coroutine submitted; it completes when a round reaches it. */
  private static final class HostRequest {
    final Coroutine submitter;
    boolean completed;

    HostRequest(Coroutine submitter) {
      this.submitter = submitter;
    }
  }

  private final MainCoroutine main = new MainCoroutine();
  /** The holder of s->lock, or null when it is free; main holds it when the write starts. */
  private Coroutine lockOwner = main;
  private final ArrayDeque<Coroutine> lockWaiters = new ArrayDeque<>();
  /** Submitted requests not yet picked up by a round, oldest first. */
  private final List<HostRequest> outstanding = new ArrayList<>();
  /** The rest of the round in progress, next to resume first. */
  private final ArrayDeque<HostRequest> round = new ArrayDeque<>();
  private Coroutine current = main;
  /** Whether main is inside qcow2_alloc_host_offset, where its host requests yield. */
  private boolean mainAllocating;
  private boolean mainRunnable;
  private int busyTasks;
  private HostIoException failure;

  /** The first failure of any coroutine of the write: the request fails with it. */
  HostIoException failure() {
    return failure;
  }

  void recordFailure(HostIoException e) {
    if (failure == null) {
      failure = e;
    }
  }

  void setMainAllocating(boolean allocating) {
    mainAllocating = allocating;
  }

  /**
   * Called after every host request of the image: one that main made while allocating is a
   * yield point of main (the request's coroutine waits for its completion).
   */
  void hostRequestSubmitted() {
    if (mainAllocating && current == main) {
      mainSubmitted();
    }
  }

  /** qemu_co_mutex_lock without blocking: false queues who as a waiter for the lock. */
  boolean tryLock(Coroutine who) {
    if (lockOwner == who) {
      return true;
    }
    if (lockOwner == null) {
      lockOwner = who;
      return true;
    }
    lockWaiters.add(who);
    return false;
  }

  /** qemu_co_mutex_unlock: the first waiter gets the lock and runs when who yields. */
  void unlock(Coroutine who) {
    Check.that(lockOwner == who, "s->lock released by a coroutine that does not hold it");
    Coroutine next = lockWaiters.poll();
    lockOwner = next;
    if (next != null) {
      who.toWakeOnYield.add(next);
    }
  }

  void unlockMain() {
    unlock(main);
  }

  /** Runs the coroutines woken by who, now that who has yielded. */
  private void runWakeups(Coroutine who) {
    if (who.toWakeOnYield.isEmpty()) {
      return;
    }
    List<Coroutine> woken = new ArrayList<>(who.toWakeOnYield);
    who.toWakeOnYield.clear();
    for (int i = 0; i < woken.size(); i++) {
      Coroutine w = woken.get(i);
      if (w instanceof Qcow2WriteTask task) {
        resume(task);
      } else {
        // Main runs only when the task running now yields to it; the rest wait for main.
        mainRunnable = true;
        main.toWakeOnYield.addAll(woken.subList(i + 1, woken.size()));
        return;
      }
    }
  }

  private void resume(Qcow2WriteTask t) {
    Coroutine previous = current;
    current = t;
    boolean done;
    try {
      done = t.step();
    } finally {
      current = previous;
    }
    if (done) {
      busyTasks--;
    }
    runWakeups(t);
  }

  /** aio_task_pool_start_task: waits for a free slot, then runs t until it yields. */
  void startTask(Qcow2WriteTask t) {
    if (busyTasks >= MAX_WORKERS) {
      yieldMainUntil(() -> busyTasks < MAX_WORKERS);
    }
    busyTasks++;
    resume(t);
  }

  /** A task submitted a host request and yields until its round comes. */
  void taskSubmitted(Qcow2WriteTask t) {
    outstanding.add(new HostRequest(t));
  }

  /** Main submitted a host request while allocating and yields until it completes. */
  private void mainSubmitted() {
    HostRequest r = new HostRequest(main);
    outstanding.add(r);
    yieldMainUntil(() -> r.completed);
  }

  /** Main takes s->lock again (qemu_co_mutex_lock), waiting for it as long as needed. */
  void lockMain() {
    if (tryLock(main)) {
      return;
    }
    mainRunnable = false;
    yieldMainUntil(() -> mainRunnable);
    Check.that(lockOwner == main, "main coroutine woke without s->lock");
  }

  /** aio_task_pool_wait_all. */
  void waitAll() {
    yieldMainUntil(() -> busyTasks == 0);
  }

  private void yieldMainUntil(BooleanSupplier condition) {
    runWakeups(main);
    while (!condition.getAsBoolean()) {
      if (round.isEmpty()) {
        Check.that(!outstanding.isEmpty(), "write tasks deadlocked (lock owner %s)",
            lockOwner);
        for (HostRequest r : outstanding) {
          round.addFirst(r);
        }
        outstanding.clear();
      }
      HostRequest next = round.poll();
      if (next.submitter instanceof Qcow2WriteTask task) {
        resume(task);
      } else {
        next.completed = true;
      }
    }
  }
}
