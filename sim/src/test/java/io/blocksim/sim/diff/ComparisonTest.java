package io.blocksim.sim.diff;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How two observation objects are compared, and how known divergences are looked up. */
class ComparisonTest {
  private static Map<String, Object> result(List<Object> bitmaps, List<Object> events,
      List<Object> responses) {
    return Json.object("passed", true, "failure", null,
        "observations", Json.array(Json.object("label", "end", "bitmaps", bitmaps,
            "jobs", List.of(), "images", List.of())),
        "responses", responses, "events", events);
  }

  private static Map<String, Object> bitmap(long count) {
    return Json.object("node", "drive0", "name", "b0", "count", count);
  }

  private static Map<String, Object> event(String name, String status) {
    return Json.object("event", name, "data", Json.object("id", "j", "status", status));
  }

  private static Map<String, Object> withImg(int exit, String... output) {
    Map<String, Object> r = result(List.of(), List.of(), List.of());
    r.put("img", List.of(Json.object("step", 3, "exit", exit, "output", List.of(output))));
    return r;
  }

  @Test
  void imgStepsCompareExitCodeAndOutputButNotTheHostAllocation() {
    Map<String, Object> qemu = withImg(0, "image: a.qcow2", "disk size: 1.41 MiB",
        "    \"actual-size\": 1462272,", "Image end offset: 655360");
    Map<String, Object> sameButSizes = withImg(0, "image: a.qcow2", "disk size: 1.46 MiB",
        "    \"actual-size\": 1458176,", "Image end offset: 655360");
    assertThat(Comparison.compare(qemu, sameButSizes)).isEmpty();

    Map<String, Object> otherExit = withImg(3, "image: a.qcow2", "disk size: 1.41 MiB",
        "    \"actual-size\": 1462272,", "Image end offset: 655360");
    Map<String, Object> otherLine = withImg(0, "image: a.qcow2", "disk size: 1.41 MiB",
        "    \"actual-size\": 1462272,", "Image end offset: 720896");
    assertThat(Comparison.compare(qemu, otherExit, Map.of(3, 40)))
        .extracting(Comparison.Difference::category, Comparison.Difference::where)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("img",
            "img step 1 (step 3, line 40)"));
    assertThat(Comparison.compare(qemu, otherLine))
        .extracting(Comparison.Difference::category).containsExactly("img");
  }

  @Test
  void failedIoStepsCompareTheirErrorTextWhenBothSidesRecordedThem() {
    Map<String, Object> qemu = result(List.of(), List.of(), List.of());
    qemu.put("io", List.of(Json.object("step", 7, "error", "read failed: Invalid argument")));
    Map<String, Object> sim = result(List.of(), List.of(), List.of());
    sim.put("io", List.of(Json.object("step", 7, "error", "read failed: Permission denied")));
    Map<String, Object> old = result(List.of(), List.of(), List.of());

    assertThat(Comparison.compare(qemu, sim, Map.of(7, 30)))
        .extracting(Comparison.Difference::category, Comparison.Difference::where)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("io", "io step 1 (step 7, line 30)"));
    assertThat(Comparison.compare(qemu, qemu)).isEmpty();
    assertThat(Comparison.compare(old, sim)).as("a recording from before the field").isEmpty();
  }

  @Test
  void identicalResultsHaveNoDifference() {
    Map<String, Object> a = result(List.of(bitmap(65536)), List.of(event("X", "running")),
        List.of());
    Map<String, Object> b = result(List.of(bitmap(65536L)), List.of(event("X", "running")),
        List.of());
    assertThat(Comparison.compare(a, b)).isEmpty();
  }

  @Test
  void aDifferentCountIsReportedWithBothValuesAndTheLabel() {
    List<Comparison.Difference> d = Comparison.compare(
        result(List.of(bitmap(65536)), List.of(), List.of()),
        result(List.of(bitmap(131072)), List.of(), List.of()));
    assertThat(d).extracting(Comparison.Difference::category).containsExactly("bitmaps");
    assertThat(d.get(0).render()).contains("observation 'end' entry 1")
        .contains("65536").contains("131072");
  }

  @Test
  void pendingAndReadyEventsAreOptionalButStatusChangesAreNot() {
    Map<String, Object> qemu = result(List.of(), List.of(event("BLOCK_JOB_PENDING", "x"),
        event("JOB_STATUS_CHANGE", "pending")), List.of());
    Map<String, Object> sim = result(List.of(), List.of(event("JOB_STATUS_CHANGE", "pending")),
        List.of());
    assertThat(Comparison.compare(qemu, sim)).isEmpty();
    Map<String, Object> missing = result(List.of(), List.of(), List.of());
    assertThat(Comparison.compare(qemu, missing)).extracting(Comparison.Difference::category)
        .containsExactly("events");
  }

  @Test
  void generatedNodeNamesCompareEqualButUserNamesDoNot() {
    assertThat(Comparison.equal("#block146", "#block300")).isTrue();
    assertThat(Comparison.equal("drive0", "drive1")).isFalse();
    assertThat(Comparison.equal("#block1", "drive1")).isFalse();
    assertThat(Comparison.equal("unshared by node '#block286' (uses node 'top')",
        "unshared by node '#block300' (uses node 'top')")).isTrue();
    assertThat(Comparison.equal("unshared by node '#block286' (uses node 'top')",
        "unshared by node '#block300' (uses node 'tgt')")).isFalse();
  }

  @Test
  void knownDivergencesMatchByCaseAndByPathSuffix(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("known.txt");
    Files.writeString(file, "# comment\n"
        + "scenarios/a.yaml [x=1] -- only one case\n"
        + "scenarios/b.yaml -- every case\n");
    KnownDivergences known = KnownDivergences.load(file);
    assertThat(known.reason("scenarios/a.yaml", "x=1")).isEqualTo("only one case");
    assertThat(known.reason("../scenarios/a.yaml", "x=1")).isEqualTo("only one case");
    assertThat(known.reason("scenarios/a.yaml", "x=2")).isNull();
    assertThat(known.reason("scenarios/b.yaml", "anything")).isEqualTo("every case");
    assertThat(known.reason("other/scenarios/c.yaml", "")).isNull();
  }

  @Test
  void aDifferingResponseNamesItsStepLineAndTheJsonPathOfTheValue() {
    java.util.Map<String, Object> qemu = Comparison.object("passed", true, "failure", null,
        "responses", java.util.List.of(Comparison.object("step", 1L, "return", Comparison.object()),
            Comparison.object("step", 3L, "return", java.util.List.of(Comparison.object(
                "id", "j1", "status", "running", "offset", 65536L)))));
    java.util.Map<String, Object> sim = Comparison.object("passed", true, "failure", null,
        "responses", java.util.List.of(Comparison.object("step", 1L, "return", Comparison.object()),
            Comparison.object("step", 3L, "return", java.util.List.of(Comparison.object(
                "id", "j1", "status", "paused", "offset", 65536L)))));

    java.util.List<Comparison.Difference> d = Comparison.compare(qemu, sim, java.util.Map.of(3, 17));

    assertThat(d).hasSize(1);
    assertThat(d.get(0).render()).isEqualTo(
        "responses differ at response 2 (step 3, line 17), $.return[0].status:\n"
            + "    qemu: running\n    sim:  paused");
  }
}
