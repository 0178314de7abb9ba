package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Trace validation with hand-written traces. Goal: a run that QEMU's rules allow is accepted, and
 * a run that breaks them is rejected at the state where it breaks them. Method: traces written the
 * way the engine would log them (bitmap names, job ids, QEMU statuses, cluster sets), checked by
 * TLC against BitmapSync and JobLifecycle; each invalid trace differs from a valid one in one
 * observed value, so the rejection can only come from that value.
 */
@Tag("tlc")
class TraceCheckerTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("traces");

  /**
   * A backup with sync=bitmap, with the job statuses QEMU emits (§5.3): write cluster 0, start
   * the job (created, running, paused, running while the transaction drains), a guest write to
   * cluster 1 lands in the successor, the job copies, waits, is finalized and dismissed. Either
   * bitmap-mode on-success or always leaves W = {1}.
   */
  private static List<AbstractState> successfulBackup() {
    List<AbstractState> trace = new ArrayList<>();
    trace.add(AbstractState.after("").node("drive0").bitmap("bitmap0").successorsObserved()
        .jobsObserved().build());
    trace.add(AbstractState.after("Write").bitmap("bitmap0", 0).successorsObserved()
        .jobsObserved().build());
    trace.add(AbstractState.after("CreateTxn").bitmap("bitmap0", 0).successor("bitmap0")
        .job("j1", "created").build());
    for (String status : List.of("running", "paused", "running")) {
      trace.add(AbstractState.after("").bitmap("bitmap0", 0).successor("bitmap0")
          .job("j1", status).build());
    }
    trace.add(AbstractState.after("Write").bitmap("bitmap0", 0).successor("bitmap0", 1)
        .job("j1", "running").build());
    // The job's copies are not logged: the spec takes them as hidden steps.
    trace.add(AbstractState.after("").bitmap("bitmap0", 0).successor("bitmap0", 1)
        .job("j1", "waiting").build());
    trace.add(AbstractState.after("").bitmap("bitmap0", 0).successor("bitmap0", 1)
        .job("j1", "pending").build());
    trace.add(AbstractState.after("Finalize").bitmap("bitmap0", 1).successorsObserved()
        .job("j1", "concluded").build());
    trace.add(AbstractState.after("Dismiss").bitmap("bitmap0", 1).successorsObserved()
        .jobsObserved().build());
    return trace;
  }

  @Test
  void aSuccessfulBitmapBackupIsAccepted() {
    TraceVerdict verdict = TraceChecker.check(
        TraceTarget.BITMAP_SYNC, successfulBackup(), 2, SPECS, WORK);

    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.ACCEPTED);
  }

  @Test
  void aBackupThatLosesTheSuccessorsWritesIsRejectedAtFinalize() {
    List<AbstractState> trace = successfulBackup();
    // Finalize drops the guest write made during the job: the bitmap ends empty, not {1}.
    trace.set(9, AbstractState.after("Finalize").bitmap("bitmap0").successorsObserved()
        .job("j1", "concluded").build());
    trace.set(10, AbstractState.after("Dismiss").bitmap("bitmap0").successorsObserved()
        .jobsObserved().build());

    TraceVerdict verdict = TraceChecker.check(TraceTarget.BITMAP_SYNC, trace, 2, SPECS, WORK);

    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(10);
  }

  @Test
  void aWriteThatDirtiesTheFrozenBitmapIsRejectedWhereItHappens() {
    List<AbstractState> trace = successfulBackup();
    // The guest write during the job goes to the frozen parent instead of the successor.
    trace.set(6, AbstractState.after("Write").bitmap("bitmap0", 0, 1).successor("bitmap0")
        .job("j1", "running").build());

    TraceVerdict verdict = TraceChecker.check(TraceTarget.BITMAP_SYNC, trace, 2, SPECS, WORK);

    assertThat(verdict.kind()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(7);
  }

  @Test
  void aTraceThatDoesNotStartFromTheInitialStateIsRejectedAtItsFirstState() {
    List<AbstractState> trace = successfulBackup();
    // BitmapSync starts with every bitmap clean.
    trace.set(0, AbstractState.after("").node("drive0").bitmap("bitmap0", 1)
        .successorsObserved().jobsObserved().build());

    TraceVerdict verdict = TraceChecker.check(TraceTarget.BITMAP_SYNC, trace, 2, SPECS, WORK);

    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(1);
  }

  /** A backup job with auto-finalize and auto-dismiss, as QEMU emits its statuses (§5.3). */
  private static List<AbstractState> backupLifecycle() {
    List<AbstractState> trace = new ArrayList<>();
    trace.add(AbstractState.after("").jobsObserved().build());
    for (String status : List.of("created", "running", "paused", "running", "waiting", "pending",
        "concluded")) {
      trace.add(AbstractState.after("").job("j1", status).build());
    }
    trace.add(AbstractState.after("").jobsObserved().build());
    return trace;
  }

  @Test
  void qemusBackupStatusSequenceIsAccepted() {
    TraceVerdict verdict = TraceChecker.check(
        TraceTarget.JOB_LIFECYCLE, backupLifecycle(), 0, SPECS, WORK);

    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.ACCEPTED);
  }

  @Test
  void aJobThatGoesFromRunningStraightToConcludedIsRejected() {
    List<AbstractState> trace = backupLifecycle();
    // running -> concluded skips waiting and pending: not in QEMU's transition table.
    trace.set(5, AbstractState.after("").job("j1", "concluded").build());

    TraceVerdict verdict = TraceChecker.check(TraceTarget.JOB_LIFECYCLE, trace, 0, SPECS, WORK);

    assertThat(verdict.kind()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(6);
  }

  @Test
  void aVerbLabelThatDoesNotFitTheStatusIsRejected() {
    List<AbstractState> trace = new ArrayList<>(backupLifecycle().subList(0, 3));
    // job-complete on a running backup: QEMU refuses it, so no Complete step can follow.
    trace.add(AbstractState.after("Complete").job("j1", "running").build());

    TraceVerdict verdict = TraceChecker.check(TraceTarget.JOB_LIFECYCLE, trace, 0, SPECS, WORK);

    assertThat(verdict.kind()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(4);
  }
}
