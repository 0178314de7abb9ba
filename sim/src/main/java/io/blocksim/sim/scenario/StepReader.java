package io.blocksim.sim.scenario;

import io.blocksim.sim.scenario.YamlNode.Entry;
import io.blocksim.sim.scenario.YamlNode.Kind;
import io.blocksim.sim.scenario.YamlNode.Mapping;
import io.blocksim.sim.scenario.YamlNode.Scalar;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Turns one step's map (already substituted for its case) into a {@link Step}. Reports unknown
 * keys, missing and mistyped values; returns null when the step has problems.
 */
final class StepReader {
  static final List<String> KINDS =
      List.of("qmp", "io", "await", "advance", "observe", "expect", "crash", "img", "log",
          "nbd-map");

  /** QEMU 7.2's JobStatus names (qapi/job.json), in its order. */
  static final List<String> JOB_STATUSES =
      List.of(
          "undefined", "created", "running", "paused", "ready", "standby", "waiting", "pending",
          "aborting", "concluded", "null");

  static final long DEFAULT_TIMEOUT_NS = 60_000_000_000L;
  static final String DIRTY_BITMAP_CONTEXT = "qemu:dirty-bitmap:";

  private static final List<String> COMMON = List.of("when", "comment");
  private static final Map<String, List<String>> OWN_KEYS =
      Map.of(
          "qmp", List.of("args", "error"),
          "io", List.of("node", "error"),
          "await", List.of("timeout"),
          "advance", List.of(),
          "observe", List.of("images"),
          "expect", List.of(),
          "crash", List.of(),
          "img", List.of("error"),
          "nbd-map", List.of("context", "error"),
          "log", List.of());
  private static final List<String> EXPECT_KEYS =
      List.of("bitmap", "job", "images-equal", "event");
  private static final List<String> BITMAP_KEYS =
      List.of(
          "node", "name", "count", "granularity", "recording", "busy", "persistent",
          "inconsistent", "sha256", "absent");
  private static final Pattern QMP_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]*");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  private final Problems problems;
  private final boolean simOnly;
  private final ScenarioPaths paths;

  StepReader(Problems problems, boolean simOnly) {
    this.problems = problems;
    this.simOnly = simOnly;
    this.paths = new ScenarioPaths(problems);
  }

  /** Returns the kind key of a step map, or null after reporting that there is not exactly one. */
  String kindOf(Mapping step, String subject) {
    List<Entry> kinds = new ArrayList<>();
    for (Entry e : step.entries()) {
      if (KINDS.contains(e.key().text())) {
        kinds.add(e);
      }
    }
    String takes = "a step takes exactly one of: " + String.join(", ", KINDS);
    if (kinds.isEmpty()) {
      boolean reported = false;
      for (Entry e : step.entries()) {
        String key = e.key().text();
        List<String> owners = kindsTaking(key);
        if (!owners.isEmpty()) {
          problems.add(
              e.key().location(),
              subject + " has '" + key + "' but no action",
              "'" + key + "' belongs to " + String.join(" or ", owners.stream()
                  .map(StepReader::aStep).toList()) + "; add '" + owners.get(0) + ": ...'");
          reported = true;
        } else if (!COMMON.contains(key)) {
          problems.add(
              e.key().location(),
              "unknown step key '" + key + "' in " + subject,
              Nodes.hintFor(key, KINDS, takes));
          reported = true;
        }
      }
      if (!reported) {
        problems.add(step.location(), subject + " has no action", takes);
      }
      return null;
    }
    if (kinds.size() > 1) {
      List<String> names = kinds.stream().map(e -> e.key().text()).toList();
      problems.add(
          kinds.get(1).key().location(),
          "a step takes exactly one action, but " + subject + " has: " + String.join(", ", names),
          "split it into " + names.size() + " steps");
      return null;
    }
    return kinds.get(0).key().text();
  }

  /** Returns "a qmp step", "an io step", ... */
  private static String aStep(String kind) {
    return ("aeiou".indexOf(kind.charAt(0)) >= 0 ? "an " : "a ") + kind + " step";
  }

  /** Returns the step kinds that take a key of their own, in the order of {@link #KINDS}. */
  private static List<String> kindsTaking(String key) {
    List<String> owners = new ArrayList<>();
    for (String kind : KINDS) {
      if (OWN_KEYS.get(kind).contains(key)) {
        owners.add(kind);
      }
    }
    return owners;
  }

  /** Returns the step, or null when it has problems (they are reported). */
  Step read(Mapping step, int index) {
    String subject = "step " + index;
    String kind = kindOf(step, subject);
    if (kind == null) {
      return null;
    }
    List<String> allowed = new ArrayList<>(List.of(kind));
    allowed.addAll(OWN_KEYS.get(kind));
    allowed.addAll(COMMON);
    for (Entry e : step.entries()) {
      String key = e.key().text();
      if (!allowed.contains(key)) {
        problems.add(
            e.key().location(),
            "unknown key '" + key + "' in " + subject + " (" + aStep(kind) + ")",
            Nodes.hintFor(key, allowed, aStep(kind) + " takes: " + String.join(", ", allowed)));
      }
    }
    YamlNode commentNode = step.get("comment");
    String comment =
        commentNode == null ? null : Nodes.text(commentNode, "'comment' in " + subject, problems);
    Location at = step.location();
    YamlNode value = step.get(kind);
    String what = "'" + kind + "' in " + subject;
    return switch (kind) {
      case "qmp" -> qmp(step, index, at, comment, value, subject);
      case "io" -> io(step, index, at, comment, value, subject);
      case "await" -> await(step, index, at, comment, value, subject);
      case "advance" -> {
        Long ns = Nodes.durationNs(value, what, problems);
        yield ns == null ? null : new Step.Advance(index, at, comment, ns);
      }
      case "observe" -> observe(step, index, at, comment, value, subject);
      case "expect" -> expect(index, at, comment, value, subject);
      case "crash" -> crash(index, at, comment, value, what);
      case "img" -> {
        String command = Nodes.nonEmptyText(value, what, problems);
        if (command != null) {
          paths.checkImg(value, command, what);
        }
        String error = optionalText(step, "error", subject);
        yield command == null ? null : new Step.Img(index, at, comment, command, error);
      }
      case "log" -> {
        String text = Nodes.text(value, what, problems);
        yield text == null ? null : new Step.Log(index, at, comment, text);
      }
      case "nbd-map" -> nbdMap(step, index, at, comment, value, subject);
      default -> throw new IllegalStateException("step kind " + kind);
    };
  }

  private Step qmp(
      Mapping step, int index, Location at, String comment, YamlNode value, String subject) {
    String command = Nodes.nonEmptyText(value, "'qmp' in " + subject, problems);
    if (command != null && !QMP_NAME.matcher(command).matches()) {
      problems.add(
          value.location(),
          "'" + command + "' is not a QMP command name",
          "write the command name only, such as block-dirty-bitmap-add, and its arguments"
              + " under 'args'");
      command = null;
    }
    Map<String, Object> args = Map.of();
    YamlNode argsNode = step.get("args");
    if (argsNode != null) {
      Mapping mapping = Nodes.mapping(argsNode, "'args' in " + subject, problems);
      args = mapping == null ? null : Nodes.qmpObject(mapping, problems);
      if (mapping != null && command != null) {
        paths.checkQmp(command, mapping, subject);
      }
    }
    String error = optionalText(step, "error", subject);
    if (command == null || args == null) {
      return null;
    }
    return new Step.Qmp(index, at, comment, command, args, error);
  }

  private Step io(
      Mapping step, int index, Location at, String comment, YamlNode value, String subject) {
    String command = Nodes.nonEmptyText(value, "'io' in " + subject, problems);
    YamlNode nodeNode = Nodes.required(step, "node", subject + " (an io step)", problems);
    String node = nodeNode == null ? null : Nodes.nonEmptyText(nodeNode, "'node' in " + subject,
        problems);
    String error = optionalText(step, "error", subject);
    if (command != null) {
      paths.checkIo(value, command, "'io' in " + subject);
    }
    if (command == null || node == null) {
      return null;
    }
    return new Step.Io(index, at, comment, command, node, error);
  }

  private Step nbdMap(
      Mapping step, int index, Location at, String comment, YamlNode value, String subject) {
    String export = Nodes.nonEmptyText(value, "'nbd-map' in " + subject, problems);
    String context = "base:allocation";
    YamlNode contextNode = step.get("context");
    if (contextNode != null) {
      context = Nodes.nonEmptyText(contextNode, "'context' in " + subject, problems);
      if (context != null && !context.equals("base:allocation")
          && !(context.startsWith(DIRTY_BITMAP_CONTEXT)
              && context.length() > DIRTY_BITMAP_CONTEXT.length())) {
        problems.add(
            contextNode.location(),
            "'" + context + "' is not a metadata context blocksim reads",
            "use base:allocation or qemu:dirty-bitmap:NAME");
        context = null;
      }
    }
    String error = optionalText(step, "error", subject);
    if (export == null || context == null) {
      return null;
    }
    return new Step.NbdMap(index, at, comment, export, context, error);
  }

  private Step await(
      Mapping step, int index, Location at, String comment, YamlNode value, String subject) {
    Mapping await = Nodes.mapping(value, "'await' in " + subject, problems);
    if (await == null) {
      return null;
    }
    String inner = "'await' of " + subject;
    boolean isJob = await.get("job") != null;
    boolean isEvent = await.get("event") != null;
    List<String> allowed =
        isJob ? List.of("job", "status", "timeout")
            : isEvent ? List.of("event", "data", "timeout")
                : List.of("job", "status", "event", "data", "timeout");
    if (isJob && isEvent) {
      problems.add(
          await.entry("event").key().location(),
          inner + " has both 'job' and 'event'",
          "await one thing per step");
      return null;
    }
    Nodes.checkKeys(
        await, allowed, "key", inner,
        isJob ? "an await for a job" : isEvent ? "an await for an event" : "an await",
        problems);
    if (!isJob && !isEvent) {
      problems.add(
          await.location(),
          inner + " needs 'job' (with 'status') or 'event'",
          "for example: await: {job: j1, status: concluded}");
      return null;
    }
    Long timeoutNs = timeout(step, await, subject);
    if (isJob) {
      String job = Nodes.nonEmptyText(await.get("job"), "'job' in " + subject, problems);
      YamlNode statusNode = Nodes.required(await, "status", inner, problems);
      String status = statusNode == null ? null : jobStatus(statusNode, "'status' in " + subject);
      if (job == null || status == null || timeoutNs == null) {
        return null;
      }
      return new Step.AwaitJob(index, at, comment, job, status, timeoutNs);
    }
    String event = Nodes.nonEmptyText(await.get("event"), "'event' in " + subject, problems);
    Map<String, Object> data = optionalData(await, subject);
    if (event == null || data == null || timeoutNs == null) {
      return null;
    }
    return new Step.AwaitEvent(index, at, comment, event, data, timeoutNs);
  }

  /** Returns the timeout, given in the await map or beside it (not both), default 60s. */
  private Long timeout(Mapping step, Mapping await, String subject) {
    Entry outside = step.entry("timeout");
    Entry inside = await.entry("timeout");
    if (outside != null && inside != null) {
      problems.add(
          outside.key().location(),
          "'timeout' of " + subject + " is given twice (also at line " + inside.key().location()
              .line() + ")",
          "keep one of them");
      return null;
    }
    Entry given = outside != null ? outside : inside;
    if (given == null) {
      return DEFAULT_TIMEOUT_NS;
    }
    Long ns = Nodes.durationNs(given.value(), "'timeout' in " + subject, problems);
    if (ns != null && ns == 0) {
      problems.add(given.value().location(), "'timeout' in " + subject + " must be more than 0");
      return null;
    }
    return ns;
  }

  private Step observe(
      Mapping step, int index, Location at, String comment, YamlNode value, String subject) {
    String label = Nodes.nonEmptyText(value, "'observe' in " + subject, problems);
    YamlNode imagesNode = step.get("images");
    List<String> images =
        imagesNode == null ? List.of() : Nodes.texts(imagesNode, "'images' in " + subject,
            problems);
    if (images != null) {
      paths.checkNames(imagesNode, images, "'images' in " + subject);
    }
    if (label == null || images == null) {
      return null;
    }
    return new Step.Observe(index, at, comment, label, images);
  }

  private Step expect(int index, Location at, String comment, YamlNode value, String subject) {
    Mapping expect = Nodes.mapping(value, "'expect' in " + subject, problems);
    if (expect == null) {
      return null;
    }
    String inner = "'expect' of " + subject;
    Nodes.checkKeys(expect, EXPECT_KEYS, "check", inner, "'expect'", problems);
    if (expect.entries().isEmpty()) {
      problems.add(
          expect.location(), inner + " checks nothing", "it takes: " + String.join(", ",
              EXPECT_KEYS));
      return null;
    }
    int before = problems.reports();
    YamlNode bitmapNode = expect.get("bitmap");
    YamlNode jobNode = expect.get("job");
    YamlNode equalNode = expect.get("images-equal");
    YamlNode eventNode = expect.get("event");
    Step.ExpectBitmap bitmap = bitmapNode == null ? null : expectBitmap(bitmapNode, subject);
    Step.ExpectJob job = jobNode == null ? null : expectJob(jobNode, subject);
    List<String> equal = equalNode == null ? null : imagesEqual(equalNode, subject);
    Step.ExpectEvent event = eventNode == null ? null : expectEvent(eventNode, subject);
    if (problems.reports() != before) {
      return null;
    }
    return new Step.Expect(index, at, comment, bitmap, job, equal, event);
  }

  private Step.ExpectBitmap expectBitmap(YamlNode node, String subject) {
    String inner = "'bitmap' check of " + subject;
    Mapping m = Nodes.mapping(node, inner, problems);
    if (m == null) {
      return null;
    }
    Nodes.checkKeys(m, BITMAP_KEYS, "key", inner, "a bitmap check", problems);
    YamlNode nodeNode = Nodes.required(m, "node", inner, problems);
    YamlNode nameNode = m.get("name");
    if (nameNode == null) {
      problems.add(
          m.location(), inner + " needs 'name'", "write name: \"\" for the anonymous bitmap");
    }
    String nodeName =
        nodeNode == null ? null : Nodes.nonEmptyText(nodeNode, "'node' in " + inner, problems);
    String name = nameNode == null ? null : Nodes.text(nameNode, "'name' in " + inner, problems);
    Long count = optional(m, "count", key -> Nodes.size(m.get(key), "'count' in " + inner,
        problems));
    Long granularity =
        optional(m, "granularity", key -> Nodes.size(m.get(key), "'granularity' in " + inner,
            problems));
    if (granularity != null && granularity == 0) {
      problems.add(m.get("granularity").location(), "'granularity' in " + inner
          + " must be more than 0");
    }
    Boolean recording = optionalBool(m, "recording", inner);
    Boolean busy = optionalBool(m, "busy", inner);
    Boolean persistent = optionalBool(m, "persistent", inner);
    Boolean inconsistent = optionalBool(m, "inconsistent", inner);
    String sha256 = optional(m, "sha256", key -> Nodes.text(m.get(key), "'sha256' in " + inner,
        problems));
    if (sha256 != null && !SHA256.matcher(sha256).matches()) {
      problems.add(
          m.get("sha256").location(),
          "'sha256' in " + inner + " must be 64 lower-case hex digits, but found '" + sha256 + "'",
          "copy it from the output of x-debug-block-dirty-bitmap-sha256");
    }
    if (sha256 != null && "".equals(name)) {
      problems.add(
          m.get("sha256").location(),
          "an anonymous bitmap has no sha256",
          "name the bitmap, or drop 'sha256'");
    }
    Boolean absent = optionalBool(m, "absent", inner);
    if (Boolean.TRUE.equals(absent)) {
      for (Entry e : m.entries()) {
        String key = e.key().text();
        if (!List.of("node", "name", "absent").contains(key) && BITMAP_KEYS.contains(key)) {
          problems.add(
              e.key().location(),
              "'" + key + "' cannot be checked on a bitmap that must be absent",
              "remove '" + key + "' or 'absent: true'");
        }
      }
    }
    return new Step.ExpectBitmap(
        nodeName, name, count, granularity, recording, busy, persistent, inconsistent, sha256,
        Boolean.TRUE.equals(absent));
  }

  private Step.ExpectJob expectJob(YamlNode node, String subject) {
    String inner = "'job' check of " + subject;
    Mapping m = Nodes.mapping(node, inner, problems);
    if (m == null) {
      return null;
    }
    Nodes.checkKeys(m, List.of("id", "status", "error"), "key", inner, "a job check", problems);
    YamlNode idNode = Nodes.required(m, "id", inner, problems);
    String id = idNode == null ? null : Nodes.nonEmptyText(idNode, "'id' in " + inner, problems);
    String status = optional(m, "status", key -> jobStatus(m.get(key), "'status' in " + inner));
    String error = optional(m, "error", key -> Nodes.text(m.get(key), "'error' in " + inner,
        problems));
    return new Step.ExpectJob(id, status, error);
  }

  private List<String> imagesEqual(YamlNode node, String subject) {
    String what = "'images-equal' in " + subject;
    List<String> names = Nodes.texts(node, what, problems);
    if (names != null && names.size() != 2) {
      problems.add(
          node.location(),
          what + " must name exactly 2 nodes or image files, but found " + names.size(),
          "for example: images-equal: [drive0, target0]");
      return null;
    }
    if (names != null) {
      paths.checkNames(node, names, what);
    }
    return names;
  }

  private Step.ExpectEvent expectEvent(YamlNode node, String subject) {
    String inner = "'event' check of " + subject;
    Mapping m = Nodes.mapping(node, inner, problems);
    if (m == null) {
      return null;
    }
    Nodes.checkKeys(m, List.of("event", "data"), "key", inner, "an event check", problems);
    YamlNode eventNode = Nodes.required(m, "event", inner, problems);
    String event =
        eventNode == null ? null : Nodes.nonEmptyText(eventNode, "'event' in " + inner, problems);
    Map<String, Object> data = optionalData(m, subject);
    return new Step.ExpectEvent(event, data);
  }

  private Step crash(int index, Location at, String comment, YamlNode value, String what) {
    String kind = Nodes.text(value, what, problems);
    if (kind == null) {
      return null;
    }
    switch (kind) {
      case "process":
        return new Step.Crash(index, at, comment, Step.CrashKind.PROCESS);
      case "power":
        if (!simOnly) {
          problems.add(
              value.location(),
              "'crash: power' is sim-only, but the scenario is not",
              "add 'sim-only: true' at the top level");
          return null;
        }
        return new Step.Crash(index, at, comment, Step.CrashKind.POWER);
      default:
        problems.add(
            value.location(),
            what + " must be 'process' or 'power', but found '" + kind + "'",
            Nodes.hintFor(kind, List.of("process", "power"), null));
        return null;
    }
  }

  /** Returns a QEMU JobStatus name. A plain {@code null} is the status named "null". */
  private String jobStatus(YamlNode node, String what) {
    if (node instanceof Scalar s && s.kind() == Kind.NULL && s.text().equals("null")) {
      return "null";
    }
    String status = Nodes.text(node, what, problems);
    if (status != null && !JOB_STATUSES.contains(status)) {
      problems.add(
          node.location(),
          what + " must be a job status, but found '" + status + "'",
          Nodes.hintFor(status, JOB_STATUSES, "job statuses: " + String.join(", ",
              JOB_STATUSES)));
      return null;
    }
    return status;
  }

  private Map<String, Object> optionalData(Mapping m, String subject) {
    YamlNode dataNode = m.get("data");
    if (dataNode == null) {
      return Map.of();
    }
    Mapping data = Nodes.mapping(dataNode, "'data' in " + subject, problems);
    return data == null ? null : Nodes.qmpObject(data, problems);
  }

  private String optionalText(Mapping step, String key, String subject) {
    YamlNode node = step.get(key);
    return node == null ? null : Nodes.text(node, "'" + key + "' in " + subject, problems);
  }

  private Boolean optionalBool(Mapping m, String key, String inner) {
    return optional(m, key, k -> Nodes.bool(m.get(k), "'" + k + "' in " + inner, problems));
  }

  private static <T> T optional(Mapping m, String key, java.util.function.Function<String, T> read) {
    return m.get(key) == null ? null : read.apply(key);
  }
}
