package io.blocksim.sim.explore;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.blocksim.model.qapi.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code blocksim explore-merge}: adds up the JSON summaries of a sharded campaign ({@code explore
 * --shard i/n --json FILE} on each machine) into one: runs, passes, violations, coverage.
 * Exits 3 when any shard found a violation.
 */
@Command(name = "explore-merge", mixinStandardHelpOptions = true, description = "Merge the --json summaries of explore shards.")
public final class ExploreMergeCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "FILE", description = "Shard summaries (JSON).")
  List<Path> files;

  @Option(names = "--json", paramLabel = "FILE", description = "Write the merged summary.")
  Path json;

  @Override
  @SuppressWarnings("unchecked")
  public Integer call() throws Exception {
    ObjectMapper mapper = new ObjectMapper();
    long runs = 0;
    long passed = 0;
    long limits = 0;
    long steps = 0;
    double seconds = 0;
    List<Object> failures = new ArrayList<>();
    List<Object> shards = new ArrayList<>();
    Coverage coverage = new Coverage();
    for (Path file : files) {
      Map<String, Object> m;
      try {
        m = mapper.readValue(Files.readString(file, StandardCharsets.UTF_8), Map.class);
      } catch (Exception e) {
        ExploreCommand.err.println(file + ":1:1: error: not an explore summary: "
            + e.getMessage().lines().findFirst().orElse(""));
        ExploreCommand.err.println("hint: write one with 'blocksim explore --json FILE'");
        return ExitCodes.BAD_INPUT;
      }
      runs += ((Number) m.getOrDefault("runs", 0)).longValue();
      passed += ((Number) m.getOrDefault("passed", 0)).longValue();
      limits += ((Number) m.getOrDefault("limits", 0)).longValue();
      steps += ((Number) m.getOrDefault("steps", 0)).longValue();
      seconds = Math.max(seconds, ((Number) m.getOrDefault("seconds", 0)).doubleValue());
      failures.addAll((List<Object>) m.getOrDefault("failures", List.of()));
      shards.add(m.get("seed") + " " + m.get("shard"));
      coverage.mergeFrom(Coverage.fromJson((Map<String, Object>) m.getOrDefault("coverage",
          Map.of())));
    }
    ExploreCommand.out.println("explore-merge: " + files.size() + " shards, " + runs + " runs, "
        + passed + " passed, " + limits + " at a simulation limit, " + failures.size()
        + " violations");
    coverage.print(ExploreCommand.out);
    for (Object f : failures) {
      ExploreCommand.out.println("violation: " + Json.compact(f));
    }
    if (json != null) {
      Map<String, Object> merged = new LinkedHashMap<>();
      merged.put("shards", shards);
      merged.put("runs", runs);
      merged.put("passed", passed);
      merged.put("limits", limits);
      merged.put("steps", steps);
      merged.put("seconds", seconds);
      merged.put("failures", failures);
      merged.put("coverage", coverage.toJson());
      io.blocksim.sim.files.OutputFiles.write(json, Json.pretty(merged) + "\n");
    }
    return failures.isEmpty() ? ExitCodes.OK : ExitCodes.INVARIANT;
  }
}
