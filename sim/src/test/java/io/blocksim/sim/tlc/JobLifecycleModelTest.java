package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Model-based test of the job life cycle against {@code specs/JobLifecycle.tla}
 * ({@code JobLifecycle.cfg}: one backup or mirror job, every auto-finalize / auto-dismiss).
 * Goal: for every edge QMP can drive, a real engine job shows a status (query-jobs) the spec
 * allows, accepts every verb the spec takes, and refuses every verb the spec refuses.
 *
 * <p>Method: {@link GraphWalk} on the graph less the edges no command can drive (verbs and drains
 * on a created job; each left-out edge is printed with its reason). Verb edges issue the QMP
 * verb, which must be accepted. DrainBegin and DrainEnd open and close a drained section on the
 * source through the engine's Java API ({@code JobManager.beginDrainedSection}), so that other
 * steps happen inside it; RunFails arms one write error on the target (blkdebug under dst) and
 * runs the job until it fails, after one guest write for a ready mirror, which copies only what
 * the guest writes. The engine takes its own steps (start,
 * pause points, ready, run returning, finalize, dismiss) inside a QMP command or as simulated
 * time passes, not one spec step at a time, so the walk tracks the set of spec states the
 * engine may be in: the same verbs, with the job's own ({@link #INTERNAL}) steps at any time,
 * kept only where the status is the engine's. An own-step edge runs the simulation until the
 * engine shows a status the edge's target leads to; after every step the job is left parked
 * at a yield, where a verb reaches it as atomically as in the spec. The engine's status must
 * be in the set, and every verb that no state of the set with that status takes is tried and
 * must be refused. A verb edge whose status the engine has already left by its own steps is
 * reported as not reached, with the reason.
 */
@Tag("tlc")
class JobLifecycleModelTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("mbt-joblifecycle");
  private static final long CLUSTER = 65536;
  private static final int CLUSTERS = 4;
  /** Slow enough that every job yields several times before its copy is done. */
  private static final long SPEED = CLUSTER;
  private static final long TIMEOUT_NS = 60_000_000_000L;
  private static final String JOB = "j1";
  /** The spec's steps the engine takes on its own. */
  static final Set<String> INTERNAL = Set.of("Start", "PausePoint", "ResumePoint",
      "BecomeReady", "RunSucceeds", "NoticeCancel", "AllDone", "AutoFinalize", "Abort",
      "AutoDismiss", "Quiescent");
  /** Verb action → the QMP command that probes it (cancel is probed forced). */
  private static final Map<String, String> VERBS = new TreeMap<>(Map.of("Pause", "job-pause",
      "Resume", "job-resume", "SetSpeed", "block-job-set-speed", "Complete", "job-complete",
      "Finalize", "job-finalize", "Dismiss", "job-dismiss", "Cancel", "job-cancel"));
  /**
   * Steps the walk drives through the engine's Java API rather than QMP: a drained section
   * held open across other steps ({@code JobManager.beginDrainedSection}; QMP opens and closes
   * one inside a single command), and a write error on the target armed at the chosen step
   * (blkdebug under dst, on-target-error=report).
   */
  static final Set<String> FAULTS_AND_DRAINS = Set.of("DrainBegin", "DrainEnd", "RunFails");
  /** A blkdebug event the engine never raises: the walk raises it to arm the target fault. */
  static final String ARM_EVENT = "vmstate_load";
  static final String CREATED_VERB = "QEMU starts a job inside the command that creates it,"
      + " so no QMP verb or drained section ever reaches a job in created";
  private static StateGraph full;
  /** The full graph less the undrivable edges and what only they reach. */
  private static StateGraph graph;
  private static final Map<Long, List<StateGraph.Edge>> OUT = new TreeMap<>();

  @BeforeAll
  static void loadGraph() throws Exception {
    full = StateGraph.load(SPECS, "JobLifecycle", "JobLifecycle.cfg", WORK);
    // StateGraph has no filter: re-parse TLC's dot file without the undrivable edges.
    List<String> lines = Files.readAllLines(WORK.resolve("graphs").resolve("JobLifecycle.dot"),
        StandardCharsets.UTF_8);
    Set<String> dropped = new TreeSet<>();
    for (StateGraph.Edge e : full.edges()) {
      if (undrivableReason(full, e) != null) {
        dropped.add(e.source() + " -> " + e.target() + " [label=\"" + e.action() + "\"");
      }
    }
    Set<Long> reachable = reachable(full, dropped);
    List<String> kept = new ArrayList<>();
    for (String line : lines) {
      Matcher m = EDGE_LINE.matcher(line);
      if (m.find() && (dropped.contains(m.group()) || !reachable.contains(
          Long.parseLong(m.group(1))))) {
        continue;
      }
      kept.add(line);
    }
    graph = StateGraph.parse(kept, full.tlc());
    graph.edges().forEach(e -> OUT.computeIfAbsent(e.source(), k -> new ArrayList<>()).add(e));
  }

  private static final Pattern EDGE_LINE =
      Pattern.compile("^(-?\\d+) -> (-?\\d+) \\[label=\"\\w+\"");

  static String undrivableReason(StateGraph g, StateGraph.Edge e) {
    if ((VERBS.containsKey(e.action()) || e.action().equals("DrainBegin"))
        && status(g.states().get(e.source())).equals("created")) {
      return CREATED_VERB;
    }
    return null;
  }

  private static Set<Long> reachable(StateGraph g, Set<String> dropped) {
    Map<Long, List<StateGraph.Edge>> out = new TreeMap<>();
    g.edges().forEach(e -> out.computeIfAbsent(e.source(), k -> new ArrayList<>()).add(e));
    Set<Long> seen = new TreeSet<>();
    ArrayDeque<Long> todo = new ArrayDeque<>();
    g.initialStates().forEach(s -> todo.add(s.id()));
    while (!todo.isEmpty()) {
      long id = todo.poll();
      if (seen.add(id)) {
        for (StateGraph.Edge e : out.getOrDefault(id, List.of())) {
          if (!dropped.contains(e.source() + " -> " + e.target() + " [label=\"" + e.action()
              + "\"")) {
            todo.add(e.target());
          }
        }
      }
    }
    return seen;
  }

  /** Per action, the edges of the full graph the walk leaves out, and why. */
  static Map<String, String> leftOut() {
    Set<Long> reachable = new TreeSet<>(OUT.keySet());
    graph.edges().forEach(e -> reachable.add(e.target()));
    graph.initialStates().forEach(s -> reachable.add(s.id()));
    Map<String, Integer> counts = new TreeMap<>();
    for (StateGraph.Edge e : full.edges()) {
      String reason = undrivableReason(full, e);
      if (reason == null && !reachable.contains(e.source())) {
        reason = "leaves a state reached only through a verb or a drain in created";
      }
      if (reason != null) {
        counts.merge(e.action() + ": " + reason, 1, Integer::sum);
      }
    }
    Map<String, String> out = new TreeMap<>();
    counts.forEach((key, n) -> out.put(key.substring(0, key.indexOf(':')) + " " + n + " edges",
        key.substring(key.indexOf(':') + 2)));
    return out;
  }

  /** The engine under test plus what the walk learnt while driving it. */
  static final class Sut {
    /** Built at the first step, so that an edge found undrivable by plan costs nothing. */
    SimBackend sim;
    boolean created;
    /** The spec states the engine may be in: the same verbs, its own steps at any time. */
    Set<Long> possible = new TreeSet<>();
    final List<String> problems = new ArrayList<>();
    /** Ends the drained section a DrainBegin step holds open, or null. */
    Runnable endDrain;
  }

  static class Model implements GraphWalk.Model<Sut> {
    @Override
    public Sut fresh() {
      return new Sut();
    }

    private static SimBackend backend() throws Exception {
      SimBackend sim = new SimBackend(1, Set.of());
      for (String file : List.of("src.qcow2", "dst.qcow2")) {
        sim.createImage(new Backend.ImageSpec(file, "qcow2", CLUSTERS * CLUSTER, null, null,
            CLUSTER, Map.of()));
      }
      ok(sim, "blockdev-add", "node-name", "src", "driver", "qcow2",
          "file", Json.object("driver", "file", "filename", "src.qcow2"));
      // blkdebug under the target: one write error, armed by the walk for a RunFails step.
      ok(sim, "blockdev-add", "node-name", "dst", "driver", "qcow2",
          "file", Json.object("driver", "blkdebug", "node-name", "dst-fault",
              "inject-error", List.of(Json.object("event", ARM_EVENT, "errno", 5, "once", true)),
              "image", Json.object("driver", "file", "filename", "dst.qcow2")));
      // Allocated data, so that the copy has work to do at the rate limit.
      sim.io("src", "write -P 0x5a 0 " + CLUSTERS * CLUSTER);
      return sim;
    }

    @Override
    public void plan(Sut sut, StateGraph walked, List<StateGraph.Edge> path)
        throws GraphWalk.Unrealizable {
      if (path.size() > maxPath()) {
        throw new GraphWalk.Unrealizable("longer than this walk's bound of " + maxPath());
      }
      for (StateGraph.Edge edge : path) {
        String reason = undrivableReason(walked, edge);
        if (reason != null) {
          throw new GraphWalk.Unrealizable(reason);
        }
        if (edge.action().equals("Cancel")
            && Boolean.TRUE.equals(job(walked.states().get(edge.source())).get("drained"))
            && Boolean.TRUE.equals(job(walked.states().get(edge.target())).get("softCancelled"))) {
          throw new GraphWalk.Unrealizable(CANCEL_IN_DRAIN);
        }
      }
    }

    /** The longest replay path walked; unbounded by default. */
    int maxPath() {
      return Integer.MAX_VALUE;
    }

    @Override
    public void apply(Sut sut, StateGraph.State from, StateGraph.Edge edge,
        StateGraph.State to) throws Exception {
      if (sut.sim == null) {
        sut.sim = backend();
        graph.initialStates().forEach(st -> sut.possible.add(st.id()));
      }
      String action = edge.action();
      if (action.equals("Create")) {
        create(sut, job(to));
        sut.possible = closureIds(Set.of(to.id()));
      } else if (INTERNAL.contains(action)) {
        // Time passes until the engine has taken this step (or steps past it).
        Set<String> after = statuses(closureIds(Set.of(to.id())));
        // A timeout is no failure by itself: the observation filter below judges the status.
        sut.sim.runUntil(() -> after.contains(engineStatus(sut)), TIMEOUT_NS);
      } else {
        String source = status(from);
        String now = engineStatus(sut);
        if (!now.equals(source) && FINISHING.contains(now)) {
          throw new GraphWalk.Unrealizable(RAN_AHEAD + " [spec " + source + ", engine " + now
              + "]");
        }
        if (FAULTS_AND_DRAINS.contains(action)) {
          engineStep(sut, action);
        } else {
          Map<String, Object> reply = verb(sut.sim, action, job(to));
          if (reply.containsKey("error")) {
            sut.problems.add(action + " refused in " + status(from) + ": "
                + reply.get("error"));
          }
        }
        sut.possible = closureIds(post(sut.possible, action, job(to)));
      }
      settle(sut);
      // Keep the spec states that show what the engine shows; none left is a mismatch, which
      // abstractOf reports (possible is then left as it was, without the engine's status).
      String shown = engineStatus(sut);
      sut.possible = closureIds(sut.possible);
      Set<Long> consistent = new TreeSet<>();
      sut.possible.stream().filter(id -> status(graph.states().get(id)).equals(shown))
          .forEach(consistent::add);
      if (!consistent.isEmpty()) {
        sut.possible = consistent;
      }
    }

    /**
     * Runs until the job is parked at a yield (or finishing): QMP verbs are atomic in the spec,
     * and a verb that reaches the job between two yields takes effect only at the next one.
     */
    private static void settle(Sut sut) {
      sut.sim.runUntil(() -> !busy(sut), TIMEOUT_NS);
    }

    /** The targets of the {@code action} edges from {@code states} that match its flavour. */
    private static Set<Long> post(Set<Long> states, String action, Map<?, ?> after) {
      Set<Long> next = new TreeSet<>();
      for (long id : states) {
        for (StateGraph.Edge e : OUT.getOrDefault(id, List.of())) {
          Map<?, ?> job = job(graph.states().get(e.target()));
          if (e.action().equals(action) && (!action.equals("Cancel")
              || job.get("softCancelled").equals(after.get("softCancelled")))) {
            next.add(e.target());
          }
        }
      }
      return next;
    }

    void create(Sut sut, Map<?, ?> job) {
      Map<String, Object> args = Json.object("job-id", JOB, "device", "src", "target", "dst",
          "sync", "full", "speed", SPEED, "auto-finalize", job.get("autoFinalize"),
          "auto-dismiss", job.get("autoDismiss"));
      if (job.get("type").equals("backup")) {
        // One cluster per copy task (QEMU's x-perf), so that the rate limit spreads the copy
        // over several seconds as it does the mirror's: without it one task copies the disk.
        args.put("x-perf", Json.object("max-chunk", CLUSTER));
      }
      ok(sut.sim, "blockdev-" + job.get("type"), args);
      sut.created = true;
    }

    /** Takes a drain or fault step through the engine's Java API. */
    void engineStep(Sut sut, String action) throws Exception {
      SimBackend sim = sut.sim;
      switch (action) {
        case "DrainBegin" -> sut.endDrain =
            sim.engine().jobs().beginDrainedSection(sim.engine().graph().find("src"));
        case "DrainEnd" -> {
          sut.endDrain.run();
          sut.endDrain = null;
        }
        case "RunFails" -> {
          BlockNode fault = sim.engine().graph().find("dst-fault");
          fault.driver().debugEvent(fault, ARM_EVENT);
          if (engineStatus(sut).equals("ready")) {
            // A ready mirror copies only what the guest writes: one write gives it a copy to
            // fail. (The harness's write drains src: pause points the spec's closure allows.)
            sim.io("src", "write -P 0x33 0 " + CLUSTER);
          }
          sim.runUntil(() -> FINISHING.contains(engineStatus(sut)), TIMEOUT_NS);
        }
        default -> throw new IllegalStateException("no engine step for " + action);
      }
    }

    /** Issues the verb of a spec action; {@code job} is the spec's job after the action. */
    Map<String, Object> verb(SimBackend sim, String action, Map<?, ?> job) {
      return switch (action) {
        case "Cancel" -> Boolean.TRUE.equals(job.get("softCancelled"))
            ? sim.qmp("block-job-cancel", Json.object("device", JOB, "force", false))
            : sim.qmp("job-cancel", Json.object("id", JOB));
        case "SetSpeed" -> sim.qmp("block-job-set-speed",
            Json.object("device", JOB, "speed", SPEED));
        default -> sim.qmp(VERBS.get(action), Json.object("id", JOB));
      };
    }

    @Override
    public Object abstractOf(Sut sut) {
      String status = engineStatus(sut);
      Set<String> allowed = statuses(sut.possible);
      probeRefusals(sut, status);
      return List.of(allowed.contains(status) ? "allowed" : "engine " + status + ", spec "
          + allowed, sut.problems);
    }

    /**
     * Tries every verb that no spec state the engine may be in (same status) accepts; each
     * must be refused.
     */
    private void probeRefusals(Sut sut, String status) {
      if (!sut.created) {
        return;
      }
      Set<String> enabled = new TreeSet<>();
      boolean completeRequested = false;
      for (long id : sut.possible) {
        StateGraph.State st = graph.states().get(id);
        if (status(st).equals(status)) {
          OUT.getOrDefault(id, List.of()).forEach(e -> enabled.add(e.action()));
          completeRequested |= Boolean.TRUE.equals(job(st).get("completeRequested"));
        }
      }
      for (String action : VERBS.keySet()) {
        // QEMU's mirror_complete checks only that the job is ready, so a repeated job-complete
        // is accepted where the spec refuses it (~completeRequested): not probed.
        if (enabled.contains(action) || action.equals("Complete") && completeRequested) {
          continue;
        }
        Map<String, Object> reply = verb(sut.sim, action, Map.of());
        if (!reply.containsKey("error")) {
          sut.problems.add(action + " accepted in " + status + " though the spec refuses it");
        }
      }
    }

    @Override
    public Object project(StateGraph.State state) {
      return List.of("allowed", List.of());
    }
  }

  /** A divergence of the spec from QEMU 7.2, reported rather than walked (see the report). */
  static final String CANCEL_IN_DRAIN = "spec imprecision: job_cancel enters the job even"
      + " while a drained section holds it paused (job_enter_cond_locked does not look at the"
      + " pause count); JobLifecycle's ResumePoint lets a force-cancelled job leave its pause"
      + " (walked), but a soft-cancelled ready mirror, woken and paused again or completing"
      + " inside the section as the engine's does, is not modelled";

  /** Statuses after the job's run returned, where verbs of an active job no longer apply. */
  static final Set<String> FINISHING = Set.of("waiting", "pending", "aborting", "concluded",
      "null");
  static final String RAN_AHEAD = "the engine took its own steps (allowed by the spec) past the"
      + " step's status before it could be issued: a job alone in its transaction leaves"
      + " waiting, and pending under auto-finalize, in the event that entered it; a force"
      + " cancel, job-complete or a soft cancel of a ready mirror runs it to its end inside the"
      + " command, where the spec lets other steps come first";

  /** Whether the job is between two yields (query-block-jobs busy) and still active. */
  static boolean busy(Sut sut) {
    Map<String, Object> reply = sut.sim.qmp("query-block-jobs", Json.object());
    for (Object info : (List<?>) reply.get("return")) {
      Map<?, ?> job = (Map<?, ?>) info;
      if (JOB.equals(job.get("device"))) {
        return Boolean.TRUE.equals(job.get("busy")) && !FINISHING.contains(job.get("status"));
      }
    }
    return false;
  }

  /** The states the spec reaches from {@code states} by the job's own steps. */
  static Set<Long> closureIds(Set<Long> states) {
    Set<Long> seen = new TreeSet<>();
    ArrayDeque<Long> todo = new ArrayDeque<>(states);
    while (!todo.isEmpty()) {
      long id = todo.poll();
      if (seen.add(id)) {
        for (StateGraph.Edge e : OUT.getOrDefault(id, List.of())) {
          if (INTERNAL.contains(e.action())) {
            todo.add(e.target());
          }
        }
      }
    }
    return seen;
  }

  static Set<String> statuses(Set<Long> states) {
    Set<String> out = new TreeSet<>();
    states.forEach(id -> out.add(status(graph.states().get(id))));
    return out;
  }

  /** Parsed job records by state id: the walk asks for the same states many times. */
  private static final Map<Long, Map<?, ?>> PARSED_JOBS = new java.util.HashMap<>();

  static Map<?, ?> job(StateGraph.State state) {
    return PARSED_JOBS.computeIfAbsent(state.id(),
        id -> (Map<?, ?>) ((Map<?, ?>) state.value("jobs")).get(JOB));
  }

  static String status(StateGraph.State state) {
    return (String) job(state).get("status");
  }

  /** The job's status as query-jobs shows it; a job it does not list is undefined or null. */
  static String engineStatus(Sut sut) {
    Map<String, Object> reply = sut.sim.qmp("query-jobs", Json.object());
    for (Object info : (List<?>) reply.get("return")) {
      Map<?, ?> job = (Map<?, ?>) info;
      if (JOB.equals(job.get("id"))) {
        return (String) job.get("status");
      }
    }
    return sut.created ? "null" : "undefined";
  }

  static void ok(SimBackend sim, String command, Object... args) {
    ok(sim, command, Json.object(args));
  }

  static void ok(SimBackend sim, String command, Map<String, Object> args) {
    Map<String, Object> reply = sim.qmp(command, args);
    if (reply.containsKey("error")) {
      throw new IllegalStateException(command + " failed: " + reply.get("error"));
    }
  }

  @Test
  void everyDrivableEdgeOfTheJobLifecycleIsTheEngines() throws Exception {
    long start = System.nanoTime();
    GraphWalk.Result result = GraphWalk.walk(graph, new Model());
    long millis = (System.nanoTime() - start) / 1_000_000;

    System.out.printf("MBT JobLifecycle: %d states, %d edges (TLC %d ms); %d of the %d"
        + " edges walked (%d drivable) in %d ms %s%n", full.states().size(),
        full.edges().size(), full.tlc().millis(), result.walked(), full.edges().size(),
        result.edges(), millis, result.walkedPerAction());
    result.unrealizablePerReason().forEach((reason, perAction) ->
        System.out.printf("MBT JobLifecycle: not reached %d edges %s: %s%n",
            perAction.values().stream().mapToInt(Integer::intValue).sum(), perAction, reason));
    leftOut().forEach((action, why) ->
        System.out.printf("MBT JobLifecycle: left out %s: %s%n", action, why));
    Set<String> classes = actionStatusClasses(full.edges());
    Set<String> walkedClasses = actionStatusClasses(result.walkedEdges());
    Set<String> missing = new TreeSet<>(classes);
    missing.removeAll(walkedClasses);
    System.out.printf("MBT JobLifecycle: %d of %d (action, status) classes walked%n",
        walkedClasses.size(), classes.size());
    missing.forEach(c -> System.out.printf("MBT JobLifecycle: class %s not walked: %s%n", c,
        UNWALKABLE_CLASSES.getOrDefault(c, "?")));
    assertThat(result.mismatches()).isEmpty();
    for (String action : full.actions()) {
      assertThat(result.walkedPerAction().get(action)).as(action).isPositive();
    }
    assertThat(UNWALKABLE_CLASSES).containsKeys(missing.toArray(String[]::new));
  }

  /** The (action, status) classes no walk reaches, and why. */
  static final Map<String, String> UNWALKABLE_CLASSES = unwalkableClasses();

  private static Map<String, String> unwalkableClasses() {
    Map<String, String> out = new TreeMap<>();
    for (String action : List.of("Cancel", "DrainBegin", "DrainEnd", "Pause", "Resume",
        "SetSpeed")) {
      out.put(action + "@created", CREATED_VERB);
    }
    out.put("Cancel@waiting", "a job alone in its transaction leaves waiting in the event that"
        + " entered it, so no command finds it there");
    out.put("DrainEnd@aborting", "a job ends inside a drained section only when cancelled"
        + " in it, and a force-cancelled one concludes within the step: " + CANCEL_IN_DRAIN);
    return out;
  }

  /** "Action@status of the source" of each edge. */
  private static Set<String> actionStatusClasses(List<StateGraph.Edge> edges) {
    Set<String> out = new TreeSet<>();
    edges.forEach(e -> out.add(e.action() + "@" + status(full.states().get(e.source()))));
    return out;
  }

  @Test
  void anEngineWhoseDrainedSectionsDoNotPauseTheJobFailsTheWalk() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model() {
      @Override
      int maxPath() {
        return 4;
      }

      @Override
      void engineStep(Sut sut, String action) throws Exception {
        if (!action.startsWith("Drain")) {
          super.engineStep(sut, action);
        }
      }
    });

    assertThat(result.mismatches()).anySatisfy(m -> assertThat(m).contains("DrainBegin"));
  }

  @Test
  void anEngineThatIgnoresCopyErrorsFailsTheWalk() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model() {
      @Override
      int maxPath() {
        return 4;
      }

      @Override
      void engineStep(Sut sut, String action) throws Exception {
        if (action.equals("RunFails")) {
          // The broken engine retries the failed copy and goes on (on-*-error=ignore).
          sut.sim.runUntil(() -> FINISHING.contains(engineStatus(sut)), TIMEOUT_NS);
        } else {
          super.engineStep(sut, action);
        }
      }
    });

    assertThat(result.mismatches()).anySatisfy(m -> assertThat(m).contains("RunFails"));
  }

  @Test
  void anEngineWhosePauseIsANoOpFailsTheWalk() throws Exception {
    GraphWalk.Result result = GraphWalk.walk(graph, new Model() {
      @Override
      int maxPath() {
        return 5;
      }

      @Override
      Map<String, Object> verb(SimBackend sim, String action, Map<?, ?> job) {
        // The broken engine acknowledges job-pause and never pauses.
        return action.equals("Pause") ? Json.object() : super.verb(sim, action, job);
      }
    });

    assertThat(result.mismatches()).anySatisfy(m -> assertThat(m).contains("Pause"));
  }
}
