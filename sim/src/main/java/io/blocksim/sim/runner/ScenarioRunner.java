package io.blocksim.sim.runner;

import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.scenario.Scenario;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Runs scenarios in the simulator: each case in a fresh world, its log compared with the golden
 * file beside the scenario (rewritten only with {@code --update}), one summary line per case, the
 * replay command of every failure, and {@code N passed, N failed}.
 */
public final class ScenarioRunner {
  /** What {@code blocksim run} was asked to do. */
  public record Options(Long seed, boolean update, Set<String> semantics, String onlyCase,
      boolean checkDeterminism) {}

  private final Options options;
  private final PrintStream out;

  public ScenarioRunner(Options options, PrintStream out) {
    this.options = options;
    this.out = out;
  }

  /** Runs every case of every scenario; returns the results in order. */
  public List<CaseResult> runAll(List<Scenario> scenarios) throws IOException {
    List<CaseResult> results = new ArrayList<>();
    for (Scenario scenario : scenarios) {
      for (Scenario.Case scenarioCase : scenario.cases()) {
        if (options.onlyCase() != null && !options.onlyCase().equals(scenarioCase.name())) {
          continue;
        }
        CaseResult result = runCase(scenario, scenarioCase);
        results.add(result);
        out.println(summaryLine(result));
      }
    }
    return results;
  }

  /** Returns the seed a case runs with. */
  public long seedOf(Scenario scenario) {
    return options.seed() != null ? options.seed() : scenario.seed();
  }

  private Set<String> semanticsOf(Scenario scenario) {
    Set<String> all = new TreeSet<>(scenario.semantics());
    all.addAll(options.semantics());
    return all;
  }

  /** Runs one case in a fresh simulated world. */
  public CaseResult simulate(Scenario scenario, Scenario.Case scenarioCase) {
    try (SimBackend backend = new SimBackend(seedOf(scenario), semanticsOf(scenario))) {
      return new CaseRunner(scenario, scenarioCase, backend).run();
    }
  }

  private CaseResult runCase(Scenario scenario, Scenario.Case scenarioCase) throws IOException {
    CaseResult result = simulate(scenario, scenarioCase);
    if (options.checkDeterminism()) {
      CaseResult again = simulate(scenario, scenarioCase);
      if (!again.log().equals(result.log())
          || !again.observations().equals(result.observations())) {
        return withFailure(result, CaseResult.Kind.FAILED,
            "nondeterminism: a second run with the same seed gave a different log or observations");
      }
    }
    if (result.kind() == CaseResult.Kind.INVARIANT || result.kind() == CaseResult.Kind.LIMIT) {
      return result;
    }
    Path golden = ScenarioFiles.golden(scenario.path(), scenarioCase.name());
    Path bad = Path.of(golden + ".bad");
    if (options.update()) {
      Files.writeString(golden, result.log(), StandardCharsets.UTF_8);
      Files.deleteIfExists(bad);
      return result;
    }
    if (Files.isRegularFile(golden)) {
      String expected = Files.readString(golden, StandardCharsets.UTF_8);
      if (!expected.equals(result.log())) {
        Files.writeString(bad, result.log(), StandardCharsets.UTF_8);
        String diff = firstDifference(expected, result.log());
        String failure = "output mismatch with " + ScenarioFiles.display(golden) + " (" + diff
            + "; full output in " + ScenarioFiles.display(bad) + ")";
        if (result.failure() != null) {
          failure = result.failure() + "; " + failure;
        }
        return withFailure(result, CaseResult.Kind.FAILED, failure);
      }
      Files.deleteIfExists(bad);
    }
    return result;
  }

  private static CaseResult withFailure(CaseResult r, CaseResult.Kind kind, String failure) {
    java.util.Map<String, Object> observations = new java.util.LinkedHashMap<>(r.observations());
    observations.put("passed", false);
    observations.put("failure", failure);
    return new CaseResult(r.scenarioPath(), r.caseName(), kind, failure, r.log(), observations,
        null);
  }

  static String firstDifference(String expected, String actual) {
    String[] e = expected.split("\n", -1);
    String[] a = actual.split("\n", -1);
    for (int i = 0; i < Math.max(e.length, a.length); i++) {
      String el = i < e.length ? e[i] : "<end of file>";
      String al = i < a.length ? a[i] : "<end of output>";
      if (!el.equals(al)) {
        return "line " + (i + 1) + ": expected '" + el + "', got '" + al + "'";
      }
    }
    return "no line differs";
  }

  private static String summaryLine(CaseResult result) {
    String verdict = switch (result.kind()) {
      case PASSED -> "pass";
      case FAILED -> "fail";
      case INVARIANT -> "BUG";
      case LIMIT -> "limit";
      case NOT_RUN -> "not run";
    };
    String line = String.format(java.util.Locale.ROOT, "%-72s %s", result.displayName(), verdict);
    return result.failure() == null ? line : line + "  " + result.failure();
  }
}
