package io.blocksim.sim.checker;

import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.ForwardingBackend;
import io.blocksim.sim.port.StepException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * The simulator with invariant checkers: every action that can change the world (a QMP command
 * other than a query, a qemu-io command, time passing, a crash, a qemu-img command) is followed by
 * every checker, in order. A violation stops the run with an {@link
 * io.blocksim.model.check.InvariantViolation} naming the checker, which the scenario runner and
 * {@code blocksim explore} report as a bug (exit 3).
 *
 * <p>The checkers read the nodes' contents through the engine, which warms caches as any read
 * does; a run with checkers is therefore deterministic, but not always the same run as one
 * without them (which is why scenarios opt in with {@code checkers:}).
 */
public final class CheckedBackend extends ForwardingBackend<SimBackend> {
  /** Job verbs: the job-state-machine checker needs the status they were dispatched in. */
  private static final Set<String> VERBS = Set.of("job-pause", "job-resume", "job-cancel",
      "job-complete", "job-finalize", "job-dismiss", "block-job-pause", "block-job-resume",
      "block-job-cancel", "block-job-complete", "block-job-finalize", "block-job-dismiss",
      "block-job-set-speed");

  private final List<Checker> checkers;
  private final World world;

  public CheckedBackend(SimBackend inner, List<Checker> checkers) {
    super(inner);
    this.checkers = List.copyOf(checkers);
    this.world = new World(inner);
    for (Checker checker : this.checkers) {
      world.setChecker(checker.name());
      checker.start(world);
    }
  }

  public World world() {
    return world;
  }

  @Override
  public Map<String, Object> qmp(String command, Map<String, Object> args) throws StepException {
    if (command.startsWith("query-") || command.startsWith("x-debug-")) {
      return inner.qmp(command, args);
    }
    if (VERBS.contains(command)) {
      // SimBackend runs what is due before it dispatches; doing it here first lets the checkers
      // see the statuses the verb meets. (Running what is due twice is running it once.)
      inner.advance(0);
      check(new Action.Time());
    }
    Map<String, Object> reply = inner.qmp(command, args);
    JobInfos.note(world, command, args, reply);
    check(new Action.Qmp(command, args, reply));
    return reply;
  }

  @Override
  public IoOutcome io(String node, String command) throws StepException {
    IoOutcome outcome = inner.io(node, command);
    check(new Action.Io(node, command, outcome));
    return outcome;
  }

  @Override
  public void advance(long durationNs) throws StepException {
    inner.advance(durationNs);
    check(new Action.Time());
  }

  @Override
  public boolean runUntil(BooleanSupplier condition, long timeoutNs) throws StepException {
    boolean held = inner.runUntil(condition, timeoutNs);
    check(new Action.Time());
    return held;
  }

  @Override
  public void crashProcess() throws StepException {
    inner.crashProcess();
    world.forgetJobs();
    check(new Action.Crash(false));
  }

  @Override
  public void crashPower() throws StepException {
    inner.crashPower();
    world.forgetJobs();
    check(new Action.Crash(true));
  }

  @Override
  public ImgOutcome img(String command) throws StepException {
    ImgOutcome outcome = inner.img(command);
    check(new Action.Img(command));
    return outcome;
  }

  private void check(Action action) {
    world.beginAction();
    for (Checker checker : checkers) {
      world.setChecker(checker.name());
      checker.after(action, world);
    }
    world.dropEndedJobs();
  }

  /** Returns the checkers of {@link Checkers#all()} with these names ("all" for every one). */
  public static List<Checker> named(List<String> names) {
    Set<String> wanted = new LinkedHashSet<>(names);
    return Checkers.all().stream()
        .filter(c -> wanted.contains("all") || wanted.contains(c.name())).toList();
  }
}
