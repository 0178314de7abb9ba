package io.blocksim.sim.report;

import io.blocksim.sim.diff.Comparison;
import io.blocksim.sim.report.ReportModel.BaselineChange;
import io.blocksim.sim.report.ReportModel.CaseEntry;
import io.blocksim.sim.report.ReportModel.Difference;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code --baseline OLD.json}: marks every case whose observations changed since an earlier run
 * (bitmaps, jobs, images, responses, events or outcome, compared as {@code blocksim diff} compares
 * QEMU with the simulator), so a reviewer sees what a patch did rather than whether it still
 * matches the golden files.
 */
public final class Baseline {
  private Baseline() {}

  /** Returns the model with every case's change against the baseline file. */
  public static ReportModel apply(ReportModel model, Path oldFile) throws IOException {
    Map<String, Map<String, Object>> old = ReportInputs.readKeyed(oldFile);
    List<CaseEntry> cases = new ArrayList<>();
    for (CaseEntry c : model.cases()) {
      Map<String, Object> before = old.remove(ReportInputs.key(c));
      cases.add(c.withChange(change(before, c.observations())));
    }
    return model.withCases(cases, new ArrayList<>(old.keySet()),
        oldFile.getFileName().toString());
  }

  static BaselineChange change(Map<String, Object> before, Map<String, Object> now) {
    if (before == null) {
      return new BaselineChange(BaselineChange.Kind.NEW, List.of(), null);
    }
    List<Difference> differences = new ArrayList<>();
    for (Comparison.Difference d : Comparison.compare(before, now)) {
      differences.add(new Difference(d.category(), d.where(), ReportInputs.show(d.qemu()),
          ReportInputs.show(d.sim())));
    }
    return new BaselineChange(differences.isEmpty() ? BaselineChange.Kind.UNCHANGED
        : BaselineChange.Kind.CHANGED, differences, before);
  }
}
