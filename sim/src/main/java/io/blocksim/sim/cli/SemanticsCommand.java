package io.blocksim.sim.cli;

import io.blocksim.sim.scenario.Semantics;
import io.blocksim.sim.variants.ExploreHook;
import io.blocksim.sim.variants.KillTable;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code blocksim semantics}: lists the named engine variants; with {@code --kill}, runs every
 * {@code bug:} variant against the bundled corpus, then a small {@code blocksim explore}
 * campaign under each variant the corpus did not kill (or every variant, {@code --explore all}),
 * and prints which case or checker killed it and how long that took. Exit code 1 when a variant
 * survives both.
 */
@Command(name = "semantics", mixinStandardHelpOptions = true,
    description = "List the named engine variants; --kill runs every bug: variant against the "
        + "corpus and prints what killed it.")
final class SemanticsCommand implements Callable<Integer> {
  @Option(names = "--kill", description = "Run every bug: variant against the corpus.")
  boolean kill;

  @Option(names = "--variant", description = "Only these variants (with --kill).")
  List<String> only = new ArrayList<>();

  @Option(names = "--explore", paramLabel = "WHICH",
      description = "Which variants blocksim explore runs under: survivors (of the corpus, the "
          + "default), all, or none.")
  String explore = "survivors";

  @Option(names = "--explore-budget", paramLabel = "SECONDS",
      description = "Time budget per variant for blocksim explore (default 30; not with "
          + "--no-times).")
  int exploreBudget = 30;

  @Option(names = "--explore-runs", paramLabel = "N",
      description = "Run budget per variant for blocksim explore (default 200).")
  long exploreRuns = 200;

  @Option(names = "--explore-seed", paramLabel = "SEED",
      description = "Campaign seed of blocksim explore (default 1).")
  long exploreSeed = 1;

  @Option(names = "--no-times", description = "Leave out the wall-clock times (stable output).")
  boolean noTimes;

  @Parameters(arity = "0..*", paramLabel = "PATH",
      description = "Corpus for --kill: scenario files or folders (default: scenarios).")
  List<Path> corpus = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    if (!kill) {
      for (Map.Entry<String, String> e : Semantics.known().entrySet()) {
        Main.out.println(e.getKey() + "  " + e.getValue());
      }
      return Main.EXIT_OK;
    }
    List<String> variants = new ArrayList<>();
    for (String name : only.isEmpty() ? Semantics.names() : only) {
      if (!Semantics.known().containsKey(name)) {
        Main.err.println("blocksim: error: unknown semantics variant '" + name + "'");
        Main.err.println("hint: 'blocksim semantics' lists them");
        return Main.EXIT_BAD_INPUT;
      }
      if (name.startsWith("bug:")) {
        variants.add(name);
      }
    }
    if (!List.of("survivors", "all", "none").contains(explore)) {
      Main.err.println("blocksim: error: --explore must be survivors, all or none, but found '"
          + explore + "'");
      return Main.EXIT_BAD_INPUT;
    }
    if (exploreRuns < 1) {
      Main.err.println("blocksim: error: --explore-runs must be at least 1, but found "
          + exploreRuns);
      return Main.EXIT_BAD_INPUT;
    }
    ExploreHook.Budget budget = new ExploreHook.Budget(exploreSeed, exploreRuns, exploreBudget,
        !noTimes);
    // The bundled corpus by default, wherever the command runs from.
    List<Path> paths = corpus.isEmpty()
        ? List.of(Main.repositoryRoot().resolve("scenarios")) : corpus;
    KillTable table = KillTable.load(paths);
    if (table.caseCount() == 0) {
      Main.err.println("blocksim: error: no scenario files (*.yaml) in " + String.join(", ",
          paths.stream().map(Path::toString).toList()));
      return Main.EXIT_BAD_INPUT;
    }
    Main.out.println("kill table: " + variants.size() + " bug: variants against "
        + table.caseCount() + " corpus cases");
    int survivors = 0;
    for (String variant : variants) {
      KillTable.Row row = table.run(variant);
      Main.out.println(format(row));
      if (explore.equals("all") || explore.equals("survivors") && !row.killed()) {
        ExploreHook.Result explored = ExploreHook.run(variant, budget);
        Main.out.println("    explore: " + explored.line());
        if (!row.killed() && !explored.killed()) {
          survivors++;
        }
      } else {
        if (!row.killed()) {
          survivors++;
        }
        Main.out.println("    explore: not run (" + (row.killed() ? "the corpus killed it; "
            + "--explore all runs it anyway" : "--explore none") + ")");
      }
    }
    Main.out.println((variants.size() - survivors) + " killed, " + survivors + " survived");
    return survivors == 0 ? Main.EXIT_OK : Main.EXIT_FAILED;
  }

  private String format(KillTable.Row row) {
    String time = noTimes ? "" : String.format(Locale.ROOT, " in %.1fs", row.millis() / 1000.0);
    if (!row.killed()) {
      return row.variant() + "\n    SURVIVED the corpus (" + row.casesRun() + " cases" + time + ")";
    }
    return row.variant() + "\n    killed by " + row.killedBy() + " after " + row.casesRun()
        + (row.casesRun() == 1 ? " case" : " cases") + time + "\n    " + row.how();
  }
}
