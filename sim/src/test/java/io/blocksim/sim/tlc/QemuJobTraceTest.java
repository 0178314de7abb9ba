package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.qemu.QemuAvailability;
import io.blocksim.sim.qemu.QemuBackend;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.port.StepException;
import io.blocksim.sim.scenario.Scenario;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trace validation of real QEMU runs against JobLifecycle. Goal: what qemu-storage-daemon 7.2
 * does with jobs (every status change, every verb it accepts or refuses) is a behaviour of the
 * spec, so the spec describes QEMU and not only the simulator. Method: a few job scenarios, one
 * of each kind of job and verb, run on real QEMU through {@link JobTracingBackend}; TLC checks
 * the traces in one batch. Skipped when QEMU is not installed.
 */
@Tag("tlc")
class QemuJobTraceTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("qemu-jobs");
  /**
   * Backup, create, pause and set-speed; mirror cancel and errors; active commit; stream; a
   * grouped transaction aborted by a cancel in waiting or pending, or by a member's failure.
   */
  static final List<String> FILES = List.of(
      "backup/job-flows.yaml", "backup/error-policies.yaml", "mirror/cancel-and-errors.yaml",
      "commit/active.yaml", "stream/whole-chain-options.yaml",
      "transactions/grouped-abort.yaml");

  @TempDir Path temp;

  @Test
  void jobLifecyclesOfRealQemuAreBehavioursOfJobLifecycle() throws Exception {
    QemuAvailability availability = QemuAvailability.check();
    Assumptions.assumeTrue(availability.available(), availability.reason());
    Path scenarios = SPECS.getParent().resolve("scenarios");
    List<Path> files = new ArrayList<>();
    String only = System.getProperty("blocksim.qemuJobTraces");
    if ("all".equals(only)) {
      try (var walk = java.nio.file.Files.walk(scenarios)) {
        walk.filter(p -> p.toString().endsWith(".yaml")).sorted().forEach(files::add);
      }
    } else {
      FILES.forEach(file -> files.add(scenarios.resolve(file)));
    }
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(files);
    assertThat(loaded.errors()).isEmpty();
    List<ScenarioJobTraceTest.Run> runs = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    int index = 0;
    for (Scenario scenario : loaded.scenarios()) {
      if (scenario.simOnly()) {
        continue;
      }
      for (Scenario.Case scenarioCase : scenario.cases()) {
        String name = scenario.path() + (scenarioCase.name().isEmpty() ? ""
            : " [" + scenarioCase.name() + "]");
        JobTraceRecorder recorder;
        try (QemuBackend qemu = new QemuBackend(temp.resolve("c" + index++), false, l -> { })) {
          JobTracingBackend backend = new JobTracingBackend(qemu);
          new CaseRunner(scenario, scenarioCase, backend).run();
          backend.flush();
          recorder = backend.recorder();
        }
        if (recorder.jobCount() == 0) {
          continue;
        }
        if (recorder.notApplicableReason() != null) {
          skipped.add(name + ": " + recorder.notApplicableReason());
          continue;
        }
        runs.add(new ScenarioJobTraceTest.Run(name, recorder.states()));
      }
    }
    List<String> failures = new ArrayList<>();
    long millis = ScenarioJobTraceTest.checkAll(runs, failures, SPECS, WORK);
    System.out.printf("QEMU job traces: %d cases with jobs validated, %d rejected, %d not "
        + "applicable; TLC %d ms%n", runs.size() - failures.size(), failures.size(),
        skipped.size(), millis);
    skipped.forEach(line -> System.out.println("  not applicable: " + line));
    failures.forEach(line -> System.out.println("  REJECTED: " + line));
    assertThat(failures).as("QEMU runs whose job lifecycles JobLifecycle rejects").isEmpty();
    assertThat(runs).isNotEmpty();
  }

  /**
   * Generated job workloads on real QEMU (opt-in, slow: QEMU's time is real time): {@code
   * -Dblocksim.qemuJobSeeds=N} runs seeds 1..N of {@link GeneratedJobWorkload}, whose random
   * verbs QEMU mostly refuses, so that "no verb accepted where QEMU refuses it, none refused
   * where it accepts it" is checked against QEMU itself.
   */
  @Test
  void generatedJobWorkloadsOnRealQemuAreBehavioursOfJobLifecycle() throws Exception {
    int seeds = Integer.getInteger("blocksim.qemuJobSeeds", 0);
    Assumptions.assumeTrue(seeds > 0, "opt-in: -Dblocksim.qemuJobSeeds=N");
    QemuAvailability availability = QemuAvailability.check();
    Assumptions.assumeTrue(availability.available(), availability.reason());
    List<ScenarioJobTraceTest.Run> runs = new ArrayList<>();
    int refusals = 0;
    List<String> crashed = new ArrayList<>();
    for (long seed = 1; seed <= seeds; seed++) {
      try (QemuBackend qemu = new QemuBackend(temp.resolve("s" + seed), false, l -> { })) {
        GeneratedJobWorkload workload = new GeneratedJobWorkload(seed, qemu);
        JobTraceRecorder recorder;
        try {
          recorder = workload.run(GeneratedJobTraceTest.OPERATIONS);
        } catch (StepException e) {
          // QEMU 7.2 segfaults on query-named-block-nodes after a block-stream job with
          // auto-dismiss false concluded (QemuBackend's note); the trace up to there stands.
          crashed.add("seed " + seed + ": " + e.getMessage());
          recorder = workload.recorder();
        }
        if (recorder.notApplicableReason() != null) {
          continue;
        }
        refusals += recorder.refusalsChecked();
        runs.add(new ScenarioJobTraceTest.Run("seed " + seed + "\n  "
            + String.join("\n  ", workload.log()) + "\n", recorder.states()));
      }
    }
    crashed.forEach(line -> System.out.println("  QEMU crashed: " + line));
    List<String> failures = new ArrayList<>();
    long millis = ScenarioJobTraceTest.checkAll(runs, failures, SPECS, WORK);
    System.out.printf("QEMU generated job traces: %d seeds, %d validated (%d refused verbs "
        + "checked), %d rejected; TLC %d ms%n", seeds, runs.size() - failures.size(), refusals,
        failures.size(), millis);
    failures.forEach(line -> System.out.println("  REJECTED: " + line));
    assertThat(failures).isEmpty();
  }
}
