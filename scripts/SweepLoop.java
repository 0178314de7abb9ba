import io.blocksim.sim.runner.ScenarioFiles;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.sweep.CrashSweep;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;

/**
 * The crash sweep of one persistence scenario, repeated for a number of seconds, for a profiler
 * (scripts/profile-sweep.sh runs it under JFR). Usage, from the repository root after a build:
 * java -cp CLASSPATH scripts/SweepLoop.java SCENARIO.yaml [SECONDS]. Prints points/s wall and CPU.
 */
public final class SweepLoop {
  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[0]);
    double seconds = args.length > 1 ? Double.parseDouble(args[1]) : 10;
    List<Scenario> scenarios = ScenarioFiles.load(List.of(file)).scenarios();
    var threads = ManagementFactory.getThreadMXBean();
    for (int round = 0; round < 2; round++) { // warm-up, then measured
      long points = 0;
      long cpuStart = threads.getCurrentThreadCpuTime();
      long start = System.nanoTime(); // determinism-ok: profiling harness
      long end = start + (long) (seconds * 1e9 / (round == 0 ? 4 : 1));
      while (System.nanoTime() < end) { // determinism-ok: profiling harness
        for (Scenario s : scenarios) {
          for (Scenario.Case c : s.cases()) {
            points += CrashSweep.sweep(s, c, s.seed(), new TreeSet<>(s.semantics()), 1).points()
                .size();
          }
        }
      }
      double wall = (System.nanoTime() - start) / 1e9; // determinism-ok: profiling harness
      double cpu = (threads.getCurrentThreadCpuTime() - cpuStart) / 1e9;
      System.out.printf("%s %s: %d points, %.0f/s wall, %.0f/s CPU%n", file,
          round == 0 ? "warm-up" : "measured", points, points / wall, points / cpu);
    }
  }
}
