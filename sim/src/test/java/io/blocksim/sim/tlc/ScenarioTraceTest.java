package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.runner.CaseRunner;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Trace validation of the bundled scenarios against BitmapSync. Goal: every case of {@code
 * scenarios/**} whose bitmaps and backups stay in BitmapSync's vocabulary is a behaviour of the
 * spec; every other case is reported as not applicable with its reason, never counted as
 * validated; and an engine with a planted bitmap bug gets its traces rejected. Method: each case
 * runs in the simulator through {@link TracingBackend} (the same {@link CaseRunner} as {@code
 * blocksim run}); TLC checks the traces of the same disk shape in one run each
 * ({@link TraceValidation#checkBatch}), since TLC's start costs more than most traces.
 */
@Tag("tlc")
class ScenarioTraceTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("scenarios");

  private static Path scenariosDir() {
    Path dir = SPECS.getParent().resolve("scenarios");
    assertThat(dir).as("scenarios/ next to specs/").isDirectory();
    return dir;
  }

  /** One case's trace, with the name the report gives it. */
  record Traced(String name, TraceRecorder recorder) {}

  /** Runs every case of the scenarios (the only case named {@code onlyCase}, if not null). */
  static List<Traced> run(Path path, String onlyCase, Set<String> extraSemantics)
      throws Exception {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(List.of(path));
    assertThat(loaded.errors()).isEmpty();
    List<Traced> traced = new ArrayList<>();
    for (Scenario scenario : loaded.scenarios()) {
      for (Scenario.Case scenarioCase : scenario.cases()) {
        if (onlyCase != null && !scenarioCase.name().equals(onlyCase)) {
          continue;
        }
        String name = scenario.path() + (scenarioCase.name().isEmpty() ? ""
            : " [" + scenarioCase.name() + "]");
        if (scenario.semantics().stream().anyMatch(v -> v.startsWith("proposal:"))) {
          continue; // a proposal is not QEMU 7.2; its trace modules check PROPOSAL = "none"
        }
        // A bug scenario's steps under 7.2's semantics (its baseline); the variants come only
        // from the caller, which expects them to be rejected.
        TreeSet<String> semantics = new TreeSet<>(scenario.semantics());
        semantics.removeIf(v -> v.startsWith("bug:"));
        semantics.addAll(extraSemantics);
        TracingBackend backend = new TracingBackend(new SimBackend(scenario.seed(), semantics));
        new CaseRunner(scenario, scenarioCase, backend).run();
        traced.add(new Traced(name, backend.recorder()));
      }
    }
    return traced;
  }

  /**
   * Checks the applicable traces, batched by disk shape; returns one line per rejected case, and
   * adds the number of traces accepted to {@code accepted[0]}.
   */
  static List<String> check(List<Traced> traced, int[] accepted) {
    TreeMap<String, List<Traced>> batches = new TreeMap<>();
    for (Traced trace : traced) {
      TraceRecorder recorder = trace.recorder();
      if (recorder.notApplicableReason() == null && recorder.nodeName() != null) {
        batches.computeIfAbsent(recorder.clusterCount() + " " + recorder.nodeName(),
            key -> new ArrayList<>()).add(trace);
      }
    }
    List<String> failures = new ArrayList<>();
    for (List<Traced> batch : batches.values()) {
      // A rejected run stops the batch at it; the rest are checked again without it.
      List<Traced> remaining = new ArrayList<>(batch);
      while (!remaining.isEmpty()) {
        List<List<AbstractState>> runs = remaining.stream()
            .map(trace -> trace.recorder().states()).toList();
        TraceValidation.BatchVerdict verdict = TraceValidation.checkBatch(runs,
            remaining.get(0).recorder().clusterCount(), SPECS, WORK);
        if (verdict.accepted()) {
          accepted[0] += remaining.size();
          break;
        }
        if (verdict.firstUnmatched() == null) {
          failures.add(remaining.get(0).name() + " and " + (remaining.size() - 1)
              + " more: " + verdict.verdict().kind() + " "
              + String.valueOf(verdict.verdict().violatedInvariant()) + "\n"
              + tail(verdict.verdict().tlc().output(), 15));
          break;
        }
        int run = verdict.firstUnmatched().run();
        Traced rejected = remaining.get(run);
        failures.add(rejected.name() + ": rejected at state "
            + (verdict.firstUnmatched().state() + 1) + " of "
            + rejected.recorder().states().size());
        accepted[0] += run;
        remaining = new ArrayList<>(remaining.subList(run + 1, remaining.size()));
      }
    }
    return failures;
  }

  private static String tail(String output, int lines) {
    String[] all = output.split("\n");
    return String.join("\n",
        java.util.Arrays.asList(all).subList(Math.max(0, all.length - lines), all.length));
  }

  @Test
  void everyApplicableScenarioCaseIsABehaviourOfBitmapSync() throws Exception {
    List<Traced> traced = run(scenariosDir(), null, Set.of());
    int[] accepted = {0};
    List<String> failures = check(traced, accepted);
    TreeSet<String> notApplicable = new TreeSet<>();
    int ended = 0;
    for (Traced trace : traced) {
      if (trace.recorder().notApplicableReason() != null) {
        notApplicable.add(trace.name() + ": " + trace.recorder().notApplicableReason());
      } else if (trace.recorder().nodeName() == null) {
        notApplicable.add(trace.name() + ": no named bitmap");
      } else if (trace.recorder().endedEarly() != null) {
        ended++;
      }
    }
    System.out.printf("scenario traces: %d cases, %d validated against BitmapSync (%d of them up "
        + "to the removal of their node), %d not applicable:%n", traced.size(), accepted[0],
        ended, notApplicable.size());
    notApplicable.forEach(line -> System.out.println("  not applicable: " + line));
    assertThat(failures).as("scenario cases the spec rejects").isEmpty();
    assertThat(accepted[0] + notApplicable.size()).isEqualTo(traced.size());
  }

  /**
   * The same validation bites: with bitmap-mode=always forgetting the clusters a failed backup
   * never copied, the 257 case that fails its backup on a read error is rejected.
   */
  @Test
  void aBackupThatDropsItsUncopiedClustersIsRejected() throws Exception {
    List<Traced> traced = run(scenariosDir().resolve("iotests/257.yaml"),
        "sync=bitmap,bitmap-mode=always,failure=intermediate", Set.of("bug:always-drops-uncopied"));
    assertThat(traced).hasSize(1);
    assertThat(traced.get(0).recorder().notApplicableReason()).isNull();

    List<String> failures = check(traced, new int[1]);

    assertThat(failures).singleElement().asString().contains("rejected at state");
  }
}
