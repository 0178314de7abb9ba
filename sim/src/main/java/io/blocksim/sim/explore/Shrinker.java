package io.blocksim.sim.explore;

import io.blocksim.sim.guest.QemuIoCommand;
import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.scenario.Step;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Minimises a failing run to a small run that fails the same way (the same checker for explore,
 * the same kind of divergence from QEMU for fuzz): steps after the failure
 * cut, then steps dropped (halves, quarters, ... single steps), then what remains made smaller
 * (io offsets and lengths, optional QMP arguments, granularities, waits, transaction actions,
 * blkdebug wrappers), then images made smaller and unused ones dropped, until nothing changes or
 * the budget of runs is spent. Each candidate is a fresh deterministic run.
 */
final class Shrinker {
  /** QMP arguments a failure rarely needs: each is tried without. */
  private static final List<String> OPTIONAL = List.of("speed", "granularity", "auto-finalize",
      "auto-dismiss", "copy-mode", "on-source-error", "on-target-error", "on-error",
      "base-node", "top-node", "persistent", "disabled", "properties", "force", "bitmap-mode",
      "x-perf", "writable", "bitmaps", "bitmap", "on-cbw-error", "format");

  /**
   * What a smaller run must still do: returns how many of its steps it takes to do it (the rest
   * is cut), or null when it no longer does.
   */
  interface Oracle {
    Integer failingPrefix(GeneratedRun run);
  }

  private final Oracle oracle;
  private final int budget;
  private int executions;

  /** Shrinks a run that violates the checker under the semantics. */
  Shrinker(Set<String> semantics, String checker, int budget) {
    this(run -> {
      RunExecutor.Result r = RunExecutor.execute(run, semantics, null);
      return r.verdict() == RunExecutor.Verdict.VIOLATION
          && r.failure().checker().equals(checker) ? r.generatedStepsRun() : null;
    }, budget);
  }

  /** Shrinks a run the oracle accepts (fuzz: a run that still diverges from QEMU). */
  Shrinker(Oracle oracle, int budget) {
    this.oracle = oracle;
    this.budget = budget;
  }

  int executions() {
    return executions;
  }

  GeneratedRun shrink(GeneratedRun run) {
    GeneratedRun best = run;
    Integer cut = failingPrefix(best);
    if (cut == null) {
      return run; // Not reproducible as such: leave it alone.
    }
    best = best.withSteps(best.steps().subList(0, cut));
    boolean progress = true;
    while (progress && executions < budget) {
      progress = false;
      GeneratedRun next = dropSteps(best);
      next = simplifySteps(next);
      next = shrinkImages(next);
      if (size(next) < size(best)) {
        best = next;
        progress = true;
      }
    }
    return best.withSteps(RunGenerator.renumber(best.steps()));
  }

  private static long size(GeneratedRun run) {
    long size = run.steps().size() * 1_000_000_000L;
    for (ImageSpec image : run.images()) {
      size += image.sizeBytes() / 512 + 1;
    }
    for (Step s : run.steps()) {
      size += ScenarioWriter.describe(s).length();
    }
    return size;
  }

  /** Returns how many steps the run takes to fail as the oracle asks, or null if it does not. */
  private Integer failingPrefix(GeneratedRun run) {
    if (executions >= budget) {
      return null;
    }
    executions++;
    return oracle.failingPrefix(run);
  }

  private GeneratedRun accept(GeneratedRun candidate) {
    Integer cut = failingPrefix(candidate);
    if (cut == null) {
      return null;
    }
    return candidate.withSteps(candidate.steps().subList(0, Math.min(cut,
        candidate.steps().size())));
  }

  private GeneratedRun dropSteps(GeneratedRun run) {
    GeneratedRun best = run;
    for (int chunk = Math.max(1, best.steps().size() / 2); chunk >= 1; chunk /= 2) {
      for (int from = best.steps().size() - chunk; from >= 0 && executions < budget;
          from -= chunk) {
        List<Step> steps = new ArrayList<>(best.steps());
        steps.subList(from, Math.min(steps.size(), from + chunk)).clear();
        GeneratedRun accepted = accept(best.withSteps(steps));
        if (accepted != null) {
          best = accepted;
          from = Math.min(from, best.steps().size());
        }
      }
    }
    return best;
  }

  private GeneratedRun simplifySteps(GeneratedRun run) {
    GeneratedRun best = run;
    for (int i = 0; i < best.steps().size() && executions < budget; i++) {
      for (Step smaller : smaller(best.steps().get(i))) {
        if (i >= best.steps().size()) {
          break;
        }
        List<Step> steps = new ArrayList<>(best.steps());
        steps.set(i, smaller);
        GeneratedRun accepted = accept(best.withSteps(steps));
        if (accepted != null) {
          best = accepted;
          break;
        }
      }
    }
    return best;
  }

  /** Smaller variants of one step, most promising first. */
  static List<Step> smaller(Step s) {
    List<Step> out = new ArrayList<>();
    if (s instanceof Step.Io io) {
      QemuIoCommand c;
      try {
        c = QemuIoCommand.parse(io.command());
      } catch (IllegalArgumentException e) {
        return out;
      }
      if (c.kind() == QemuIoCommand.Kind.FLUSH) {
        return out;
      }
      String head = io.command().substring(0, io.command().lastIndexOf(' ',
          io.command().lastIndexOf(' ') - 1) + 1);
      long len = c.length();
      long off = c.offset();
      if (off > 0) {
        out.add(ioWith(io, head + 0 + " " + len));
        out.add(ioWith(io, head + (off / 2 / 512 * 512) + " " + len));
      }
      if (len > 512) {
        out.add(ioWith(io, head + off + " " + Math.max(512, len / 2 / 512 * 512)));
        out.add(ioWith(io, head + off + " " + 512));
      }
    } else if (s instanceof Step.Qmp q && q.args() != null) {
      for (String key : OPTIONAL) {
        if (q.args().containsKey(key)) {
          Map<String, Object> args = new LinkedHashMap<>(q.args());
          args.remove(key);
          out.add(qmpWith(q, args));
        }
      }
      if (q.args().get("granularity") instanceof Long g && g > 512) {
        Map<String, Object> args = new LinkedHashMap<>(q.args());
        args.put("granularity", g / 2);
        out.add(qmpWith(q, args));
      }
      if (q.args().get("actions") instanceof List<?> actions && actions.size() > 1) {
        for (int i = 0; i < actions.size(); i++) {
          List<Object> fewer = new ArrayList<>(actions);
          fewer.remove(i);
          Map<String, Object> args = new LinkedHashMap<>(q.args());
          args.put("actions", fewer);
          out.add(qmpWith(q, args));
        }
      }
      if (q.args().get("file") instanceof Map<?, ?> file && "blkdebug".equals(file.get("driver"))
          && file.get("image") != null) {
        Map<String, Object> args = new LinkedHashMap<>(q.args());
        args.put("file", file.get("image"));
        out.add(qmpWith(q, args));
      }
    } else if (s instanceof Step.Advance a && a.durationNs() > 1_000) {
      out.add(new Step.Advance(a.index(), a.location(), a.comment(), a.durationNs() / 2));
    } else if (s instanceof Step.AwaitJob a && a.timeoutNs() > 1_000_000) {
      out.add(new Step.AwaitJob(a.index(), a.location(), a.comment(), a.job(), a.status(),
          a.timeoutNs() / 2));
    }
    return out;
  }

  private static Step ioWith(Step.Io io, String command) {
    return new Step.Io(io.index(), io.location(), io.comment(), command, io.node(), null);
  }

  private static Step qmpWith(Step.Qmp q, Map<String, Object> args) {
    return new Step.Qmp(q.index(), q.location(), q.comment(), q.command(), args, null);
  }

  private GeneratedRun shrinkImages(GeneratedRun run) {
    GeneratedRun best = run;
    // Unused images first: a file no step names and no image has as its backing.
    for (ImageSpec image : List.copyOf(best.images())) {
      if (!mentioned(best, image.path()) && executions < budget) {
        List<ImageSpec> images = new ArrayList<>(best.images());
        images.remove(image);
        GeneratedRun accepted = accept(best.withImages(images));
        if (accepted != null) {
          best = accepted;
        }
      }
    }
    // All sizes halved together (a target must match its source), then one by one.
    for (int round = 0; round < 12 && executions < budget; round++) {
      List<ImageSpec> images = new ArrayList<>();
      boolean changed = false;
      for (ImageSpec i : best.images()) {
        long smaller = Math.max(512, i.sizeBytes() / 2 / 512 * 512);
        changed |= smaller != i.sizeBytes();
        images.add(resized(i, smaller, i.clusterSizeBytes()));
      }
      GeneratedRun accepted = changed ? accept(best.withImages(images)) : null;
      if (accepted == null) {
        break;
      }
      best = accepted;
    }
    for (int i = 0; i < best.images().size() && executions < budget; i++) {
      ImageSpec image = best.images().get(i);
      if (image.clusterSizeBytes() != null) {
        List<ImageSpec> images = new ArrayList<>(best.images());
        images.set(i, resized(image, image.sizeBytes(), null));
        GeneratedRun accepted = accept(best.withImages(images));
        if (accepted != null) {
          best = accepted;
        }
      }
    }
    return best;
  }

  private static boolean mentioned(GeneratedRun run, String path) {
    for (ImageSpec i : run.images()) {
      if (path.equals(i.backing())) {
        return true;
      }
    }
    for (Step s : run.steps()) {
      if (ScenarioWriter.describe(s).contains("\"" + path + "\"")) {
        return true;
      }
    }
    return false;
  }

  private static ImageSpec resized(ImageSpec i, long size, Long clusterSize) {
    return new ImageSpec(i.path(), i.format(), size, i.backing(), i.backingFormat(), clusterSize,
        i.options());
  }
}
