package io.blocksim.sim.runner;

import java.util.Map;

/**
 * The outcome of one case: its log, its observations object (the contract's JSON), and how it
 * ended.
 *
 * @param kind PASSED, FAILED (a step or the golden differed), INVARIANT (a bug: an engine check
 *     failed), LIMIT (the simulation hit a hard limit), NOT_RUN (e.g. QEMU missing)
 */
public record CaseResult(String scenarioPath, String caseName, Kind kind, String failure,
    String log, Map<String, Object> observations, String goldenDiff) {

  public enum Kind { PASSED, FAILED, INVARIANT, LIMIT, NOT_RUN }

  public boolean passed() {
    return kind == Kind.PASSED;
  }

  /** Returns "path" or "path [case]" for summaries. */
  public String displayName() {
    return caseName.isEmpty() ? scenarioPath : scenarioPath + " [" + caseName + "]";
  }
}
