package io.blocksim.sim.tlc;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the output of TLC run with {@code -tool}: messages framed by {@code @!@!@STARTMSG
 * code:severity @!@!@} and {@code @!@!@ENDMSG code @!@!@}. TLC's text is unversioned, so only the
 * few facts we need are taken from it, each by the message code that carries it.
 */
final class TlcOutput {
  /** "N states generated, M distinct states found, K states left on queue." */
  static final int CODE_STATS = 2199;

  /** "The depth of the complete state graph search is N." */
  static final int CODE_DEPTH = 2194;

  private static final Pattern START = Pattern.compile("@!@!@STARTMSG (\\d+):(\\d+) @!@!@");
  private static final Pattern END = Pattern.compile("@!@!@ENDMSG (\\d+) @!@!@");
  private static final Pattern STATS =
      Pattern.compile("([\\d,]+) states generated, ([\\d,]+) distinct states found");
  private static final Pattern DEPTH = Pattern.compile("search is (\\d+)");
  private static final Pattern INVARIANT = Pattern.compile("Invariant (\\w+) is violated");

  /** TLC's severity of an error message ({@code tlc2.output.MP.ERROR}); 2 is a TLC bug. */
  static final int SEVERITY_ERROR = 1;

  static final int SEVERITY_TLC_BUG = 2;

  /** One framed message. */
  record Message(int code, int severity, String text) {
    Message(int code, String text) {
      this(code, 0, text);
    }
  }

  private final List<Message> messages;
  private final String plainText;
  private final List<String> unframed;

  private TlcOutput(List<Message> messages, String plainText, List<String> unframed) {
    this.messages = messages;
    this.plainText = plainText;
    this.unframed = unframed;
  }

  static TlcOutput parse(String raw) {
    List<Message> messages = new ArrayList<>();
    StringBuilder plain = new StringBuilder();
    StringBuilder current = null;
    List<String> unframed = new ArrayList<>();
    int code = 0;
    int severity = 0;
    for (String line : raw.split("\n", -1)) {
      Matcher start = START.matcher(line);
      if (start.find()) {
        code = Integer.parseInt(start.group(1));
        severity = Integer.parseInt(start.group(2));
        current = new StringBuilder();
        continue;
      }
      if (END.matcher(line).find()) {
        if (current != null) {
          messages.add(new Message(code, severity, current.toString().strip()));
        }
        current = null;
        continue;
      }
      if (current != null) {
        current.append(line).append('\n');
      } else if (!line.isBlank() && !line.startsWith("Parsing file ")
          && !line.startsWith("Semantic processing of module ")) {
        unframed.add(line); // SANY's parse and semantic errors come unframed.
      }
      plain.append(line).append('\n');
    }
    return new TlcOutput(List.copyOf(messages), plain.toString(), List.copyOf(unframed));
  }

  List<Message> messages() {
    return messages;
  }

  String plainText() {
    return plainText;
  }

  /** Returns {generated, distinct} from the last statistics message, or {-1, -1}. */
  long[] stateCounts() {
    long[] counts = {-1, -1};
    for (Message message : messages) {
      Matcher matcher = STATS.matcher(message.text());
      if (message.code() == CODE_STATS && matcher.find()) {
        counts[0] = Long.parseLong(matcher.group(1).replace(",", ""));
        counts[1] = Long.parseLong(matcher.group(2).replace(",", ""));
      }
    }
    return counts;
  }

  int depth() {
    int depth = -1;
    for (Message message : messages) {
      Matcher matcher = DEPTH.matcher(message.text());
      if (message.code() == CODE_DEPTH && matcher.find()) {
        depth = Integer.parseInt(matcher.group(1));
      }
    }
    return depth;
  }

  /**
   * Returns TLC's own error messages (SANY's parse and semantic errors, printed unframed, then
   * configuration and evaluation errors, a TLC bug), one after another, or, when TLC printed none in its framed form (it could not start), the last
   * lines of its output. Shown when a check ends in an error nobody expected.
   */
  String errorText() {
    List<String> errors = new ArrayList<>(unframed);
    for (Message message : messages) {
      if (message.severity() == SEVERITY_ERROR || message.severity() == SEVERITY_TLC_BUG) {
        errors.add(message.text());
      }
    }
    if (!errors.isEmpty()) {
      return String.join("\n", errors);
    }
    String[] lines = plainText.strip().split("\n");
    return String.join("\n",
        java.util.Arrays.asList(lines).subList(Math.max(0, lines.length - 15), lines.length));
  }

  /** Returns the name of the first invariant reported as violated, or null. */
  String violatedInvariant() {
    for (Message message : messages) {
      Matcher matcher = INVARIANT.matcher(message.text());
      if (matcher.find()) {
        return matcher.group(1);
      }
    }
    return null;
  }
}
