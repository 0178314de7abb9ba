package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.ForwardingBackend;
import io.blocksim.sim.port.StepException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The job-lifecycle trace check bites. Goal: a status change QEMU's table forbids, a verb accepted
 * where QEMU refuses it, and a verb refused where QEMU accepts it are each rejected at the state
 * that shows it, and QEMU's own sequences are accepted. Method: QMP streams written by hand
 * (QEMU 7.2's, docs/qemu-behaviour.md §5.3) fed to {@link JobTraceRecorder}, and engines with a planted
 * mistake under {@link GeneratedJobWorkload}.
 */
@Tag("tlc")
class JobTraceRejectionTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("job-rejections");
  private static final Map<String, Object> OK = Json.object("return", Json.object());

  private static Map<String, Object> error(String desc) {
    return Json.object("error", Json.object("class", "GenericError", "desc", desc));
  }

  private static List<QmpEvent> statuses(String id, String... statuses) {
    List<QmpEvent> events = new ArrayList<>();
    for (String status : statuses) {
      events.add(new QmpEvent("JOB_STATUS_CHANGE", Json.object("id", id, "status", status), 0));
    }
    return events;
  }

  /** blockdev-backup j1 with auto-dismiss false, as QEMU 7.2 runs it, up to concluded. */
  private static JobTraceRecorder backupUntilConcluded() {
    JobTraceRecorder recorder = new JobTraceRecorder();
    recorder.command("blockdev-backup", Json.object("job-id", "j1", "device", "drive0",
        "target", "t", "sync", "full", "auto-dismiss", false), OK,
        statuses("j1", "created", "running", "paused", "running"));
    recorder.events(statuses("j1", "waiting", "pending", "concluded"));
    return recorder;
  }

  private static TraceVerdict check(JobTraceRecorder recorder) {
    return JobTraceValidation.check(recorder.states(), SPECS, WORK);
  }

  @Test
  void qemusBackupWithItsVerbsAndRefusalsIsAccepted() {
    JobTraceRecorder recorder = new JobTraceRecorder();
    recorder.command("blockdev-backup", Json.object("job-id", "j1", "device", "drive0",
        "target", "t", "sync", "full", "auto-finalize", false, "auto-dismiss", false), OK,
        statuses("j1", "created", "running", "paused", "running"));
    recorder.command("job-complete", Json.object("id", "j1"),
        error("Job 'j1' in state 'running' cannot accept command verb 'complete'"), List.of());
    recorder.command("job-pause", Json.object("id", "j1"), OK, List.of());
    recorder.command("job-pause", Json.object("id", "j1"), error("Job is already paused"),
        List.of());
    recorder.events(statuses("j1", "paused"));
    recorder.command("block-job-cancel", Json.object("device", "j1"),
        error("The block job for device 'j1' is currently paused"), List.of());
    recorder.command("job-resume", Json.object("id", "j1"), OK, statuses("j1", "running"));
    recorder.events(statuses("j1", "waiting", "pending"));
    recorder.command("job-finalize", Json.object("id", "j1"), OK, statuses("j1", "concluded"));
    recorder.command("job-dismiss", Json.object("id", "j1"), OK, statuses("j1", "null"));

    TraceVerdict verdict = check(recorder);

    assertThat(recorder.refusalsChecked()).isEqualTo(3);
    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.ACCEPTED);
  }

  @Test
  void aStatusChangeQemusTableForbidsIsRejected() {
    JobTraceRecorder recorder = new JobTraceRecorder();
    recorder.command("blockdev-backup", Json.object("job-id", "j1", "device", "drive0",
        "target", "t", "sync", "full"), OK, statuses("j1", "created", "running"));
    // running -> pending skips waiting (not in §5.1's table).
    recorder.events(statuses("j1", "pending", "concluded", "null"));

    TraceVerdict verdict = check(recorder);

    assertThat(verdict.kind()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(4);
  }

  @Test
  void aVerbAcceptedWhereQemuRefusesItIsRejected() {
    JobTraceRecorder recorder = backupUntilConcluded();
    // job-finalize of a concluded job: the verb table refuses it (§5.2).
    recorder.command("job-finalize", Json.object("id", "j1"), OK, List.of());

    TraceVerdict verdict = check(recorder);

    assertThat(verdict.kind()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(recorder.states().size());
  }

  @Test
  void aVerbRefusedWhereQemuAcceptsItIsRejected() {
    JobTraceRecorder recorder = backupUntilConcluded();
    // job-dismiss of a concluded job without auto-dismiss is accepted by QEMU.
    recorder.command("job-dismiss", Json.object("id", "j1"),
        error("Job 'j1' in state 'concluded' cannot accept command verb 'dismiss'"), List.of());

    TraceVerdict verdict = check(recorder);

    assertThat(recorder.refusalsChecked()).isEqualTo(1);
    assertThat(verdict.kind()).isEqualTo(TraceVerdict.Kind.REJECTED);
    assertThat(verdict.firstUnmatchedState()).isEqualTo(recorder.states().size());
  }

  @Test
  void aMirrorThatLeavesRunningForWaitingIsRejected() {
    JobTraceRecorder recorder = new JobTraceRecorder();
    recorder.command("blockdev-mirror", Json.object("job-id", "m", "device", "drive0",
        "target", "t", "sync", "full"), OK, statuses("m", "created", "running"));
    // A mirror ends its run only from ready (after job-complete or a soft cancel).
    recorder.events(statuses("m", "waiting"));

    assertThat(check(recorder).kind()).isEqualTo(TraceVerdict.Kind.REJECTED);
  }

  @Test
  void qemusOwnStepsNeedTheirCause() {
    // A grouped transaction whose members both succeed: nothing lets QEMU cancel j2.
    JobTraceRecorder recorder = new JobTraceRecorder();
    recorder.command("transaction", Json.object("actions", List.of(
        Json.object("type", "blockdev-backup", "data", Json.object("job-id", "j1",
            "device", "a", "target", "t1", "sync", "full")),
        Json.object("type", "blockdev-backup", "data", Json.object("job-id", "j2",
            "device", "b", "target", "t2", "sync", "full", "auto-dismiss", false))),
        "properties", Json.object("completion-mode", "grouped")), OK,
        statuses("j1", "created", "running"));
    recorder.events(statuses("j2", "created", "running"));
    recorder.events(statuses("j1", "waiting"));
    List<JobTraceState> states = new ArrayList<>(recorder.states());
    JobTraceState last = states.get(states.size() - 1);
    List<JobTraceState> groupCancel = new ArrayList<>(states);
    groupCancel.add(new JobTraceState("GroupCancel", "j2", "", null, null, null, null,
        last.jobs(), "", new java.util.TreeSet<>(Set.of("j1"))));
    // The same members: j2 concludes normally, and a dismissal "of a job that never started".
    recorder.events(statuses("j2", "waiting"));
    recorder.events(statuses("j1", "pending", "concluded", "null"));
    recorder.events(statuses("j2", "pending", "concluded"));
    List<JobTraceState> unstarted = new ArrayList<>(recorder.states());
    unstarted.add(JobTraceState.of("DismissUnstarted", "j2", new java.util.TreeMap<>(), ""));

    assertThat(JobTraceValidation.check(groupCancel, SPECS, WORK).firstUnmatchedState())
        .isEqualTo(groupCancel.size());
    assertThat(JobTraceValidation.check(unstarted, SPECS, WORK).firstUnmatchedState())
        .isEqualTo(unstarted.size());
    assertThat(JobTraceValidation.check(recorder.states(), SPECS, WORK).kind())
        .isEqualTo(TraceVerdict.Kind.ACCEPTED);
  }

  /** A backend that passes every call on, except what the test changes. */
  private static class Passing extends ForwardingBackend<Backend> {
    Passing(Backend inner) {
      super(inner);
    }
  }

  /** Runs 40 seeds on a mutated engine; returns the state where the check stopped matching. */
  private static JobTraceState firstRejected(UnaryOperator<Backend> mutation) throws Exception {
    List<List<JobTraceState>> runs = new ArrayList<>();
    for (long seed = 1; seed <= 40; seed++) {
      runs.add(new GeneratedJobWorkload(seed, mutation).run(GeneratedJobTraceTest.OPERATIONS)
          .states());
    }
    JobTraceValidation.BatchVerdict verdict = JobTraceValidation.checkBatch(runs, SPECS, WORK);
    assertThat(verdict.verdict().kind()).as(verdict.verdict().tlc().output())
        .isEqualTo(TraceVerdict.Kind.REJECTED);
    JobTraceValidation.Position position = verdict.firstUnmatched();
    return runs.get(position.run()).get(position.state());
  }

  @Test
  void anEngineThatReportsSuccessForARefusedPauseIsRejected() throws Exception {
    // The engine refuses job-pause ("Job is already paused", verb table) but says it accepted.
    JobTraceState rejected = firstRejected(sim -> new Passing(sim) {
      @Override
      public Map<String, Object> qmp(String command, Map<String, Object> args)
          throws StepException {
        Map<String, Object> reply = inner.qmp(command, args);
        boolean pause = command.equals("job-pause") || command.equals("block-job-pause");
        return pause && reply.containsKey("error")
            && !String.valueOf(reply.get("error")).contains("not found") ? OK : reply;
      }
    });

    assertThat(rejected.action()).as("%s", rejected).isEqualTo("Pause");
  }

  @Test
  void anEngineThatRefusesEveryResumeIsRejected() throws Exception {
    // A job paused by job-pause must accept job-resume; this engine refuses it as if not paused.
    JobTraceState rejected = firstRejected(sim -> new Passing(sim) {
      @Override
      public Map<String, Object> qmp(String command, Map<String, Object> args)
          throws StepException {
        if (command.equals("job-resume") || command.equals("block-job-resume")) {
          return error("Can't resume a job that was not paused");
        }
        return inner.qmp(command, args);
      }
    });

    assertThat(rejected.action()).as("%s", rejected).isEqualTo("Refused");
    assertThat(rejected.verb()).isEqualTo("resume");
  }

  @Test
  void anEngineWhoseJobsSkipWaitingIsRejected() throws Exception {
    // The engine's events lose every "waiting": the jobs seem to go from running to pending.
    JobTraceState rejected = firstRejected(sim -> new Passing(sim) {
      @Override
      public List<QmpEvent> events() {
        return inner.events().stream().filter(e -> !"waiting".equals(e.data().get("status")))
            .toList();
      }
    });

    // running -> pending: no action of the job makes it, so the recorder logs a Stutter.
    assertThat(rejected.action()).as("%s", rejected).isEqualTo("Stutter");
    assertThat(rejected.jobs()).containsValue("pending");
  }
}
