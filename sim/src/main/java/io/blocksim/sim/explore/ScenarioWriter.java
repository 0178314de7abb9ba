package io.blocksim.sim.explore;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.scenario.Step;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Writes a recorded run as a scenario file per the contract (scenario-format.md). Arguments are
 * written as JSON flow maps, which YAML reads as they are; a step that failed carries its error
 * as {@code error:}, so that the scenario passes up to the step where the checker fires.
 */
final class ScenarioWriter {
  private ScenarioWriter() {}

  static String write(String name, String description, long seed, Set<String> semantics,
      boolean checkers, List<ImageSpec> images, List<Step> steps) {
    StringBuilder y = new StringBuilder();
    y.append("name: ").append(Json.compact(name)).append('\n');
    y.append("description: |\n");
    for (String line : description.split("\n")) {
      y.append("  ").append(line).append('\n');
    }
    y.append("seed: ").append(seed).append('\n');
    boolean power = steps.stream().anyMatch(s -> s instanceof Step.Crash c
        && c.kind() == Step.CrashKind.POWER);
    if (power || !semantics.isEmpty()) {
      y.append("sim-only: true\n");
    }
    if (!semantics.isEmpty()) {
      y.append("semantics: ").append(Json.compact(List.copyOf(semantics))).append('\n');
    }
    if (checkers) {
      y.append("checkers: all\n");
    }
    if (!images.isEmpty()) {
      y.append("images:\n"); // None when qemu-img steps make every image.
    }
    for (ImageSpec i : images) {
      y.append("  - {path: ").append(i.path()).append(", format: ").append(i.format())
          .append(", size: ").append(i.sizeBytes());
      if (i.clusterSizeBytes() != null) {
        y.append(", cluster-size: ").append(i.clusterSizeBytes());
      }
      if (i.backing() != null) {
        y.append(", backing: ").append(i.backing()).append(", backing-format: ")
            .append(i.backingFormat());
      }
      y.append("}\n");
    }
    y.append("steps:\n");
    for (Step s : steps) {
      step(y, s);
    }
    return y.toString();
  }

  private static void step(StringBuilder y, Step s) {
    if (s instanceof Step.Qmp q) {
      y.append("  - qmp: ").append(q.command()).append('\n');
      if (q.args() != null && !q.args().isEmpty()) {
        y.append("    args: ").append(Json.compact(q.args())).append('\n');
      }
      if (q.expectedError() != null) {
        y.append("    error: ").append(Json.compact(q.expectedError())).append('\n');
      }
    } else if (s instanceof Step.Io io) {
      y.append("  - io: ").append(Json.compact(io.command())).append('\n');
      y.append("    node: ").append(io.node()).append('\n');
      if (io.expectedError() != null) {
        y.append("    error: ").append(Json.compact(io.expectedError())).append('\n');
      }
    } else if (s instanceof Step.AwaitJob a) {
      y.append("  - await: {job: ").append(a.job()).append(", status: ").append(a.status())
          .append("}\n    timeout: ").append(duration(a.timeoutNs())).append('\n');
    } else if (s instanceof Step.Advance a) {
      y.append("  - advance: ").append(duration(a.durationNs())).append('\n');
    } else if (s instanceof Step.Crash c) {
      y.append("  - crash: ").append(c.kind().name().toLowerCase(Locale.ROOT)).append('\n');
    } else if (s instanceof Step.Img i) {
      y.append("  - img: ").append(Json.compact(i.command())).append('\n');
      if (i.error() != null) {
        y.append("    error: ").append(Json.compact(i.error())).append('\n');
      }
    } else if (s instanceof Step.NbdMap m) {
      y.append("  - nbd-map: ").append(m.export()).append('\n');
      y.append("    context: ").append(Json.compact(m.context())).append('\n');
      if (m.error() != null) {
        y.append("    error: ").append(Json.compact(m.error())).append('\n');
      }
    } else {
      throw new IllegalArgumentException("explore does not write " + s);
    }
  }

  /** One line describing a step (for trace tails). */
  static String describe(Step s) {
    if (s instanceof Step.Qmp q) {
      return "qmp " + q.command() + " " + Json.compact(q.args() == null ? Json.object()
          : q.args());
    }
    if (s instanceof Step.Io io) {
      return "io '" + io.command() + "' on " + io.node();
    }
    if (s instanceof Step.AwaitJob a) {
      return "await job " + a.job() + " status " + a.status();
    }
    if (s instanceof Step.Advance a) {
      return "advance " + duration(a.durationNs());
    }
    if (s instanceof Step.Crash c) {
      return "crash: " + c.kind().name().toLowerCase(Locale.ROOT);
    }
    if (s instanceof Step.Img i) {
      return "img '" + i.command() + "'";
    }
    if (s instanceof Step.NbdMap m) {
      return "nbd-map " + m.export() + " " + m.context();
    }
    return s.toString();
  }

  static String duration(long ns) {
    if (ns % 1_000_000_000L == 0) {
      return ns / 1_000_000_000L + "s";
    }
    if (ns % 1_000_000L == 0) {
      return ns / 1_000_000L + "ms";
    }
    if (ns % 1_000L == 0) {
      return ns / 1_000L + "us";
    }
    return ns + "ns";
  }
}
