package io.blocksim.sim.variants;

import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Mutation testing with the engine's own history: each {@code bug:} variant is switched on for
 * every case of a corpus, in order, until one case notices. A case notices when a checker flags
 * the run (an invariant, a simulation limit), when one of its steps fails (an expectation that
 * states QEMU 7.2's behaviour), or when its log differs from its golden file (or, for a case
 * without one, its observations differ from the same case run under 7.2's semantics). A variant
 * that no case notices survives.
 *
 * <p>Scenarios that switch on variants of their own are not part of the corpus here: they exist
 * to show one variant, and mixing a second one in would say nothing about either.
 */
public final class KillTable {
  /** How one variant fared. */
  public record Row(String variant, String killedBy, String how, int casesRun, long millis) {
    public boolean killed() {
      return killedBy != null;
    }
  }

  private final List<Scenario> corpus;

  public KillTable(List<Scenario> scenarios) {
    List<Scenario> kept = new ArrayList<>();
    for (Scenario s : scenarios) {
      if (s.semantics().isEmpty()) {
        kept.add(s);
      }
    }
    this.corpus = List.copyOf(kept);
  }

  /** Returns the number of cases a variant may have to get through. */
  public int caseCount() {
    return corpus.stream().mapToInt(s -> s.cases().size()).sum();
  }

  /** Runs the corpus under the variant until a case notices it. */
  public Row run(String variant) throws IOException {
    long start = System.nanoTime();  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
    ScenarioRunner runner = new ScenarioRunner(
        new ScenarioRunner.Options(null, false, Set.of(), null, false), quiet());
    int run = 0;
    for (Scenario scenario : corpus) {
      for (Scenario.Case c : scenario.cases()) {
        run++;
        String how = notices(runner, scenario, c, variant);
        if (how != null) {
          return new Row(variant, label(scenario, c), how, run,
              (System.nanoTime() - start) / 1_000_000);  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
        }
      }
    }
    return new Row(variant, null, null, run, (System.nanoTime() - start) / 1_000_000);  // determinism-ok: wall time for the user's report or time budget only, never fed to a run
  }

  /** Returns how the case noticed the variant, or null when it ran as under QEMU 7.2. */
  static String notices(ScenarioRunner runner, Scenario scenario, Scenario.Case c,
      String variant) throws IOException {
    CaseResult mutated = runner.simulate(scenario, c, new TreeSet<>(Set.of(variant)));
    switch (mutated.kind()) {
      case INVARIANT:
        return "checker: " + mutated.failure();
      case LIMIT:
        return "limit: " + mutated.failure();
      case FAILED:
        return "step failed: " + mutated.failure();
      default:
        break;
    }
    Path golden = ScenarioFiles.golden(scenario.path(), c.name());
    if (Files.isRegularFile(golden)) {
      String expected = Files.readString(golden, StandardCharsets.UTF_8);
      if (!expected.equals(mutated.log())) {
        return "golden differs: " + firstDifference(expected, mutated.log());
      }
      return null;
    }
    CaseResult baseline = runner.simulate(scenario, c, new TreeSet<>());
    if (!Objects.equals(observationsOf(baseline), observationsOf(mutated))) {
      return "observations differ from QEMU 7.2 semantics";
    }
    return null;
  }

  private static Map<String, Object> observationsOf(CaseResult r) {
    Map<String, Object> o = new java.util.LinkedHashMap<>(r.observations());
    o.remove("passed");
    o.remove("failure");
    return o;
  }

  private static String label(Scenario s, Scenario.Case c) {
    return c.name().isEmpty() ? s.path() : s.path() + " [" + c.name() + "]";
  }

  static String firstDifference(String expected, String actual) {
    String[] e = expected.split("\n", -1);
    String[] a = actual.split("\n", -1);
    for (int i = 0; i < Math.max(e.length, a.length); i++) {
      String el = i < e.length ? e[i] : "<end of file>";
      String al = i < a.length ? a[i] : "<end of output>";
      if (!el.equals(al)) {
        return "line " + (i + 1) + ": expected '" + shorten(el) + "', got '" + shorten(al) + "'";
      }
    }
    return "no line differs";
  }

  static String shorten(String s) {
    return s.length() <= 100 ? s : s.substring(0, 97) + "...";
  }

  private static PrintStream quiet() {
    return new PrintStream(OutputStream.nullOutputStream(), false, StandardCharsets.UTF_8);
  }

  /** Loads the corpus from scenario files or folders; bad files are an error. */
  public static KillTable load(List<Path> paths) throws IOException {
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
    if (!loaded.errors().isEmpty()) {
      throw new IOException("the corpus has files that do not parse:\n"
          + String.join("", loaded.errors()));
    }
    return new KillTable(loaded.scenarios());
  }
}
