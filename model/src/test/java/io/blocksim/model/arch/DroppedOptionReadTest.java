package io.blocksim.model.arch;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No option read and dropped (issue 11): a QMP argument read from {@code qapi.Args} only to
 * type-check it, its value thrown away ({@code args.optStr("x");} as a statement), is either
 * modelled (the value used) or refused by name ({@code Args.unmodelled}). The few reads whose
 * value cannot change what blocksim does are listed here, each with the reason.
 */
class DroppedOptionReadTest {
  /** file name + option -> why the value has no effect blocksim could show. */
  static final Map<String, String> ALLOWED = new TreeMap<>(Map.of(
      "Qcow2Creator.java:driver",
      "the union's discriminator, already dispatched on by CreateJob",
      "ExportCommands.java:fixed-iothread",
      "only says what to do when the move to 'iothread' fails; 'iothread' is refused",
      "ExportCommands.java:max-connections",
      "every NBD client of a case connects and disconnects within its step: no limit is reached",
      "ExportCommands.java:mode",
      "safe and hard differ only while a client is connected, which no QMP step sees",
      "CopyBeforeWriteDriver.java:cbw-timeout",
      "whole seconds; no copy blocksim makes takes that long, so the timeout never fires"));

  private static final Pattern COMMENT_OR_STRING = Pattern.compile(
      "/\\*.*?\\*/|//[^\\n]*|\"(?:\\\\.|[^\"\\\\\\n])*\"", Pattern.DOTALL);
  /** A statement that is nothing but a read of one argument. */
  private static final Pattern DISCARDED_READ = Pattern.compile(
      "^[a-zA-Z_]\\w*\\.(?:opt\\w*|get|has|bool|integer|str)\\(\\s*(\"[^\"]*\")[\\s\\S]*\\)$");

  /** Returns {@code File.java:option} for every discarded read in the sources under root. */
  static List<String> discardedReads(Path root) {
    List<String> found = new ArrayList<>();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(root)) {
      files = walk.filter(p -> p.toString().endsWith(".java")).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    for (Path file : files) {
      String source;
      try {
        source = Files.readString(file);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      // Keep string literals (the option's name), drop comments.
      String code = COMMENT_OR_STRING.matcher(source).replaceAll(m ->
          Matcher.quoteReplacement(m.group().startsWith("\"") ? m.group() : " "));
      for (String statement : code.split(";")) {
        String tail = statement.substring(Math.max(statement.lastIndexOf('{'),
            statement.lastIndexOf('}')) + 1).trim();
        Matcher m = DISCARDED_READ.matcher(tail);
        if (m.matches()) {
          String option = m.group(1);
          found.add(file.getFileName() + ":" + option.substring(1, option.length() - 1));
        }
      }
    }
    return found;
  }

  @Test
  void noArgumentIsReadOnlyToBeDropped() {
    List<String> found = discardedReads(
        PackageGraphTest.moduleRoot("model").resolve("src/main/java"));
    assertThat(found).as("arguments read and dropped (use the value, or Args.unmodelled)")
        .allMatch(ALLOWED::containsKey);
    assertThat(ALLOWED.keySet()).as("allowed reads that no longer exist").allMatch(
        found::contains);
  }

  @Test
  void aDiscardedReadIsFound(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
    Files.writeString(dir.resolve("X.java"), "class X {\n  void f(Args args) {\n"
        + "    String used = args.optStr(\"kept\");\n"
        + "    args.unmodelled(\"refused\", args.optBool(\"refused\"));\n"
        + "    // args.optStr(\"in-a-comment\");\n"
        + "    args.optEnum(\"dropped\",\n        List.of(\"a\", \"b\"));\n  }\n}\n");
    assertThat(discardedReads(dir)).containsExactly("X.java:dropped");
  }
}
