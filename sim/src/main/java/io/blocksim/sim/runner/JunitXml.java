package io.blocksim.sim.runner;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Writes JUnit XML so that CI systems show each case. */
public final class JunitXml {
  private JunitXml() {}

  public static void write(Path file, String suite, List<CaseResult> results) throws IOException {
    long failures = results.stream().filter(r -> !r.passed() && r.kind() != CaseResult.Kind.NOT_RUN)
        .count();
    long skipped = results.stream().filter(r -> r.kind() == CaseResult.Kind.NOT_RUN).count();
    StringBuilder xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.append("<testsuite name=\"").append(escape(suite)).append("\" tests=\"")
        .append(results.size()).append("\" failures=\"").append(failures)
        .append("\" skipped=\"").append(skipped).append("\">\n");
    for (CaseResult r : results) {
      xml.append("  <testcase classname=\"").append(escape(r.scenarioPath())).append("\" name=\"")
          .append(escape(r.caseName().isEmpty() ? r.scenarioPath() : r.caseName())).append('"');
      if (r.passed()) {
        xml.append("/>\n");
        continue;
      }
      xml.append(">\n");
      if (r.kind() == CaseResult.Kind.NOT_RUN) {
        xml.append("    <skipped message=\"").append(escape(r.failure())).append("\"/>\n");
      } else {
        xml.append("    <failure message=\"").append(escape(r.failure())).append("\">")
            .append(escape(r.log())).append("</failure>\n");
      }
      xml.append("  </testcase>\n");
    }
    xml.append("</testsuite>\n");
    Files.writeString(file, xml.toString(), StandardCharsets.UTF_8);
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
