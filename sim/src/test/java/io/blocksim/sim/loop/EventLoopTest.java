package io.blocksim.sim.loop;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.check.InvariantViolation;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: virtual time and task order are fully determined by the schedule calls, deadlines stop the
 * clock exactly, and limits turn runaway runs into a LimitReached. Method: record the order and
 * the clock seen by each task and compare with the order implied by (due time, scheduling order).
 */
class EventLoopTest {
  private final List<String> ran = new ArrayList<>();

  private EventLoop newLoop() {
    return new EventLoop(bytes -> 1000 + bytes);
  }

  private Runnable record(EventLoop loop, String name) {
    return () -> ran.add(name + "@" + loop.nowNs());
  }

  @Test
  void tasksDueAtTheSameTimeRunInSchedulingOrder() {
    EventLoop loop = newLoop();
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      loop.schedule(500, record(loop, "t" + i));
      expected.add("t" + i + "@500");
    }
    loop.drain();
    assertThat(ran).containsExactlyElementsOf(expected);
  }

  @Test
  void tasksRunByDueTimeThenBySequence() {
    EventLoop loop = newLoop();
    loop.schedule(30, record(loop, "c"));
    loop.schedule(10, record(loop, "a"));
    loop.schedule(30, record(loop, "d"));
    loop.schedule(20, record(loop, "b"));
    loop.drain();
    assertThat(ran).containsExactly("a@10", "b@20", "c@30", "d@30");
  }

  @Test
  void zeroDelayTaskScheduledByATaskRunsAfterTasksAlreadyDueThen() {
    EventLoop loop = newLoop();
    loop.schedule(5, () -> {
      ran.add("first@" + loop.nowNs());
      loop.schedule(0, record(loop, "child"));
    });
    loop.schedule(5, record(loop, "second"));
    loop.drain();
    assertThat(ran).containsExactly("first@5", "second@5", "child@5");
  }

  @Test
  void runOneReturnsFalseWhenIdle() {
    EventLoop loop = newLoop();
    assertThat(loop.isIdle()).isTrue();
    assertThat(loop.runOne()).isFalse();
    assertThat(loop.nowNs()).isZero();
    loop.schedule(7, () -> {});
    assertThat(loop.isIdle()).isFalse();
    assertThat(loop.nextDueNs()).isEqualTo(7);
    assertThat(loop.runOne()).isTrue();
    assertThat(loop.nowNs()).isEqualTo(7);
    assertThat(loop.isIdle()).isTrue();
    assertThat(loop.eventsExecuted()).isEqualTo(1);
  }

  @Test
  void runUntilStopsAtTheTaskThatMakesTheConditionTrue() {
    EventLoop loop = newLoop();
    loop.schedule(10, record(loop, "a"));
    loop.schedule(20, record(loop, "b"));
    loop.schedule(30, record(loop, "c"));
    boolean held = loop.runUntil(() -> ran.size() == 2, 1_000);
    assertThat(held).isTrue();
    assertThat(loop.nowNs()).isEqualTo(20);
    assertThat(ran).containsExactly("a@10", "b@20");
    assertThat(loop.queuedCount()).isEqualTo(1);
  }

  @Test
  void runUntilWithAConditionAlreadyTrueRunsNothing() {
    EventLoop loop = newLoop();
    loop.schedule(0, record(loop, "a"));
    assertThat(loop.runUntil(() -> true, 100)).isTrue();
    assertThat(ran).isEmpty();
    assertThat(loop.nowNs()).isZero();
  }

  @Test
  void runUntilLeavesTasksAfterTheDeadlineAndMovesTheClockToIt() {
    EventLoop loop = newLoop();
    loop.schedule(10, record(loop, "a"));
    loop.schedule(101, record(loop, "late"));
    boolean held = loop.runUntil(() -> false, 100);
    assertThat(held).isFalse();
    assertThat(loop.nowNs()).isEqualTo(100);
    assertThat(ran).containsExactly("a@10");
    assertThat(loop.nextDueNs()).isEqualTo(101);
  }

  @Test
  void runUntilRunsATaskDueExactlyAtTheDeadline() {
    EventLoop loop = newLoop();
    loop.schedule(100, record(loop, "edge"));
    assertThat(loop.runUntil(() -> false, 100)).isFalse();
    assertThat(ran).containsExactly("edge@100");
  }

  @Test
  void runUntilOnADrainedQueueMovesTheClockToTheDeadline() {
    EventLoop loop = newLoop();
    loop.schedule(10, record(loop, "a"));
    assertThat(loop.runUntil(() -> false, 5_000)).isFalse();
    assertThat(loop.nowNs()).isEqualTo(5_000);
  }

  @Test
  void runUntilReevaluatesAClockDependentConditionAtTheDeadline() {
    EventLoop loop = newLoop();
    assertThat(loop.runUntil(() -> loop.nowNs() >= 50, 50)).isTrue();
    assertThat(loop.nowNs()).isEqualTo(50);
  }

  @Test
  void deadlineBeforeNowIsABugAndTheClockNeverGoesBack() {
    EventLoop loop = newLoop();
    loop.advance(100);
    assertThatThrownBy(() -> loop.runUntil(() -> false, 99))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("deadline (99 ns) is before now (100 ns)");
    assertThat(loop.nowNs()).isEqualTo(100);
  }

  @Test
  void advanceRunsEverythingDueInTheWindowIncludingNewTasks() {
    EventLoop loop = newLoop();
    loop.advance(1_000);
    loop.schedule(100, () -> {
      ran.add("a@" + loop.nowNs());
      loop.schedule(400, record(loop, "b")); // Due at 1,500: inside the window.
      loop.schedule(401, record(loop, "c")); // Due at 1,501: just outside.
    });
    loop.advance(500);
    assertThat(ran).containsExactly("a@1100", "b@1500");
    assertThat(loop.nowNs()).isEqualTo(1_500);
    assertThat(loop.nextDueNs()).isEqualTo(1_501);
  }

  @Test
  void negativeDelayIsABug() {
    EventLoop loop = newLoop();
    assertThatThrownBy(() -> loop.schedule(-1, () -> {}))
        .isInstanceOf(InvariantViolation.class)
        .hasMessageContaining("delay (-1 ns)");
  }

  @Test
  void taskThatReschedulesItselfForeverHitsTheEventLimit() {
    EventLoop loop = new EventLoop(bytes -> 0, new EventLoop.Limits(1_000, 10, 1_000_000));
    Runnable[] spin = new Runnable[1];
    spin[0] = () -> loop.schedule(0, spin[0]);
    loop.schedule(0, spin[0]);
    assertThatThrownBy(() -> loop.runUntil(() -> false, 10))
        .isInstanceOfSatisfying(
            LimitReached.class,
            e -> {
              assertThat(e.limitName()).isEqualTo("events per run");
              assertThat(e.limit()).isEqualTo(1_000);
            })
        .hasMessage("limit reached: events per run (1000) at virtual time 0 ns");
    assertThat(loop.eventsExecuted()).isEqualTo(1_000);
    assertThat(loop.queuedCount()).isEqualTo(1);
  }

  @Test
  void tooManyQueuedTasksHitTheQueueLimit() {
    EventLoop loop = new EventLoop(bytes -> 0, new EventLoop.Limits(1_000, 3, 1_000_000));
    for (int i = 0; i < 3; i++) {
      loop.schedule(1, () -> {});
    }
    assertThatThrownBy(() -> loop.schedule(1, () -> {}))
        .isInstanceOfSatisfying(
            LimitReached.class, e -> assertThat(e.limitName()).isEqualTo("queued tasks"));
  }

  @Test
  void waitingPastTheTimeLimitHitsItButSchedulingPastItDoesNot() {
    EventLoop loop = new EventLoop(bytes -> 0, new EventLoop.Limits(1_000, 10, 1_000));
    loop.schedule(1_001, record(loop, "late"));
    loop.schedule(Long.MAX_VALUE, record(loop, "never"));
    loop.advance(999);
    assertThat(ran).isEmpty();
    assertThatThrownBy(loop::drain)
        .isInstanceOfSatisfying(
            LimitReached.class,
            e -> assertThat(e.limitName()).isEqualTo("virtual time per run, ns"));
    assertThat(loop.queuedCount()).isEqualTo(2);
    assertThatThrownBy(() -> loop.advance(2_000))
        .isInstanceOfSatisfying(
            LimitReached.class,
            e -> assertThat(e.limitName()).isEqualTo("virtual time per run, ns"));
    assertThat(loop.nowNs()).isEqualTo(1_000);
  }

  @Test
  void longDeadlineIsFineWhenTheConditionComesTrueWithinTheTimeLimit() {
    EventLoop loop = new EventLoop(bytes -> 0, new EventLoop.Limits(1_000, 10, 1_000));
    loop.schedule(500, record(loop, "done"));
    assertThat(loop.runUntil(() -> !ran.isEmpty(), Long.MAX_VALUE)).isTrue();
    assertThat(loop.nowNs()).isEqualTo(500);
  }

  @Test
  void ioLatencyDelegatesToTheLatencyModel() {
    EventLoop loop = newLoop();
    assertThat(loop.ioLatencyNs(4096)).isEqualTo(5096);
    assertThatThrownBy(() -> new EventLoop(bytes -> -1).ioLatencyNs(1))
        .isInstanceOf(InvariantViolation.class);
  }

  @Test
  void aThrowingTaskLeavesTheLoopUsable() {
    EventLoop loop = newLoop();
    loop.schedule(1, () -> {
      throw new IllegalStateException("boom");
    });
    loop.schedule(2, record(loop, "after"));
    assertThatThrownBy(loop::runOne).hasMessage("boom");
    assertThat(loop.nowNs()).isEqualTo(1);
    loop.drain();
    assertThat(ran).containsExactly("after@2");
  }
}
