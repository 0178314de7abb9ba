package io.blocksim.sim.report;

import io.blocksim.sim.runner.GoldenDifference;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.sim.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The report from the command line, without a browser: files, determinism, bad input. */
class ReportCommandTest {
  @TempDir
  Path work;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  private int cli(String... args) {
    out.reset();
    return Main.execute(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(out, true, StandardCharsets.UTF_8));
  }

  private String output() {
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void theSameRunGivesTheSameBytesAndSavedObservationsGiveTheSameReport() throws Exception {
    String scenarios = "../scenarios/backup/sync-none-cancel.yaml";
    Path json = work.resolve("run.json");
    assertThat(cli("run", "--json", json.toString(), "--report", work.resolve("a").toString(),
        scenarios)).isZero();
    assertThat(cli("run", "--report", work.resolve("b").toString(), scenarios)).isZero();
    assertThat(cli("report", "--out", work.resolve("c").toString(), json.toString())).isZero();
    assertThat(output()).contains("report: ").contains("1 passed");
    Map<String, String> a = files(work.resolve("a"));
    assertThat(a).containsKeys("index.html", "summary.md", "junit.xml", "observations.json",
        "timing.txt", "cases/backup_sync-none-cancel.html");
    assertThat(files(work.resolve("b"))).isEqualTo(a);
    Map<String, String> c = files(work.resolve("c"));
    // Only the title (the command) differs, and report writes no wall-clock time.
    assertThat(c.get("cases/backup_sync-none-cancel.html"))
        .isEqualTo(a.get("cases/backup_sync-none-cancel.html"));
    assertThat(c.get("observations.json")).isEqualTo(a.get("observations.json"));
    assertThat(c).doesNotContainKey("timing.txt");
  }

  @Test
  void aBaselineListsChangedNewAndGoneCases() throws Exception {
    Path old = work.resolve("old.json");
    assertThat(cli("run", "--json", old.toString(),
        "../scenarios/backup/sync-none-cancel.yaml")).isZero();
    assertThat(cli("run", "--report", work.resolve("r").toString(), "--baseline", old.toString(),
        "../scenarios/backup/incremental-chain.yaml")).isZero();
    assertThat(output()).contains("0 cases changed, 1 new, 1 gone");
    assertThat(Files.readString(work.resolve("r/index.html")))
        .contains("this run has not): backup/sync-none-cancel.yaml").contains("data-change=\"new\"");
  }

  @Test
  void badInputIsAnErrorWithAHintAndExitTwo() throws Exception {
    assertThat(cli("report", "--out", work.resolve("x").toString(),
        work.resolve("missing.json").toString())).isEqualTo(2);
    assertThat(output()).contains("error: no such file").contains("hint: ");
    Path notObservations = work.resolve("not.json");
    Files.writeString(notObservations, "{\"a\": 1}");
    assertThat(cli("report", "--out", work.resolve("x").toString(), notObservations.toString()))
        .isEqualTo(2);
    assertThat(output()).contains("not an observations file").contains("hint: ");
    assertThat(cli("run", "--report", work.resolve("y").toString(), "--baseline",
        work.resolve("nope.json").toString(), "../scenarios/backup/sync-none-cancel.yaml"))
        .isEqualTo(2);
    assertThat(output()).contains("no such baseline file");
    assertThat(cli("run", "--baseline", work.resolve("old.json").toString(),
        "../scenarios/backup/sync-none-cancel.yaml")).isEqualTo(2);
    assertThat(output()).contains("--baseline needs --report DIR").contains("hint: ");
  }

  @Test
  void aGoldenMismatchKeepsTheFirstDifferingLineWithContext() {
    Map<String, Object> d = GoldenDifference.of("x.out", "a\nb\nc\nd\n", "a\nb\nX\n");
    assertThat(d.get("line")).isEqualTo(3);
    assertThat(d.get("first")).isEqualTo(1);
    assertThat(d.get("expected")).asList().containsExactly("a", "b", "c", "d", "",
        "<end of file>");
    assertThat(d.get("actual")).asList().containsExactly("a", "b", "X", "", "<end of output>");
    Map<String, Object> shorter = GoldenDifference.of("x.out", "a\nb", "a");
    assertThat(shorter.get("actual")).asList().containsExactly("a", "<end of output>");
  }

  private static Map<String, String> files(Path dir) throws Exception {
    Map<String, String> out = new TreeMap<>();
    try (var walk = Files.walk(dir)) {
      for (Path p : walk.filter(Files::isRegularFile).toList()) {
        String name = dir.relativize(p).toString();
        out.put(name, name.equals("timing.txt") ? "(wall-clock time)" : Files.readString(p));
      }
    }
    return out;
  }
}
