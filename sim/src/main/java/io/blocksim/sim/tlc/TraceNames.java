package io.blocksim.sim.tlc;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Names the trace modules of {@code --trace-tla} by scenario and case, so a reader finds the
 * trace of a case by its name ({@code Trace_error_policies_policy_ignore_sync_full.tla}) rather
 * than by the order cases ran in. A TLA+ module name is its file name and an identifier: every
 * other character becomes {@code _}, and a name a run has used already gets {@code _2}, {@code
 * _3}, ...
 */
final class TraceNames {
  private static final Set<String> USED = ConcurrentHashMap.newKeySet();

  private TraceNames() {}

  /** Returns the module name for a case shown as {@code path} or {@code path [case]}. */
  static String module(String prefix, String displayName) {
    String path = displayName;
    String caseName = "";
    int bracket = displayName.indexOf(" [");
    if (bracket >= 0 && displayName.endsWith("]")) {
      path = displayName.substring(0, bracket);
      caseName = displayName.substring(bracket + 2, displayName.length() - 1);
    }
    String stem = path.substring(path.lastIndexOf('/') + 1).replaceFirst("\\.yaml$", "");
    String base = prefix + "_" + identifier(caseName.isEmpty() ? stem : stem + "_" + caseName);
    String name = base;
    for (int n = 2; !USED.add(name); n++) {
      name = base + "_" + n;
    }
    return name;
  }

  private static String identifier(String text) {
    StringBuilder out = new StringBuilder();
    for (char c : text.toCharArray()) {
      out.append(c < 128 && (Character.isLetterOrDigit(c) || c == '_') ? c : '_');
    }
    return out.toString();
  }
}
