package io.blocksim.sim.explore;

import io.blocksim.model.check.InvariantViolation;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.checker.CheckedBackend;
import io.blocksim.sim.checker.Checker;
import io.blocksim.sim.checker.CheckerFailure;
import io.blocksim.sim.loop.LimitReached;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.port.StepException;
import io.blocksim.sim.scenario.Step;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs a generated run in the simulator, in process, with every checker after every action. Unlike
 * a scenario run, a command that fails is not a failure: its error is recorded into the step (as
 * {@code error:}), and a wait that times out becomes the time it waited, so that the recorded
 * steps replay the same run under {@code blocksim run}.
 */
final class RunExecutor {
  private RunExecutor() {}

  /** How a run ended. */
  enum Verdict { PASSED, VIOLATION, LIMIT, QEMU_ABORT }

  /**
   * The outcome: the verdict, the violated checker (null unless VIOLATION), the 1-based step it
   * happened at, the steps as recorded up to there, and the trace tail.
   */
  record Result(Verdict verdict, CheckerFailure failure, int failedStep, List<Step> recorded,
      List<String> traceTail, int generatedStepsRun) {}

  static Result execute(GeneratedRun run, Set<String> semantics, Coverage coverage) {
    return execute(run, semantics, coverage, List.of("all"));
  }

  static Result execute(GeneratedRun run, Set<String> semantics, Coverage coverage,
      List<String> checkerNames) {
    SimBackend sim = new SimBackend(run.seed(), semantics);
    List<Checker> checkers = new ArrayList<>(CheckedBackend.named(checkerNames));
    if (coverage != null) {
      checkers.add(coverage.observer());
    }
    List<Step> recorded = new ArrayList<>();
    List<Object> replies = new ArrayList<>();
    Map<String, Integer> cursors = new LinkedHashMap<>();
    Step current = null;
    int[] ran = {0};
    CheckedBackend backend = null;
    try {
      backend = new CheckedBackend(sim, checkers);
      for (Backend.ImageSpec image : run.images()) {
        backend.createImage(image);
      }
      for (Step step : run.steps()) {
        current = step;
        ran[0]++;
        Step done = execute(backend, step, cursors, replies);
        if (done != null) {
          recorded.add(Steps.withIndex(done, recorded.size() + 1));
        }
      }
      current = null;
      sim.quit();
      return new Result(Verdict.PASSED, null, -1, recorded, List.of(), ran[0]);
    } catch (InvariantViolation e) {
      return failed(CheckerFailure.of(e), current, ran[0], recorded, replies, sim);
    } catch (io.blocksim.model.check.QemuAbort e) {
      // Where QEMU 7.2 itself dies on an assertion (docs/qemu-behaviour.md §22): the run ends.
      return new Result(Verdict.QEMU_ABORT, null, -1, recorded, List.of(e.getMessage()), ran[0]);
    } catch (LimitReached e) {
      return new Result(Verdict.LIMIT, null, -1, recorded, List.of(e.getMessage()), ran[0]);
    } catch (StepException e) {
      // Only image creation throws here (a step's StepException is caught per step).
      return new Result(Verdict.PASSED, null, -1, recorded, List.of(e.getMessage()), ran[0]);
    } catch (RuntimeException | StackOverflowError e) {
      // A stack overflow is the engine recursing without yielding (a job looping in one
      // event): a bug like any other internal error.
      StackTraceElement top = e.getStackTrace().length > 0 ? e.getStackTrace()[0] : null;
      return failed(new CheckerFailure("engine-assertion", "internal error: " + e
          + (top == null ? "" : " at " + top)), current, ran[0], recorded, replies, sim);
    }
  }

  private static Result failed(CheckerFailure failure, Step current, int ran,
      List<Step> recorded, List<Object> replies, SimBackend sim) {
    int at;
    if (current != null) {
      // The failing step is recorded as run (its outcome unknown): the replay fails there too.
      recorded.add(Steps.withIndex(current, recorded.size() + 1));
      at = recorded.size();
    } else {
      at = recorded.size() + 1; // At the final quit.
    }
    List<String> tail = new ArrayList<>();
    int from = Math.max(0, recorded.size() - 8);
    for (int i = from; i < recorded.size(); i++) {
      tail.add("step " + (i + 1) + ": " + ScenarioWriter.describe(recorded.get(i))
          + (i < replies.size() && replies.get(i) != null ? "  → " + replies.get(i) : ""));
    }
    List<QmpEvent> events = sim.events();
    for (int i = Math.max(0, events.size() - 4); i < events.size(); i++) {
      tail.add("event: " + Json.compact(Json.object("event", events.get(i).event(), "data",
          events.get(i).data())));
    }
    return new Result(Verdict.VIOLATION, failure, at, recorded, tail, ran);
  }

  /** Runs one step; returns it as recorded (null to leave it out). */
  private static Step execute(CheckedBackend backend, Step step, Map<String, Integer> cursors,
      List<Object> replies) {
    if (step instanceof Step.Qmp q) {
      Map<String, Object> args = q.args() == null ? new LinkedHashMap<>() : q.args();
      Map<String, Object> reply;
      try {
        reply = backend.qmp(q.command(), args);
      } catch (StepException e) {
        return null;
      }
      String error = reply.get("error") instanceof Map<?, ?> m ? String.valueOf(m.get("desc"))
          : null;
      replies.add(error == null ? "ok" : "error: " + error);
      return new Step.Qmp(q.index(), q.location(), q.comment(), q.command(), q.args(), error);
    }
    if (step instanceof Step.Io io) {
      Backend.IoOutcome outcome;
      try {
        outcome = backend.io(io.node(), io.command());
      } catch (StepException e) {
        return null; // Refused before it did anything (no such node): left out.
      }
      replies.add(outcome.error() == null ? "ok" : "error: " + outcome.error());
      return new Step.Io(io.index(), io.location(), io.comment(), io.command(), io.node(),
          outcome.error());
    }
    if (step instanceof Step.AwaitJob a) {
      int from = cursors.getOrDefault(a.job(), 0);
      int[] found = {-1};
      boolean held;
      try {
        held = backend.runUntil(() -> {
          found[0] = findJobStatus(backend.events(), a.job(), a.status(), from);
          return found[0] >= 0;
        }, a.timeoutNs());
      } catch (StepException e) {
        return null;
      }
      replies.add(held ? "ok" : "timed out");
      if (!held) {
        return new Step.Advance(a.index(), a.location(), a.comment(), a.timeoutNs());
      }
      cursors.put(a.job(), found[0] + 1);
      return a;
    }
    if (step instanceof Step.Img i) {
      Backend.ImgOutcome outcome;
      try {
        outcome = backend.img(i.command());
      } catch (StepException e) {
        return null;
      }
      String error = outcome.exitCode() == 0 ? null : imgError(outcome.lines());
      replies.add(error == null ? "ok" : "exit " + outcome.exitCode() + ": " + error);
      return new Step.Img(i.index(), i.location(), i.comment(), i.command(), error);
    }
    if (step instanceof Step.NbdMap m) {
      Backend.MapOutcome outcome;
      try {
        outcome = backend.nbdMap(m.export(), m.context());
      } catch (StepException e) {
        return null;
      }
      replies.add(outcome.error() == null ? "ok" : "error: " + outcome.error());
      return new Step.NbdMap(m.index(), m.location(), m.comment(), m.export(), m.context(),
          outcome.error());
    }
    try {
      if (step instanceof Step.Advance a) {
        backend.advance(a.durationNs());
      } else if (step instanceof Step.Crash c) {
        if (c.kind() == Step.CrashKind.POWER) {
          backend.crashPower();
        } else {
          backend.crashProcess();
        }
      } else {
        throw new IllegalArgumentException("explore does not run " + step);
      }
    } catch (StepException e) {
      return null;
    }
    replies.add(null);
    return step;
  }

  /**
   * What a failed qemu-img run is recorded with (an img step's error is text its output
   * contains): its error message, else the line that says what check found, else its last line.
   */
  static String imgError(List<String> lines) {
    String last = "";
    for (String line : lines) {
      if (line.startsWith("qemu-img: ") || line.contains("leaked clusters were found")
          || line.contains("errors were found")) {
        return line;
      }
      if (!line.isBlank()) {
        last = line;
      }
    }
    return last;
  }

  /** As the scenario runner's await: the first matching status change from the cursor on. */
  private static int findJobStatus(List<QmpEvent> events, String job, String status, int from) {
    for (int i = from; i < events.size(); i++) {
      QmpEvent e = events.get(i);
      if (e.event().equals("JOB_STATUS_CHANGE") && job.equals(e.data().get("id"))
          && status.equals(e.data().get("status"))) {
        return i;
      }
    }
    return -1;
  }
}
