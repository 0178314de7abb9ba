package io.blocksim.sim.runner;

import io.blocksim.sim.port.StepException;
import io.blocksim.sim.port.Backend;
import io.blocksim.model.check.InvariantViolation;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.loop.LimitReached;
import io.blocksim.sim.scenario.Scenario;
import io.blocksim.sim.scenario.Step;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Carries out one case's steps on a {@link Backend} and records the log and the observations
 * exactly as the contract defines them. The same code drives the simulator and real QEMU, so both
 * observe through the same QMP queries.
 */
public final class CaseRunner {
  private final Scenario scenario;
  private final Scenario.Case scenarioCase;
  private final Backend backend;
  private final StringBuilder log = new StringBuilder();
  private final List<Object> observations = new ArrayList<>();
  private final List<Object> responses = new ArrayList<>();
  private final List<Object> maps = new ArrayList<>();
  /** One entry per img step: its exit code and output, for the comparison with QEMU. */
  private final List<Object> imgs = new ArrayList<>();
  /** The io steps that failed, with qemu-io's error text (compared by diff, as img steps are). */
  private final List<Object> ioErrors = new ArrayList<>();
  private boolean ranIo;
  private final Map<String, Integer> jobCursors = new LinkedHashMap<>();
  private final Map<String, Integer> eventCursors = new LinkedHashMap<>();
  private int eventsLogged;
  private final StepTimeline timeline;

  public CaseRunner(Scenario scenario, Scenario.Case scenarioCase, Backend backend) {
    this.scenario = scenario;
    this.scenarioCase = scenarioCase;
    this.backend = backend;
    this.timeline = new StepTimeline(backend);
  }

  /** A step that did not do what the scenario said. */
  static final class StepFailure extends Exception {
    StepFailure(String message) {
      super(message);
    }
  }

  /** Runs every step; never throws for a failing scenario, only records it. */
  public CaseResult run() {
    CaseResult.Kind kind = CaseResult.Kind.PASSED;
    String failure = null;
    Step current = null;
    try {
      for (Backend.ImageSpec image : scenarioCase.images()) {
        backend.createImage(image);
      }
      for (Step step : scenarioCase.steps()) {
        current = step;
        timeline.begin(step, log.length(), backend.events().size());
        execute(step);
        logNewEvents();
        timeline.end(log, backend.events().size());
      }
    } catch (StepFailure e) {
      logNewEvents();
      kind = CaseResult.Kind.FAILED;
      failure = where(current) + ": " + e.getMessage();
    } catch (StepException e) {
      logNewEvents();
      kind = CaseResult.Kind.FAILED;
      failure = (current == null ? "images" : where(current)) + ": " + e.getMessage();
    } catch (InvariantViolation e) {
      kind = CaseResult.Kind.INVARIANT;
      failure = (current == null ? "images" : where(current)) + ": invariant violated: "
          + e.getMessage();
    } catch (LimitReached e) {
      kind = CaseResult.Kind.LIMIT;
      failure = (current == null ? "images" : where(current)) + ": " + e.getMessage();
    } catch (io.blocksim.model.check.QemuAbort e) {
      // The state where QEMU 7.2 itself aborts (docs/qemu-behaviour.md §22): the case fails
      // there, as the real daemon dies there.
      logNewEvents();
      kind = CaseResult.Kind.FAILED;
      failure = (current == null ? "images" : where(current)) + ": " + e.getMessage();
    } catch (RuntimeException | StackOverflowError e) {
      // Anything else thrown by the engine is a bug in blocksim: report it like a violated
      // invariant, with where it happened (a stack overflow: a job looping without yielding).
      kind = CaseResult.Kind.INVARIANT;
      StackTraceElement top = e.getStackTrace().length > 0 ? e.getStackTrace()[0] : null;
      failure = (current == null ? "images" : where(current)) + ": internal error: " + e
          + (top == null ? "" : " at " + top);
    }
    if (failure != null) {
      log.append("FAILED: ").append(failure).append('\n');
    }
    timeline.end(log, backend.events().size()); // the failed step, if one is still open
    Map<String, Object> result = new LinkedHashMap<>();
    result.put("scenario", scenario.path());
    result.put("case", scenarioCase.name());
    result.put("passed", kind == CaseResult.Kind.PASSED);
    result.put("failure", failure);
    result.put("observations", observations);
    result.put("responses", responses);
    if (!maps.isEmpty()) {
      result.put("maps", maps);
    }
    if (!imgs.isEmpty()) {
      result.put("img", imgs);
    }
    if (ranIo) {
      result.put("io", ioErrors);
    }
    List<Object> events = new ArrayList<>();
    for (QmpEvent event : backend.events()) {
      events.add(Json.object("event", event.event(), "data", event.data()));
    }
    result.put("events", events);
    Map<String, Object> steps = timeline.toJson(backend.events());
    if (steps != null) {
      result.put("timeline", steps); // for the HTML report; absent on QEMU
    }
    return new CaseResult(scenario.path(), scenarioCase.name(), kind, failure, log.toString(),
        result, null);
  }

  private static String where(Step step) {
    return "step " + step.index() + " (line " + step.location().line() + ")";
  }

  private void execute(Step step) throws StepFailure, StepException {
    if (step instanceof Step.Qmp s) {
      qmp(s);
    } else if (step instanceof Step.Io s) {
      io(s);
    } else if (step instanceof Step.AwaitJob s) {
      awaitJob(s);
    } else if (step instanceof Step.AwaitEvent s) {
      awaitEvent(s);
    } else if (step instanceof Step.Advance s) {
      backend.advance(s.durationNs());
    } else if (step instanceof Step.Observe s) {
      observe(s);
    } else if (step instanceof Step.Expect s) {
      expect(s);
    } else if (step instanceof Step.Crash s) {
      crash(s);
    } else if (step instanceof Step.NbdMap s) {
      nbdMap(s);
    } else if (step instanceof Step.Img s) {
      img(s);
    } else if (step instanceof Step.Log s) {
      log.append(s.text()).append('\n');
    } else {
      throw io.blocksim.model.check.Check.unreachable("step %s", step);
    }
  }

  private void qmp(Step.Qmp s) throws StepFailure, StepException {
    Map<String, Object> args = s.args() == null ? new LinkedHashMap<>() : s.args();
    // As iotests log it: "execute" first, then the arguments with their keys sorted.
    log.append("{\"execute\": ").append(Json.compact(s.command())).append(", \"arguments\": ")
        .append(Json.compact(args)).append("}\n");
    Map<String, Object> reply = backend.qmp(s.command(), args);
    log.append(Json.compact(reply)).append('\n');
    Map<String, Object> response = new LinkedHashMap<>();
    response.put("step", s.index());
    response.putAll(reply);
    responses.add(response);
    @SuppressWarnings("unchecked")
    Map<String, Object> error = (Map<String, Object>) reply.get("error");
    if (s.expectedError() != null) {
      if (error == null) {
        throw new StepFailure(s.command() + " succeeded, but the scenario expected the error '"
            + s.expectedError() + "'");
      }
      String desc = String.valueOf(error.get("desc"));
      if (!desc.contains(s.expectedError())) {
        throw new StepFailure(s.command() + " failed with '" + desc
            + "', but the scenario expected an error containing '" + s.expectedError() + "'");
      }
    } else if (error != null) {
      throw new StepFailure(s.command() + " failed: " + error.get("desc"));
    }
  }

  private void io(Step.Io s) throws StepFailure, StepException {
    log.append(s.command()).append('\n');
    Backend.IoOutcome outcome = backend.io(s.node(), s.command());
    for (String line : outcome.lines()) {
      log.append(line).append('\n');
    }
    ranIo = true;
    if (outcome.error() != null) {
      ioErrors.add(Json.object("step", s.index(), "error", outcome.error()));
    }
    if (s.expectedError() != null) {
      if (outcome.error() == null) {
        throw new StepFailure("io '" + s.command() + "' succeeded, but the scenario expected '"
            + s.expectedError() + "'");
      }
      if (!outcome.error().contains(s.expectedError())) {
        throw new StepFailure("io '" + s.command() + "' failed with '" + outcome.error()
            + "', but the scenario expected '" + s.expectedError() + "'");
      }
    } else if (outcome.error() != null) {
      throw new StepFailure("io '" + s.command() + "' failed: " + outcome.error());
    }
  }

  private void awaitJob(Step.AwaitJob s) throws StepFailure, StepException {
    int[] found = {-1};
    // Where the next look starts: each event is looked at once, however long the wait.
    int[] next = {jobCursors.getOrDefault(s.job(), 0)};
    boolean held = backend.runUntil(() -> {
      found[0] = findJobStatus(s.job(), s.status(), next);
      return found[0] >= 0;
    }, s.timeoutNs());
    if (!held) {
      throw new StepFailure("await {job: " + s.job() + ", status: " + s.status()
          + "} timed out after " + formatDuration(s.timeoutNs()) + "; jobs now: "
          + jobStates());
    }
    jobCursors.put(s.job(), found[0] + 1);
  }

  private int findJobStatus(String job, String status, int[] next) {
    List<QmpEvent> events = backend.events();
    for (int i = next[0]; i < events.size(); i++, next[0] = i) {
      QmpEvent e = events.get(i);
      if (e.event().equals("JOB_STATUS_CHANGE") && job.equals(e.data().get("id"))
          && status.equals(e.data().get("status"))) {
        return i;
      }
    }
    return -1;
  }

  private void awaitEvent(Step.AwaitEvent s) throws StepFailure, StepException {
    int[] found = {-1};
    int[] next = {eventCursors.getOrDefault(s.event(), 0)};
    boolean held = backend.runUntil(() -> {
      found[0] = findEvent(s.event(), s.data(), next);
      return found[0] >= 0;
    }, s.timeoutNs());
    if (!held) {
      throw new StepFailure("await {event: " + s.event()
          + (s.data() == null ? "" : ", data: " + Json.compact(s.data()))
          + "} timed out after " + formatDuration(s.timeoutNs()) + "; jobs now: "
          + jobStates());
    }
    eventCursors.put(s.event(), found[0] + 1);
  }

  private int findEvent(String name, Map<String, Object> data, int[] next) {
    List<QmpEvent> events = backend.events();
    for (int i = next[0]; i < events.size(); i++, next[0] = i) {
      QmpEvent e = events.get(i);
      if (e.event().equals(name) && (data == null || contains(e.data(), data))) {
        return i;
      }
    }
    return -1;
  }

  /** Returns whether actual contains every member of expected (recursively for objects). */
  static boolean contains(Object actual, Object expected) {
    if (expected instanceof Map<?, ?> em) {
      if (!(actual instanceof Map<?, ?> am)) {
        return false;
      }
      for (Map.Entry<?, ?> e : em.entrySet()) {
        if (!am.containsKey(e.getKey()) || !contains(am.get(e.getKey()), e.getValue())) {
          return false;
        }
      }
      return true;
    }
    if (expected instanceof Number en && actual instanceof Number an) {
      return en.longValue() == an.longValue();
    }
    return Objects.equals(actual, expected);
  }

  private String jobStates() throws StepException {
    List<Map<String, Object>> jobs = Observer.jobs(backend);
    if (jobs.isEmpty()) {
      return "none";
    }
    List<String> states = new ArrayList<>();
    for (Map<String, Object> job : jobs) {
      states.add(job.get("id") + "=" + job.get("status"));
    }
    return String.join(", ", states);
  }

  private void observe(Step.Observe s) throws StepException {
    Map<String, Object> observation = Observer.observe(backend, s.label(), s.images());
    observations.add(observation);
    log.append("observe ").append(s.label()).append('\n');
    log.append(Json.pretty(Json.object("bitmaps", Observer.bitmapDump(backend)))).append('\n');
    if (s.images() != null) {
      for (Object image : (List<?>) observation.get("images")) {
        Map<?, ?> m = (Map<?, ?>) image;
        log.append("image ").append(m.get("node")).append(": ").append(m.get("sha256"))
            .append('\n');
      }
    }
  }

  private void expect(Step.Expect s) throws StepFailure, StepException {
    if (s.bitmap() != null) {
      ExpectChecks.bitmap(backend, s.bitmap(), log);
    }
    if (s.job() != null) {
      ExpectChecks.job(backend, s.job(), log);
    }
    if (s.imagesEqual() != null) {
      ExpectChecks.imagesEqual(backend, s.imagesEqual(), log);
    }
    if (s.event() != null) {
      ExpectChecks.event(backend, s.event(), log);
    }
  }

  private void crash(Step.Crash s) throws StepException {
    log.append("crash: ").append(s.kind().name().toLowerCase(Locale.ROOT)).append('\n');
    logNewEvents();
    if (s.kind() == Step.CrashKind.PROCESS) {
      backend.crashProcess();
    } else {
      backend.crashPower();
    }
    eventsLogged = backend.events().size();
  }

  /** An nbd-map step: logged as nbdinfo prints the map, recorded for the comparison. */
  private void nbdMap(Step.NbdMap s) throws StepFailure, StepException {
    logNewEvents();
    log.append("nbdinfo --map=").append(s.context()).append(' ').append(s.export()).append('\n');
    Backend.MapOutcome outcome = backend.nbdMap(s.export(), s.context());
    Map<String, Object> entry = new LinkedHashMap<>();
    entry.put("step", s.index());
    entry.put("export", s.export());
    entry.put("context", s.context());
    if (outcome.error() != null) {
      log.append(outcome.error()).append('\n');
      entry.put("error", outcome.error());
      maps.add(entry);
      if (s.error() == null) {
        throw new StepFailure("nbd-map of '" + s.export() + "' failed: " + outcome.error());
      }
      if (!outcome.error().contains(s.error())) {
        throw new StepFailure("nbd-map of '" + s.export() + "' failed with '" + outcome.error()
            + "', but the scenario expected '" + s.error() + "'");
      }
      return;
    }
    List<Object> extents = new ArrayList<>();
    boolean bitmap = !s.context().equals("base:allocation");
    for (long[] e : outcome.extents()) {
      log.append(String.format(java.util.Locale.ROOT, "%10d  %10d  %3d  %s%n", e[0], e[1], e[2],
          describe(bitmap, e[2])));
      extents.add(List.of(e[0], e[1], e[2]));
    }
    entry.put("extents", extents);
    maps.add(entry);
    if (s.error() != null) {
      throw new StepFailure("nbd-map of '" + s.export() + "' succeeded, but the scenario "
          + "expected '" + s.error() + "'");
    }
  }

  /** nbdinfo's description of an extent type. */
  private static String describe(boolean bitmap, long type) {
    if (bitmap) {
      return type == 0 ? "clean" : type == 1 ? "dirty" : String.valueOf(type);
    }
    return switch ((int) type) {
      case 0 -> "data";
      case 1 -> "hole";
      case 2 -> "zero";
      case 3 -> "hole,zero";
      default -> String.valueOf(type);
    };
  }

  private void img(Step.Img s) throws StepFailure, StepException {
    log.append("qemu-img ").append(s.command()).append('\n');
    Backend.ImgOutcome outcome = backend.img(s.command());
    for (String line : outcome.lines()) {
      log.append(line).append('\n');
    }
    imgs.add(Json.object("step", s.index(), "exit", outcome.exitCode(), "output",
        List.copyOf(outcome.lines())));
    if (s.error() != null) {
      if (outcome.exitCode() == 0) {
        throw new StepFailure("qemu-img " + s.command() + " succeeded, but the scenario expected "
            + "it to fail with '" + s.error() + "'");
      }
      if (!String.join("\n", outcome.lines()).contains(s.error())) {
        throw new StepFailure("qemu-img " + s.command() + " failed without '" + s.error()
            + "' in its output");
      }
      return;
    }
    if (outcome.exitCode() != 0 && !s.command().startsWith("compare")) {
      throw new StepFailure("qemu-img " + s.command() + " exited with " + outcome.exitCode());
    }
  }

  private void logNewEvents() {
    List<QmpEvent> events = backend.events();
    for (int i = eventsLogged; i < events.size(); i++) {
      QmpEvent e = events.get(i);
      log.append(Json.compact(Json.object("event", e.event(), "data", e.data(), "timestamp",
          Json.object("seconds", "SECS", "microseconds", "USECS")))).append('\n');
    }
    eventsLogged = events.size();
  }

  static String formatDuration(long ns) {
    if (ns % 1_000_000_000L == 0) {
      return ns / 1_000_000_000L + "s";
    }
    if (ns % 1_000_000L == 0) {
      return ns / 1_000_000L + "ms";
    }
    return ns + "ns";
  }
}
