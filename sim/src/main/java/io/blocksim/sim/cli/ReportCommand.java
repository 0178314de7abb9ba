package io.blocksim.sim.cli;

import io.blocksim.sim.report.ReportInputs;
import io.blocksim.sim.report.ReportModel.CaseEntry;
import io.blocksim.sim.report.Reports;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code blocksim report --out DIR FILE.json...}: the HTML report from saved observations. */
@Command(name = "report", mixinStandardHelpOptions = true,
    description = "Write the HTML report of saved observations (blocksim run --json FILE).")
final class ReportCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "FILE.json",
      description = "Observations files (blocksim run --json, or a report's observations.json).")
  List<Path> files;

  @Option(names = "--out", required = true, paramLabel = "DIR",
      description = "The report folder (index.html, cases/, summary.md, junit.xml).")
  Path dir;

  @Option(names = "--baseline", paramLabel = "OLD.json",
      description = "Mark every case whose observations changed since this earlier run.")
  Path baseline;

  @Override
  public Integer call() throws Exception {
    for (Path file : files) {
      if (!Files.isRegularFile(file)) {
        Main.err.println(file + ": error: no such file");
        Main.err.println("hint: write one with 'blocksim run --json FILE PATH...'");
        return Main.EXIT_BAD_INPUT;
      }
    }
    List<CaseEntry> cases;
    try {
      cases = ReportInputs.fromJson(files);
    } catch (IOException e) {
      Main.err.println("error: " + e.getMessage());
      Main.err.println("hint: pass the file 'blocksim run --json FILE' writes");
      return Main.EXIT_BAD_INPUT;
    }
    List<String> names = new ArrayList<>();
    files.forEach(f -> names.add(f.getFileName().toString()));
    return Reports.write("blocksim report " + String.join(" ", names), cases, List.of(),
        baseline, dir, null, Main.out, Main.err);
  }
}
