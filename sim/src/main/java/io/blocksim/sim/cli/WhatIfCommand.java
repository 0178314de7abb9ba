package io.blocksim.sim.cli;

import io.blocksim.sim.report.ReportInputs;
import io.blocksim.sim.report.ReportModel;
import io.blocksim.sim.report.Reports;
import io.blocksim.sim.runner.CaseResult;
import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.runner.ScenarioRunner;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.Semantics;
import io.blocksim.sim.variants.WhatIf;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code blocksim whatif --semantics V PATH...}: runs every case twice, under QEMU 7.2's
 * semantics and with the variants switched on, and prints per case what changed, side by side:
 * bitmap counts at each observation, how each job ended, the events and replies that differ, and
 * which checkers fired. Plain text for a terminal; {@link WhatIf} holds the comparison for other
 * writers: {@code --report DIR} writes the HTML report, each case's page showing its run under
 * the variant beside its run under 7.2's semantics, as a baseline diff does.
 */
@Command(name = "whatif", mixinStandardHelpOptions = true,
    description = "Run cases under QEMU 7.2's semantics and under a variant and show what changes.")
final class WhatIfCommand implements Callable<Integer> {
  @Option(names = "--semantics", split = ",", required = true,
      description = "The variants to try (proposal:... or bug:...).")
  List<String> semantics = new ArrayList<>();

  @Option(names = "--changed-only", description = "Leave out the cases that did not change.")
  boolean changedOnly;

  @Option(names = "--report", paramLabel = "DIR",
      description = "Also write the HTML report: every case under the variant, beside its run "
          + "under QEMU 7.2's semantics.")
  Path report;

  @Parameters(arity = "1..*", paramLabel = "PATH", description = "Scenario files or folders.")
  List<Path> paths;

  @Override
  public Integer call() throws Exception {
    PrintStream out = Main.out;
    for (String name : semantics) {
      if (!Semantics.known().containsKey(name)) {
        Main.err.println("blocksim: error: unknown semantics variant '" + name + "'");
        Main.err.println("hint: 'blocksim semantics' lists them");
        return Main.EXIT_BAD_INPUT;
      }
    }
    ScenarioFiles.Loaded loaded = ScenarioFiles.load(paths);
    if (!loaded.errors().isEmpty()) {
      loaded.errors().forEach(Main.err::print);
      return Main.EXIT_BAD_INPUT;
    }
    String nothing = Main.nothingToRun(loaded.scenarios(), paths, null);
    if (nothing != null) {
      Main.err.println("blocksim: error: " + nothing);
      return Main.EXIT_BAD_INPUT;
    }
    ScenarioRunner runner = new ScenarioRunner(
        new ScenarioRunner.Options(null, false, Set.of(), null, false),
        new PrintStream(OutputStream.nullOutputStream(), false, StandardCharsets.UTF_8));
    Set<String> variants = new TreeSet<>(semantics);
    out.println("what if: " + String.join(", ", variants) + " (left: QEMU 7.2, right: variant)");
    int changed = 0;
    int cases = 0;
    List<CaseResult> afterRuns = new ArrayList<>();
    List<Map<String, Object>> beforeRuns = new ArrayList<>();
    List<List<String>> rows = new ArrayList<>();
    for (Scenario scenario : loaded.scenarios()) {
      Set<String> base = new TreeSet<>(scenario.semantics());
      base.removeAll(variants);
      Set<String> with = new TreeSet<>(base);
      with.addAll(variants);
      for (Scenario.Case c : scenario.cases()) {
        cases++;
        CaseResult before = runner.simulate(scenario, c, base);
        CaseResult after = runner.simulate(scenario, c, with);
        WhatIf diff = WhatIf.compare(before, after);
        afterRuns.add(after);
        beforeRuns.add(before.observations());
        if (!diff.unchanged()) {
          rows.add(List.of(before.displayName(), outcome(before), outcome(after),
              String.join("; ", diff.lines().subList(0, Math.min(3, diff.lines().size())))
                  + (diff.lines().size() > 3 ? "; …" : "")));
        }
        if (diff.unchanged()) {
          if (!changedOnly) {
            out.println();
            out.println(before.displayName() + ": no change");
          }
          continue;
        }
        changed++;
        out.println();
        out.println(before.displayName() + ":");
        for (String line : diff.lines()) {
          out.println("  " + line);
        }
      }
    }
    out.println();
    out.println(changed + " of " + cases + " cases changed");
    if (report != null) {
      String name = String.join(", ", variants);
      Reports.writeComparison("blocksim whatif --semantics " + String.join(",", variants),
          ReportInputs.fromRun(afterRuns, new ArrayList<>(variants)), beforeRuns,
          "QEMU 7.2 semantics", List.of(new ReportModel.Section("What if: " + name,
              changed + " of " + cases + " cases change under " + name + ". Each case's page "
                  + "shows its run under the variant beside its run under QEMU 7.2's semantics "
                  + "(the baseline).",
              List.of("case", "QEMU 7.2", name, "what changes"), rows)),
          report, out);
    }
    return Main.EXIT_OK;
  }

  private static String outcome(CaseResult r) {
    return switch (r.kind()) {
      case PASSED -> "passed";
      case INVARIANT -> "invariant violated";
      case LIMIT -> "simulation limit";
      default -> "failed";
    };
  }
}
