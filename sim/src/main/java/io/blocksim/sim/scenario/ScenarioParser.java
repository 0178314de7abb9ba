package io.blocksim.sim.scenario;

import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.scenario.YamlNode.Entry;
import io.blocksim.sim.scenario.YamlNode.Mapping;
import io.blocksim.sim.scenario.YamlNode.Scalar;
import io.blocksim.sim.scenario.YamlNode.Sequence;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a scenario file (scenario-format.md) into a {@link Scenario} with its matrix expanded
 * into cases. Every problem in the file is reported at once, each located, as a {@link
 * ScenarioError}; no other exception escapes for any content.
 *
 * <p>Choices the contract leaves open, fixed here:
 *
 * <ul>
 *   <li>Scalars follow the YAML 1.2 core schema: only {@code true}/{@code false} are booleans
 *       ({@code on}, {@code off}, {@code yes}, {@code no} are strings); {@code 0x10} and {@code
 *       0o17} are integers; floats are refused wherever a value is read.
 *   <li>YAML tags, anchors, aliases and merge keys are refused; so are duplicate keys and a
 *       second document.
 *   <li>A field that takes a string also takes any other non-null scalar as written ({@code
 *       observe: 1} is the label "1").
 *   <li>{@code ${var}} is substituted in the strings of {@code images} and {@code steps} (not in
 *       keys, not in {@code when}); {@code $${} writes a literal {@code ${}. Inside a longer string
 *       the value is inserted as written in the matrix.
 *   <li>A {@code when} value must be one of the variable's values, so a misspelt value is an error
 *       rather than a step that never runs.
 *   <li>Absent optional values: description "", args and event data empty maps, observe images
 *       an empty list, await timeout 60s; unchecked expect fields null.
 *   <li>An image's {@code backing} must be an image listed before it; its format, if not given,
 *       is that image's format.
 * </ul>
 */
public final class ScenarioParser {
  /** Larger files are refused before parsing. */
  public static final int MAX_FILE_BYTES = 1 << 20;

  /**
   * The largest image size accepted: {@code INT64_MAX} (qemu-img's limit) rounded down to a
   * whole 512-byte sector, so rounding a size up to sectors can never overflow.
   */
  public static final long MAX_IMAGE_SIZE_BYTES = Long.MAX_VALUE - 511;

  static final List<String> TOP_KEYS =
      List.of("name", "description", "seed", "sim-only", "semantics", "checkers", "schedules",
          "matrix", "images", "steps");
  static final List<String> IMAGE_KEYS =
      List.of("path", "format", "size", "backing", "backing-format", "cluster-size");
  static final List<String> FORMATS = List.of("qcow2", "raw");
  /** The invariant checkers {@code checkers:} may name (sim/checker's Checkers.names()). */
  public static final List<String> CHECKERS = List.of("job-state-machine", "data",
      "bitmap-coverage", "backup-point-in-time", "persistence", "write-unchanged",
      "engine-assertion");

  private static final String PATH_HINT = ScenarioPaths.HINT;

  private ScenarioParser() {}

  /** Parses a file, accepting the semantics variants of {@link Semantics#names()}. */
  public static Scenario parse(Path file, String displayPath) throws ScenarioError, IOException {
    return parse(file, displayPath, Semantics.names());
  }

  /**
   * Parses a file; {@code displayPath} is how messages and {@link Scenario#path()} name it, and
   * {@code knownSemantics} the variant names that {@code semantics:} may use.
   */
  public static Scenario parse(Path file, String displayPath, Set<String> knownSemantics)
      throws ScenarioError, IOException {
    long bytes = Files.size(file);
    if (bytes > MAX_FILE_BYTES) {
      Problems problems = new Problems(displayPath, "");
      problems.add(
          problems.at(1, 1),
          "the file has " + bytes + " bytes; a scenario file may have at most " + MAX_FILE_BYTES);
      problems.throwIfAny();
    }
    return parse(Files.readAllBytes(file), displayPath, knownSemantics);
  }

  /** Parses the bytes of a file (UTF-8, an optional byte order mark). */
  public static Scenario parse(byte[] content, String displayPath, Set<String> knownSemantics)
      throws ScenarioError {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    String text;
    try {
      text = decoder.decode(ByteBuffer.wrap(content)).toString();
    } catch (CharacterCodingException e) {
      String valid = validUtf8Prefix(content);
      Problems problems = new Problems(displayPath, valid);
      List<String> lines = Problems.splitLines(valid);
      problems.add(
          problems.at(lines.size(), lines.get(lines.size() - 1).length() + 1),
          "the file is not valid UTF-8",
          "save it as UTF-8");
      problems.throwIfAny();
      throw new IllegalStateException("unreachable");
    }
    return parseText(text, displayPath, knownSemantics);
  }

  /** Parses the text of a file. */
  public static Scenario parseText(String text, String displayPath, Set<String> knownSemantics)
      throws ScenarioError {
    String content = text.startsWith("\uFEFF") ? text.substring(1) : text;
    Problems problems = new Problems(displayPath, content);
    Scenario scenario = new ScenarioParser.Reading(problems, knownSemantics).read(content);
    problems.throwIfAny();
    return scenario;
  }

  /**
   * Checks a path from a scenario file: not empty, not absolute, no {@code ..} component, no
   * protocol prefix, not the scratch directory itself (see {@link ScenarioPaths}). Symbolic links
   * are refused where the files are seen: the real-QEMU backend and {@code --keep-images}.
   */
  public static void checkRelativePath(String path, Location where) throws ScenarioError {
    String problem = relativePathProblem(path);
    if (problem != null) {
      throw new ScenarioError(
          List.of(new ScenarioError.Problem(where, problem, PATH_HINT, null)));
    }
  }

  /** Returns the step kinds a scenario may use (scenario-format.md, Steps). */
  public static List<String> stepKinds() {
    return StepReader.KINDS;
  }

  /** Returns QEMU 7.2's JobStatus names, which awaits and job checks accept. */
  public static List<String> jobStatuses() {
    return StepReader.JOB_STATUSES;
  }

  /** Returns what is wrong with a scenario path, or null. */
  static String relativePathProblem(String path) {
    return ScenarioPaths.problem(path, true);
  }

  /** Returns the path without {@code .} and empty components, to compare two paths. */
  static String normalize(String path) {
    List<String> parts = new ArrayList<>();
    for (String part : path.split("/", -1)) {
      if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part);
      }
    }
    return String.join("/", parts);
  }

  private static String validUtf8Prefix(byte[] content) {
    CharsetDecoder decoder =
        StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(content);
    java.nio.CharBuffer out = java.nio.CharBuffer.allocate(content.length + 1);
    decoder.decode(in, out, true);
    out.flip();
    return out.toString();
  }

  /** The state of one parse. */
  private static final class Reading {
    private final Problems problems;
    private final Set<String> knownSemantics;

    Reading(Problems problems, Set<String> knownSemantics) {
      this.problems = problems;
      this.knownSemantics = knownSemantics;
    }

    /** Returns the scenario, or null when problems were reported. */
    Scenario read(String text) {
      YamlNode root = YamlReader.read(text, problems);
      if (root == null) {
        return null;
      }
      if (!(root instanceof Mapping top)) {
        problems.add(
            root.location(),
            "a scenario file must be a map with keys such as 'name' and 'steps', but found "
                + root.describe());
        return null;
      }
      Nodes.checkKeys(top, TOP_KEYS, "top-level key", null, "a scenario", problems);
      String name = name(top);
      String description = description(top);
      long seed = seed(top);
      List<String> semantics = semantics(top);
      boolean simOnly = simOnly(top, semantics);
      List<String> checkers = checkers(top);
      int schedules = schedules(top);
      Matrix matrix = Matrix.read(top.get("matrix"), problems);
      Sequence images = images(top);
      Sequence steps = steps(top);
      List<Scenario.Case> cases = new ArrayList<>();
      if (steps != null) {
        StepReader stepReader = new StepReader(problems, simOnly);
        for (Map<String, Scalar> values : matrix.cases()) {
          cases.add(expand(matrix, values, images, steps, stepReader));
        }
      }
      if (!problems.isEmpty()) {
        return null;
      }
      return new Scenario(
          problems.path(), name, description, seed, simOnly, semantics,
          matrix.javaValues(problems), Collections.unmodifiableList(cases), checkers,
          schedules);
    }

    /** The largest {@code schedules:}: each is a whole run of the case. */
    private static final int MAX_SCHEDULES = 1000;

    /** {@code schedules: N}: diff accepts QEMU's outcome if one of N schedules gives it. */
    private int schedules(Mapping top) {
      YamlNode node = top.get("schedules");
      if (node == null) {
        return 1;
      }
      Long n = Nodes.integer(node, "'schedules'", problems);
      if (n != null && (n < 1 || n > MAX_SCHEDULES)) {
        problems.add(node.location(), "'schedules' must be between 1 and " + MAX_SCHEDULES
            + ", but found " + n, "schedules: 8 lets diff try eight schedules of a racy case");
        return 1;
      }
      return n == null ? 1 : n.intValue();
    }

    /** {@code checkers: all} or a list of checker names (sim-only: checkers need the engine). */
    private List<String> checkers(Mapping top) {
      YamlNode node = top.get("checkers");
      if (node == null) {
        return List.of();
      }
      List<String> known = CHECKERS;
      List<String> names = new ArrayList<>();
      if (node instanceof Scalar) {
        String one = Nodes.nonEmptyText(node, "'checkers'", problems);
        if (one != null && !one.equals("all")) {
          problems.add(node.location(), "'checkers' must be 'all' or a list of checker names",
              "known checkers: " + String.join(", ", known));
        }
        return one == null ? List.of() : List.of("all");
      }
      Sequence seq = Nodes.sequence(node, "'checkers'", problems);
      if (seq == null) {
        return List.of();
      }
      for (YamlNode item : seq.items()) {
        String name = Nodes.nonEmptyText(item, "each item of 'checkers'", problems);
        if (name != null && !known.contains(name) && !name.equals("all")) {
          problems.add(item.location(), "unknown checker '" + name + "'",
              Nodes.hintFor(name, known, "known checkers: " + String.join(", ", known)));
        } else if (name != null) {
          names.add(name);
        }
      }
      return List.copyOf(names);
    }

    private String name(Mapping top) {
      YamlNode node = Nodes.required(top, "name", "the scenario", problems);
      if (node == null) {
        return null;
      }
      String name = Nodes.text(node, "'name'", problems);
      if (name != null && name.isBlank()) {
        problems.add(node.location(), "'name' must not be empty");
      } else if (name != null && (name.contains("\n") || name.contains("\r"))) {
        problems.add(
            node.location(),
            "'name' must be one line",
            "put the details in 'description'");
      }
      return name;
    }

    private String description(Mapping top) {
      YamlNode node = top.get("description");
      return node == null ? "" : Nodes.text(node, "'description'", problems);
    }

    private long seed(Mapping top) {
      YamlNode node = top.get("seed");
      if (node == null) {
        return 0;
      }
      Long seed = Nodes.integer(node, "'seed'", problems);
      if (seed != null && seed < 0) {
        problems.add(node.location(), "'seed' must not be negative, but found " + seed);
      }
      return seed == null ? 0 : seed;
    }

    private List<String> semantics(Mapping top) {
      YamlNode node = top.get("semantics");
      if (node == null) {
        return List.of();
      }
      Sequence seq = Nodes.sequence(node, "'semantics'", problems);
      if (seq == null) {
        return List.of();
      }
      Set<String> names = new LinkedHashSet<>();
      for (YamlNode item : seq.items()) {
        String name = Nodes.nonEmptyText(item, "each item of 'semantics'", problems);
        if (name == null) {
          continue;
        }
        if (!knownSemantics.contains(name)) {
          List<String> known = knownSemantics.stream().sorted().toList();
          problems.add(
              item.location(),
              "unknown semantics variant '" + name + "'",
              Nodes.hintFor(
                  name, known,
                  "known variants: " + String.join(", ", known)
                      + " ('blocksim semantics' describes them)"));
        } else if (!names.add(name)) {
          problems.add(item.location(), "semantics variant '" + name + "' is listed twice");
        }
      }
      return List.copyOf(names);
    }

    private boolean simOnly(Mapping top, List<String> semantics) {
      YamlNode node = top.get("sim-only");
      Boolean written = node == null ? null : Nodes.bool(node, "'sim-only'", problems);
      if (Boolean.FALSE.equals(written) && !semantics.isEmpty()) {
        problems.add(
            node.location(),
            "'sim-only' is false, but a scenario with semantics variants is sim-only",
            "remove 'sim-only: false'");
      }
      return Boolean.TRUE.equals(written) || !semantics.isEmpty();
    }

    private Sequence images(Mapping top) {
      YamlNode node = top.get("images");
      return node == null ? null : Nodes.sequence(node, "'images'", problems);
    }

    private Sequence steps(Mapping top) {
      YamlNode node = Nodes.required(top, "steps", "the scenario", problems);
      if (node == null) {
        return null;
      }
      Sequence steps = Nodes.sequence(node, "'steps'", problems);
      if (steps != null && steps.items().isEmpty()) {
        problems.add(node.location(), "'steps' must not be empty");
        return null;
      }
      return steps;
    }

    /** Returns one case: images and steps substituted, {@code when} applied. */
    private Scenario.Case expand(
        Matrix matrix, Map<String, Scalar> values, Sequence images, Sequence steps,
        StepReader stepReader) {
      Substitution substitution = new Substitution(matrix, values, problems);
      List<ImageSpec> imageSpecs =
          images == null
              ? List.of()
              : new ImageReader(problems).read((Sequence) substitution.apply(images, Set.of()));
      List<Step> caseSteps = new ArrayList<>();
      for (int i = 0; i < steps.items().size(); i++) {
        int index = i + 1;
        YamlNode raw = steps.items().get(i);
        if (!(raw instanceof Mapping step)) {
          problems.add(
              raw.location(),
              "step " + index + " must be a map, but found " + raw.describe(),
              "for example: - qmp: query-block-jobs");
          continue;
        }
        YamlNode when = step.get("when");
        if (when != null && !matrix.when(when, values, "step " + index, problems)) {
          continue;
        }
        Step parsed = stepReader.read((Mapping) substitution.apply(step, Set.of("when")), index);
        if (parsed != null) {
          caseSteps.add(parsed);
        }
      }
      if (caseSteps.isEmpty() && problems.isEmpty()) {
        problems.add(
            steps.location(),
            "case '" + Matrix.caseName(values) + "' has no steps: 'when' skips all of them");
      }
      Map<String, Object> variables = new LinkedHashMap<>();
      for (Map.Entry<String, Scalar> e : values.entrySet()) {
        variables.put(e.getKey(), Nodes.scalarValue(e.getValue(), "a matrix value", problems));
      }
      return new Scenario.Case(
          Matrix.caseName(values), Collections.unmodifiableMap(variables),
          Collections.unmodifiableList(imageSpecs), Collections.unmodifiableList(caseSteps));
    }
  }

  /** Reads the {@code images:} list of one case. */
  private static final class ImageReader {
    private final Problems problems;
    /** Images read so far, by normalized path, for backing references and duplicates. */
    private final Map<String, ImageSpec> byPath = new LinkedHashMap<>();

    ImageReader(Problems problems) {
      this.problems = problems;
    }

    List<ImageSpec> read(Sequence images) {
      List<ImageSpec> out = new ArrayList<>();
      for (int i = 0; i < images.items().size(); i++) {
        ImageSpec spec = image(images.items().get(i), "image " + (i + 1));
        if (spec != null) {
          out.add(spec);
        }
      }
      return out;
    }

    private ImageSpec image(YamlNode node, String subject) {
      Mapping m = Nodes.mapping(node, subject, problems);
      if (m == null) {
        return null;
      }
      int before = problems.reports();
      Nodes.checkKeys(m, IMAGE_KEYS, "key", subject, "an image", problems);
      String path = path(m, "path", subject);
      String format = format(m, "format", subject, true);
      Long size = size(m, subject);
      String backing = m.get("backing") == null ? null : path(m, "backing", subject);
      String backingFormat = format(m, "backing-format", subject, false);
      Long clusterSize = clusterSize(m, subject, format);
      if (backing != null) {
        backingFormat = checkBacking(m, subject, format, backing, backingFormat);
      } else if (backingFormat != null) {
        problems.add(
            m.entry("backing-format").key().location(),
            "'backing-format' in " + subject + " needs 'backing'");
      }
      if (path != null && byPath.containsKey(normalize(path))) {
        problems.add(m.get("path").location(), subject + ": image '" + path + "' is listed twice");
      }
      if (problems.reports() != before) {
        return null;
      }
      ImageSpec spec =
          new ImageSpec(path, format, size, backing, backingFormat, clusterSize, Map.of());
      byPath.put(normalize(path), spec);
      return spec;
    }

    private String path(Mapping m, String key, String subject) {
      YamlNode node = Nodes.required(m, key, subject, problems);
      String path = node == null ? null : Nodes.text(node, "'" + key + "' in " + subject,
          problems);
      if (path != null) {
        String problem = relativePathProblem(path);
        if (problem != null) {
          problems.add(node.location(), "'" + key + "' in " + subject + ": " + problem, PATH_HINT);
          return null;
        }
      }
      return path;
    }

    private String format(Mapping m, String key, String subject, boolean required) {
      YamlNode node = required ? Nodes.required(m, key, subject, problems) : m.get(key);
      String format = node == null ? null : Nodes.text(node, "'" + key + "' in " + subject,
          problems);
      if (format != null && !FORMATS.contains(format)) {
        problems.add(
            node.location(),
            "'" + key + "' in " + subject + " must be qcow2 or raw, but found '" + format + "'",
            Nodes.hintFor(format, FORMATS, null));
        return null;
      }
      return format;
    }

    private Long size(Mapping m, String subject) {
      YamlNode node = Nodes.required(m, "size", subject, problems);
      Long size = node == null ? null : Nodes.size(node, "'size' in " + subject, problems);
      // qemu-img create takes 0 and rounds any other size up to a multiple of 512.
      if (size != null && size > MAX_IMAGE_SIZE_BYTES) {
        problems.add(
            node.location(),
            "'size' in " + subject + " must be between 0 and " + MAX_IMAGE_SIZE_BYTES
                + " bytes, but found " + size);
        return null;
      }
      return size;
    }

    private Long clusterSize(Mapping m, String subject, String format) {
      YamlNode node = m.get("cluster-size");
      if (node == null) {
        return null;
      }
      Long size = Nodes.size(node, "'cluster-size' in " + subject, problems);
      if (size == null) {
        return null;
      }
      if ("raw".equals(format)) {
        problems.add(
            node.location(), "'cluster-size' in " + subject + " is for qcow2 images, not raw");
        return null;
      }
      if (size < 512 || size > 2 * 1024 * 1024 || Long.bitCount(size) != 1) {
        problems.add(
            node.location(),
            "'cluster-size' in " + subject + " must be a power of two between 512 and 2M,"
                + " but found " + size);
        return null;
      }
      return size;
    }

    /** Checks the backing reference; returns the backing format, inferred when not given. */
    private String checkBacking(
        Mapping m, String subject, String format, String backing, String backingFormat) {
      Location where = m.get("backing").location();
      if ("raw".equals(format)) {
        problems.add(where, subject + " is raw, and a raw image has no backing file");
        return null;
      }
      ImageSpec base = byPath.get(normalize(backing));
      if (base == null) {
        problems.add(
            where,
            "'backing' in " + subject + " is '" + backing
                + "', which is not an image listed before it",
            "list the backing image first; images are created in order");
        return null;
      }
      if (backingFormat == null) {
        return base.format();
      }
      if (!backingFormat.equals(base.format())) {
        problems.add(
            m.get("backing-format").location(),
            "'backing-format' in " + subject + " is " + backingFormat + ", but image '" + backing
                + "' is " + base.format());
        return null;
      }
      return backingFormat;
    }
  }
}
