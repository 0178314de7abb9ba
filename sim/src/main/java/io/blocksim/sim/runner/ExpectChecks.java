package io.blocksim.sim.runner;

import io.blocksim.sim.port.StepException;
import io.blocksim.sim.port.Backend;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import io.blocksim.sim.runner.CaseRunner.StepFailure;
import io.blocksim.sim.scenario.Step;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** The checks of an {@code expect:} step; each logs one line when it holds. */
final class ExpectChecks {
  private ExpectChecks() {}

  static void bitmap(Backend backend, Step.ExpectBitmap e, StringBuilder log)
      throws StepFailure, StepException {
    String what = "bitmap " + e.node() + " '" + e.name() + "'";
    Map<?, ?> found = null;
    boolean nodeExists = false;
    for (Map<String, Object> node : Observer.namedNodes(backend)) {
      if (!e.node().equals(node.get("node-name"))) {
        continue;
      }
      nodeExists = true;
      Object list = node.get("dirty-bitmaps");
      if (list instanceof List<?> bitmaps) {
        for (Object item : bitmaps) {
          Map<?, ?> info = (Map<?, ?>) item;
          String name = info.containsKey("name") ? (String) info.get("name") : "";
          if (name.equals(e.name())) {
            found = info;
            break;
          }
        }
      }
    }
    if (e.absent()) {
      if (found != null) {
        throw new StepFailure("expected " + what + " to be absent, but it exists: "
            + Json.compact(found));
      }
      log.append("expect ").append(what).append(": absent, OK\n");
      return;
    }
    if (!nodeExists) {
      throw new StepFailure("expected " + what + ", but there is no node '" + e.node() + "'");
    }
    if (found == null) {
      throw new StepFailure("expected " + what + ", but it does not exist");
    }
    List<String> checked = new ArrayList<>();
    compare(what, "count", e.count(), found.get("count"), checked);
    compare(what, "granularity", e.granularity(), found.get("granularity"), checked);
    compare(what, "recording", e.recording(), found.get("recording"), checked);
    compare(what, "busy", e.busy(), found.get("busy"), checked);
    compare(what, "persistent", e.persistent(), found.get("persistent"), checked);
    compare(what, "inconsistent", e.inconsistent(),
        Boolean.TRUE.equals(found.get("inconsistent")), checked);
    if (e.sha256() != null) {
      compare(what, "sha256", e.sha256(), Observer.sha256(backend, e.node(), e.name()), checked);
    }
    log.append("expect ").append(what).append(": ").append(String.join(", ", checked))
        .append(", OK\n");
  }

  private static void compare(String what, String field, Object expected, Object actual,
      List<String> checked) throws StepFailure {
    if (expected == null) {
      return;
    }
    boolean equal = expected instanceof Number en && actual instanceof Number an
        ? en.longValue() == an.longValue()
        : Objects.equals(expected, actual);
    if (!equal) {
      throw new StepFailure("expected " + what + " " + field + " " + expected + ", got "
          + actual);
    }
    checked.add(field + " " + expected);
  }

  static void job(Backend backend, Step.ExpectJob e, StringBuilder log)
      throws StepFailure, StepException {
    String what = "job '" + e.id() + "'";
    Map<String, Object> found = null;
    for (Map<String, Object> job : Observer.jobs(backend)) {
      if (e.id().equals(job.get("id"))) {
        found = job;
      }
    }
    if (found == null) {
      if ("null".equals(e.status())) {
        log.append("expect ").append(what).append(": status null, OK\n");
        return;
      }
      throw new StepFailure("expected " + what + ", but query-jobs does not list it");
    }
    List<String> checked = new ArrayList<>();
    compare(what, "status", e.status(), found.get("status"), checked);
    compare(what, "error", e.error(), found.get("error"), checked);
    log.append("expect ").append(what).append(": ").append(String.join(", ", checked))
        .append(", OK\n");
  }

  static void imagesEqual(Backend backend, List<String> images, StringBuilder log)
      throws StepFailure, StepException {
    for (String other : images.subList(1, images.size())) {
      if (!backend.imagesEqual(images.get(0), other)) {
        throw new StepFailure("expected images " + images.get(0) + " and " + other
            + " to be equal, but their contents differ (sha256 "
            + backend.imageDigest(images.get(0)) + " vs " + backend.imageDigest(other) + ")");
      }
    }
    log.append("expect images-equal ").append(String.join(", ", images)).append(": OK\n");
  }

  static void event(Backend backend, Step.ExpectEvent e, StringBuilder log) throws StepFailure {
    for (QmpEvent event : backend.events()) {
      if (event.event().equals(e.event())
          && (e.data() == null || CaseRunner.contains(event.data(), e.data()))) {
        log.append("expect event ").append(e.event()).append(": OK\n");
        return;
      }
    }
    throw new StepFailure("expected event " + e.event()
        + (e.data() == null ? "" : " with data " + Json.compact(e.data()))
        + ", but it was not emitted");
  }
}
