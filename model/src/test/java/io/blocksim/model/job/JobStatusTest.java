package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The transition and verb tables against docs/qemu-behaviour.md §5.1 and §5.2, row by row. */
class JobStatusTest {
  /** Lists the allowed targets of a status as the letters of §5.1's header. */
  private static String targets(JobStatus from) {
    String letters = "UCRPYSWDXEN";
    StringBuilder out = new StringBuilder();
    for (JobStatus to : JobStatus.values()) {
      if (from.canBecome(to)) {
        out.append(letters.charAt(to.ordinal()));
      }
    }
    return out.toString();
  }

  @Test
  void transitionTableMatchesQemu() {
    List<String> rows = new ArrayList<>();
    for (JobStatus s : JobStatus.values()) {
      rows.add(s.qapiName() + ":" + targets(s));
    }
    assertThat(rows).containsExactly("undefined:C", "created:RXN", "running:PYWX", "paused:R",
        "ready:SWX", "standby:Y", "waiting:DX", "pending:XE", "aborting:XE", "concluded:N",
        "null:");
  }

  @Test
  void verbTableMatchesQemu() {
    List<String> rows = new ArrayList<>();
    for (JobVerb verb : JobVerb.values()) {
      StringBuilder allowed = new StringBuilder();
      for (JobStatus s : JobStatus.values()) {
        if (verb.allowedIn(s)) {
          allowed.append(s.qapiName().charAt(0)).append(s.qapiName().charAt(1));
        }
      }
      rows.add(verb.qapiName() + ":" + allowed);
    }
    assertThat(rows).containsExactly("cancel:crruparestwape", "pause:crruparest",
        "resume:crruparest", "set-speed:crruparest", "complete:rest", "finalize:pe",
        "dismiss:co");
  }

  @Test
  void completedStatusesAreThoseAfterRun() {
    assertThat(JobStatus.WAITING.completed()).isTrue();
    assertThat(JobStatus.ABORTING.completed()).isTrue();
    assertThat(JobStatus.PAUSED.completed()).isFalse();
    assertThat(JobStatus.STANDBY.ready()).isTrue();
  }
}
