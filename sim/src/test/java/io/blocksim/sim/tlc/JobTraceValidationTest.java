package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job-lifecycle recorder, writer and the {@code --trace-tla} hook. Goal: creation arguments
 * reach Create (type, auto-finalize, auto-dismiss), a reused id is a new job, a crash ends every
 * job, and a trace written for the CLI is a module TLC checks on its own.
 */
@Tag("tlc")
class JobTraceValidationTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("job-validation");
  private static final Map<String, Object> OK = Json.object("return", Json.object());

  @TempDir Path temp;

  private static List<QmpEvent> statuses(String id, String... statuses) {
    List<QmpEvent> events = new ArrayList<>();
    for (String status : statuses) {
      events.add(new QmpEvent("JOB_STATUS_CHANGE", Json.object("id", id, "status", status), 0));
    }
    return events;
  }

  private static JobTraceState createOf(JobTraceRecorder recorder, String job) {
    return recorder.states().stream()
        .filter(s -> s.action().equals("Create") && s.job().equals(job)).findFirst()
        .orElseThrow();
  }

  @Test
  void creationArgumentsGiveTheSpecsTypeAndFlags() {
    JobTraceRecorder recorder = new JobTraceRecorder();
    recorder.command("block-commit", Json.object("job-id", "active", "device", "top"), OK,
        statuses("active", "created"));
    recorder.command("block-commit", Json.object("job-id", "mid", "device", "top2",
        "top-node", "mid", "auto-finalize", false), OK, statuses("mid", "created"));
    recorder.command("blockdev-create", Json.object("job-id", "c", "options", Json.object()),
        OK, statuses("c", "created"));
    recorder.command("drive-mirror", Json.object("device", "d0", "target", "x", "sync", "full"),
        OK, statuses("d0", "created"));

    assertThat(createOf(recorder, "active").type()).isEqualTo("mirror");
    assertThat(createOf(recorder, "mid").type()).isEqualTo("backup");
    assertThat(createOf(recorder, "mid").autoFinalize()).isFalse();
    // blockdev-create's job is always dismissed by hand (JOB_MANUAL_DISMISS).
    assertThat(createOf(recorder, "c").autoDismiss()).isFalse();
    assertThat(createOf(recorder, "d0").type()).isEqualTo("mirror");
    assertThat(createOf(recorder, "d0").autoDismiss()).isTrue();
  }

  @Test
  void aReusedIdIsANewJobAndACrashEndsEveryJob() {
    JobTraceRecorder recorder = new JobTraceRecorder();
    recorder.command("blockdev-backup", Json.object("job-id", "j1", "device", "d",
        "target", "t", "sync", "full"), OK, statuses("j1", "created", "running"));
    recorder.processDied("crash: process");
    recorder.command("blockdev-backup", Json.object("job-id", "j1", "device", "d",
        "target", "t", "sync", "full"), OK, statuses("j1", "created", "running", "paused",
        "running"));
    recorder.events(statuses("j1", "waiting", "pending", "concluded", "null"));

    List<JobTraceState> states = recorder.states();
    assertThat(states.get(3).action()).isEqualTo("Reset");
    assertThat(states.get(3).jobs()).isEmpty();
    assertThat(states.get(states.size() - 1).jobs()).isEmpty();
    assertThat(JobTraceModuleWriter.jobNames(states)).containsExactly("j1", "j1#2");
    TraceVerdict verdict = JobTraceValidation.check(states, SPECS, WORK);
    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.ACCEPTED);
  }

  @Test
  void writesOptionalFieldsOnlyWhenKnown() {
    TreeMap<String, String> jobs = new TreeMap<>(Map.of("j1", "created"));
    String create = JobTraceModuleWriter.record(new JobTraceState("Create", "j1", "", null,
        "backup", true, false, jobs, ""));
    String refused = JobTraceModuleWriter.record(new JobTraceState("Refused", "j1", "cancel",
        false, null, null, null, jobs, ""));

    assertThat(create).isEqualTo("[action |-> \"Create\", job |-> \"j1\", type |-> \"backup\", "
        + "af |-> TRUE, ad |-> FALSE, jobs |-> ((\"j1\" :> \"created\")), seen |-> {\"jobs\"}]");
    assertThat(refused).contains("verb |-> \"cancel\", force |-> FALSE").doesNotContain("type");
    assertThatThrownBy(() -> JobTraceModuleWriter.moduleText("T",
        List.of(JobTraceState.of("Refused", "j1", jobs, ""))))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("refusal");
  }

  @Test
  void batchesNameEachRunsJobsAfresh() {
    List<JobTraceState> run = List.of(JobTraceState.of("", "", new TreeMap<>(), ""),
        JobTraceState.of("Create", "backup0", new TreeMap<>(Map.of("backup0", "created")), ""),
        JobTraceState.of("Create", "m", new TreeMap<>(Map.of("backup0", "created",
            "m", "created")), ""));

    List<JobTraceState> renamed = JobTraceValidation.renamed(run);

    assertThat(renamed.get(2).jobs()).containsOnlyKeys("j1", "j2");
    assertThat(renamed.get(2).job()).isEqualTo("j2");
    assertThat(renamed.get(2).note()).contains("j2 = m");
  }

  @Test
  void theCliHookWritesATraceTlcAccepts() throws Exception {
    Path file = SPECS.getParent().resolve("scenarios/backup/job-flows.yaml");
    Scenario scenario = ScenarioFiles.load(List.of(file)).scenarios().get(0);
    Scenario.Case pause = scenario.cases().stream()
        .filter(c -> c.name().equals("case=pause")).findFirst().orElseThrow();
    var backend = JobTraceValidation.wrap(
        new SimBackend(scenario.seed(), new TreeSet<>(scenario.semantics())));
    new CaseRunner(scenario, pause, backend).run();

    String line = JobTraceValidation.writeTrace(backend, temp, "job-flows [case=pause]");

    assertThat(line).startsWith("job-flows [case=pause]: " + temp.resolve("JobTrace"))
        .endsWith("; spec JobLifecycle)");
    String module = line.replaceFirst(".*/(JobTrace\\w+)\\.tla.*", "$1");
    assertThat(Files.readString(temp.resolve(module + ".tla"))).contains("job-pause accepted");
    TlcResult result = TlcRunner.run(List.of(temp, SPECS), module,
        temp.resolve(module + ".cfg"), WORK, List.of("-deadlock"));
    assertThat(TraceChecker.verdictOf(result, backend.recorder().states().size()).kind())
        .as(result.output())
        .isEqualTo(TraceVerdict.Kind.ACCEPTED);
    assertThat(JobTraceValidation.writeTrace(new SimBackend(1, Set.of()), temp, "x"))
        .isEqualTo("x: no job trace: the backend was not wrapped");
  }
}
