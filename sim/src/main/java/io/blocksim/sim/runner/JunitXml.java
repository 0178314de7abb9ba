package io.blocksim.sim.runner;

import io.blocksim.sim.files.OutputFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Writes JUnit XML so that CI systems show each case: one test class per scenario file (named by
 * its path with {@code /} as the package separator and without {@code .yaml}, so no dot splits
 * it), one test per case, its wall time, and the outcome as JUnit tells them apart: a {@code
 * failure} for a case that failed or differed, an {@code error} typed {@code
 * invariant-violation} or {@code simulation-limit} for a bug found or a limit reached, {@code
 * skipped} for a case that was not run.
 */
public final class JunitXml {
  private JunitXml() {}

  /** How a test ended, in JUnit's terms. */
  public enum Outcome { PASSED, FAILED, INVARIANT_VIOLATION, LIMIT, SKIPPED }

  /** One test: {@code detail} is the failure's body (a log, differences), or null. */
  public record TestCase(String scenarioPath, String caseName, Outcome outcome, String message,
      String detail, long nanos) {}

  /** Returns the test of a {@code blocksim run} case. */
  public static TestCase of(CaseResult r, long nanos) {
    Outcome outcome = switch (r.kind()) {
      case PASSED -> Outcome.PASSED;
      case FAILED -> Outcome.FAILED;
      case INVARIANT -> Outcome.INVARIANT_VIOLATION;
      case LIMIT -> Outcome.LIMIT;
      case NOT_RUN -> Outcome.SKIPPED;
    };
    return new TestCase(r.scenarioPath(), r.caseName(), outcome, r.failure(), r.log(), nanos);
  }

  /** Returns the JUnit class name of a scenario file: scenarios/a/b-c.yaml is scenarios.a.b-c. */
  public static String className(String scenarioPath) {
    String stem = scenarioPath.endsWith(".yaml")
        ? scenarioPath.substring(0, scenarioPath.length() - ".yaml".length()) : scenarioPath;
    List<String> parts = new ArrayList<>();
    for (String part : stem.split("/")) {
      if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part.replace('.', '_'));
      }
    }
    return String.join(".", parts);
  }

  /** Returns the test name of a case: its matrix name, or the file's name without a matrix. */
  static String testName(TestCase t) {
    if (!t.caseName().isEmpty()) {
      return t.caseName();
    }
    String path = t.scenarioPath();
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** Writes the tests of a {@code blocksim run} as one suite. */
  public static void write(Path file, String suite, List<CaseResult> results) throws IOException {
    List<TestCase> tests = new ArrayList<>();
    for (CaseResult r : results) {
      tests.add(of(r, 0));
    }
    writeTests(file, suite, tests);
  }

  /** Writes the tests as one suite, atomically. */
  public static void writeTests(Path file, String suite, List<TestCase> tests)
      throws IOException {
    long failures = tests.stream().filter(t -> t.outcome() == Outcome.FAILED).count();
    long errors = tests.stream().filter(t -> t.outcome() == Outcome.INVARIANT_VIOLATION
        || t.outcome() == Outcome.LIMIT).count();
    long skipped = tests.stream().filter(t -> t.outcome() == Outcome.SKIPPED).count();
    long nanos = tests.stream().mapToLong(TestCase::nanos).sum();
    StringBuilder xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.append("<testsuite name=\"").append(escape(suite)).append("\" tests=\"")
        .append(tests.size()).append("\" failures=\"").append(failures)
        .append("\" errors=\"").append(errors).append("\" skipped=\"").append(skipped)
        .append("\" time=\"").append(seconds(nanos)).append("\">\n");
    for (TestCase t : tests) {
      xml.append("  <testcase classname=\"").append(escape(className(t.scenarioPath())))
          .append("\" name=\"").append(escape(testName(t))).append("\" time=\"")
          .append(seconds(t.nanos())).append('"');
      if (t.outcome() == Outcome.PASSED) {
        xml.append("/>\n");
        continue;
      }
      xml.append(">\n");
      switch (t.outcome()) {
        case SKIPPED -> xml.append("    <skipped message=\"").append(escape(t.message()))
            .append("\"/>\n");
        case FAILED -> element(xml, "failure", "failed", t);
        case INVARIANT_VIOLATION -> element(xml, "error", "invariant-violation", t);
        case LIMIT -> element(xml, "error", "simulation-limit", t);
        default -> throw new IllegalStateException(t.outcome().name());
      }
      xml.append("  </testcase>\n");
    }
    xml.append("</testsuite>\n");
    OutputFiles.write(file, xml.toString());
  }

  private static void element(StringBuilder xml, String name, String type, TestCase t) {
    xml.append("    <").append(name).append(" type=\"").append(type).append("\" message=\"")
        .append(escape(t.message())).append("\">").append(escape(t.detail())).append("</")
        .append(name).append(">\n");
  }

  private static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.3f", nanos / 1e9);
  }

  private static String escape(String s) {
    if (s == null) {
      return "";
    }
    StringBuilder out = new StringBuilder();
    for (char c : s.toCharArray()) {
      switch (c) {
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '&' -> out.append("&amp;");
        case '"' -> out.append("&quot;");
        default -> {
          if (c < 0x20 && c != '\n' && c != '\t') {
            out.append(' ');
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }
}
