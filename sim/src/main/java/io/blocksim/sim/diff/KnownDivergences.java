package io.blocksim.sim.diff;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The documented list of cases where the simulator knowingly differs from QEMU 7.2, or where
 * QEMU itself crashes: {@code scenarios/known-divergences.txt}, one entry a line,
 * {@code PATH[ [CASE]] -- reason}; {@code #} starts a comment. An entry without a case covers
 * every case of the file.
 */
public final class KnownDivergences {
  private final Map<String, String> reasons = new LinkedHashMap<>();

  public static KnownDivergences load(Path file) throws IOException {
    KnownDivergences known = new KnownDivergences();
    if (!Files.isRegularFile(file)) {
      return known;
    }
    for (String raw : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      String line = raw.strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int sep = line.indexOf(" -- ");
      if (sep < 0) {
        throw new IOException(file + ": line without ' -- reason': " + line);
      }
      known.reasons.put(line.substring(0, sep).strip(), line.substring(sep + 4).strip());
    }
    return known;
  }

  /**
   * Returns the reason a case is known to diverge, or null. Entries name scenarios from the
   * project root ({@code scenarios/...}); a run from elsewhere ({@code ../scenarios/...}, an
   * absolute path) matches by that suffix.
   */
  public String reason(String scenarioPath, String caseName) {
    String withCase = caseName.isEmpty() ? null : " [" + caseName + "]";
    for (Map.Entry<String, String> e : reasons.entrySet()) {
      String key = e.getKey();
      if (withCase != null && key.endsWith(withCase)
          && samePath(scenarioPath, key.substring(0, key.length() - withCase.length()))) {
        return e.getValue();
      }
    }
    for (Map.Entry<String, String> e : reasons.entrySet()) {
      if (samePath(scenarioPath, e.getKey())) {
        return e.getValue();
      }
    }
    return null;
  }

  private static boolean samePath(String scenarioPath, String entryPath) {
    return scenarioPath.equals(entryPath) || scenarioPath.endsWith("/" + entryPath);
  }
}
