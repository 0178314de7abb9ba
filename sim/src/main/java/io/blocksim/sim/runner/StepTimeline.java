package io.blocksim.sim.runner;

import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.port.Backend;
import io.blocksim.sim.scenario.Step;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Records, while a case runs, what the HTML report draws over virtual time: each step's start and
 * end, the events it saw emitted and the log lines it wrote. It is written into the case's
 * observations as {@code "timeline"} (an added field: the contract's fields are untouched), and
 * only where the backend runs on virtual time, so QEMU's recorded observations carry no clock.
 */
public final class StepTimeline {
  private final Backend backend;
  private final boolean enabled;
  private final List<Object> steps = new ArrayList<>();
  private Map<String, Object> open;
  private int openLogStart;

  public StepTimeline(Backend backend) {
    this.backend = backend;
    this.enabled = backend.virtualNowNs() != null;
  }

  /** Marks the start of a step; logLength and eventCount are the log's and events' sizes now. */
  public void begin(Step step, int logLength, int eventCount) {
    if (!enabled) {
      return;
    }
    open = new LinkedHashMap<>();
    open.put("step", step.index());
    open.put("line", step.location().line());
    describe(step, open);
    open.put("start_ns", backend.virtualNowNs());
    open.put("events_from", eventCount);
    openLogStart = logLength;
  }

  /** Marks the end of the step begun last (a no-op when none is open). */
  public void end(CharSequence log, int eventCount) {
    if (!enabled || open == null) {
      return;
    }
    open.put("end_ns", backend.virtualNowNs());
    open.put("events_to", eventCount);
    if (!"observe".equals(open.get("kind"))) {
      String text = log.subSequence(Math.min(openLogStart, log.length()), log.length())
          .toString();
      List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
      if (!lines.isEmpty() && lines.get(lines.size() - 1).isEmpty()) {
        lines.remove(lines.size() - 1);
      }
      open.put("output", lines);
    }
    steps.add(open);
    open = null;
  }

  /** Returns the {@code "timeline"} value, or null where the backend has no virtual time. */
  public Map<String, Object> toJson(List<QmpEvent> events) {
    if (!enabled) {
      return null;
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("end_ns", backend.virtualNowNs());
    List<Object> times = new ArrayList<>();
    for (QmpEvent event : events) {
      times.add(event.timestampNs());
    }
    json.put("events_ns", times);
    json.put("steps", steps);
    return json;
  }

  private static void describe(Step step, Map<String, Object> into) {
    if (step instanceof Step.Qmp s) {
      into.put("kind", "qmp");
      into.put("text", s.command()); // its arguments are the first line of its output
    } else if (step instanceof Step.Io s) {
      into.put("kind", "io");
      into.put("text", s.command());
      into.put("node", s.node());
    } else if (step instanceof Step.AwaitJob s) {
      into.put("kind", "await");
      into.put("text", "job " + s.job() + " " + s.status());
    } else if (step instanceof Step.AwaitEvent s) {
      into.put("kind", "await");
      into.put("text", "event " + s.event());
    } else if (step instanceof Step.Advance s) {
      into.put("kind", "advance");
      into.put("text", s.durationNs() + " ns");
    } else if (step instanceof Step.Observe s) {
      into.put("kind", "observe");
      into.put("text", s.label());
    } else if (step instanceof Step.Expect) {
      into.put("kind", "expect");
      into.put("text", "expect");
    } else if (step instanceof Step.Crash s) {
      into.put("kind", "crash");
      into.put("text", s.kind().name().toLowerCase(Locale.ROOT));
    } else if (step instanceof Step.Img s) {
      into.put("kind", "img");
      into.put("text", "qemu-img " + s.command());
    } else if (step instanceof Step.Log s) {
      into.put("kind", "log");
      into.put("text", s.text());
    }
  }
}
