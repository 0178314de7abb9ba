package io.blocksim.sim.scenario;

import io.blocksim.sim.scenario.YamlNode.Entry;
import io.blocksim.sim.scenario.YamlNode.Mapping;
import io.blocksim.sim.scenario.YamlNode.Scalar;
import io.blocksim.sim.scenario.YamlNode.Sequence;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.CollectionStartEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.events.NodeEvent;
import org.yaml.snakeyaml.events.ScalarEvent;
import org.yaml.snakeyaml.parser.Parser;
import org.yaml.snakeyaml.parser.ParserImpl;
import org.yaml.snakeyaml.reader.ReaderException;
import org.yaml.snakeyaml.reader.StreamReader;

/**
 * Builds a {@link YamlNode} tree from SnakeYAML's event stream, keeping every value's place.
 *
 * <p>We build the tree ourselves rather than use SnakeYAML's composer so that nothing is resolved
 * behind our back: explicit tags ({@code !foo}, {@code !!python/...}), anchors and aliases are
 * refused where they are written (aliases would let a small file expand without bound, and a
 * scenario needs neither), duplicate keys are reported at the second key, and scalars are typed
 * by the YAML 1.2 core schema.
 */
final class YamlReader {
  /** Deeper than any scenario needs; also bounds the recursion below. */
  static final int DEPTH_LIMIT = 40;

  private final Problems problems;
  private Parser parser;
  private boolean tooDeep;

  private YamlReader(Problems problems) {
    this.problems = problems;
  }

  /**
   * Returns the single document of the text, or null when it cannot be read (the reasons are in
   * {@code problems}).
   */
  static YamlNode read(String text, Problems problems) {
    return new YamlReader(problems).readDocument(text);
  }

  private YamlNode readDocument(String text) {
    LoaderOptions options = new LoaderOptions();
    options.setProcessComments(false);
    try {
      parser = new ParserImpl(new StreamReader(text), options);
      next(); // StreamStart
      if (parser.checkEvent(Event.ID.StreamEnd)) {
        problems.add(
            problems.at(1, 1),
            "the file is empty",
            "a scenario needs at least 'name' and 'steps'");
        return null;
      }
      next(); // DocumentStart
      YamlNode root = node(0);
      if (root == null) {
        return null;
      }
      next(); // DocumentEnd
      if (!parser.checkEvent(Event.ID.StreamEnd)) {
        problems.add(
            location(parser.peekEvent().getStartMark()),
            "a scenario file holds one YAML document, but a second one starts here",
            "remove the second '---' and what follows it, or move it to its own file");
        return null;
      }
      return root;
    } catch (MarkedYAMLException e) {
      Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
      String what = e.getProblem() != null ? e.getProblem() : e.getContext();
      String context = e.getProblem() != null && e.getContext() != null ? e.getContext() : null;
      if (context != null && e.getContextMark() != null) {
        Mark start = e.getContextMark();
        context += " that starts at line " + (start.getLine() + 1) + ", column "
            + (start.getColumn() + 1);
      }
      String message =
          what != null && what.contains("(TAB)")
              ? "a tab cannot start a token here"
              : oneLine(what) + (context == null ? "" : " (" + oneLine(context) + ")");
      problems.add(
          mark == null ? problems.at(1, 1) : location(mark),
          "invalid YAML: " + message,
          yamlHint(what));
      return null;
    } catch (ReaderException e) {
      problems.add(
          locationOfIndex(text, e.getPosition()),
          String.format(
              java.util.Locale.ROOT,
              "invalid character U+%04X: YAML allows only printable characters",
              e.getCodePoint()));
      return null;
    } catch (YAMLException e) {
      // Any other refusal by the YAML library is still bad input, never a crash.
      problems.add(problems.at(1, 1), "invalid YAML: " + oneLine(e.getMessage()));
      return null;
    }
  }

  private Event next() {
    return parser.getEvent();
  }

  /** Reads the node that starts at the next event; null after reporting when it must stop. */
  private YamlNode node(int depth) {
    Event event = next();
    Location where = location(event.getStartMark());
    if (depth > DEPTH_LIMIT) {
      problems.add(where, "values are nested more than " + DEPTH_LIMIT + " levels deep");
      tooDeep = true;
      return null;
    }
    if (event instanceof AliasEvent alias) {
      problems.add(
          where,
          "YAML aliases are not supported ('*" + alias.getAnchor() + "')",
          "write the value out, or use a matrix variable for what changes");
      return null;
    }
    // A refused tag or anchor is reported, and the value is kept so that the rest of the file
    // is still checked.
    refuseDecorations((NodeEvent) event, where);
    YamlNode result;
    if (event instanceof ScalarEvent scalar) {
      result =
          scalar.isPlain()
              ? Scalar.plain(where, scalar.getValue())
              : Scalar.string(where, scalar.getValue());
    } else if (event.is(Event.ID.SequenceStart)) {
      result = sequence(where, depth);
    } else {
      result = mapping(where, depth);
    }
    return result;
  }

  /** Reports an anchor or an explicit tag on a node. */
  private void refuseDecorations(NodeEvent event, Location where) {
    if (event.getAnchor() != null) {
      problems.add(
          where,
          "YAML anchors are not supported ('&" + event.getAnchor() + "')",
          "write the value out, or use a matrix variable for what changes");
    }
    String tag = null;
    if (event instanceof ScalarEvent scalar) {
      tag = scalar.getTag();
    } else if (event instanceof CollectionStartEvent collection) {
      tag = collection.getTag();
    }
    if (tag != null) {
      problems.add(
          where,
          "YAML tags are not supported ('" + shortTag(tag) + "')",
          "remove the tag; quote the value if it must be a string");
    }
  }

  private YamlNode sequence(Location where, int depth) {
    List<YamlNode> items = new ArrayList<>();
    boolean broken = false;
    while (!parser.checkEvent(Event.ID.SequenceEnd)) {
      YamlNode item = node(depth + 1);
      if (item == null) {
        if (!canContinue()) {
          return null;
        }
        broken = true;
      } else {
        items.add(item);
      }
    }
    next();
    return broken ? null : new Sequence(where, List.copyOf(items));
  }

  private YamlNode mapping(Location where, int depth) {
    List<Entry> entries = new ArrayList<>();
    Map<String, Location> seen = new HashMap<>();
    boolean broken = false;
    while (!parser.checkEvent(Event.ID.MappingEnd)) {
      YamlNode key = node(depth + 1);
      if (key == null && !canContinue()) {
        return null;
      }
      YamlNode value = node(depth + 1);
      if (value == null && !canContinue()) {
        return null;
      }
      // A refused key drops its entry (reported); a refused value breaks the whole map, because
      // checking a map with a hole in it would only add confusing messages.
      Scalar name = key == null ? null : checkKey(key, seen);
      if (key == null || value == null) {
        broken = true;
      } else if (name != null) {
        entries.add(new Entry(name, value));
      }
    }
    next();
    return broken ? null : new Mapping(where, List.copyOf(entries));
  }

  /** Returns the key as a scalar name, or null after reporting why it cannot be one. */
  private Scalar checkKey(YamlNode key, Map<String, Location> seen) {
    if (!(key instanceof Scalar scalar) || scalar.kind() == YamlNode.Kind.NULL) {
      problems.add(
          key.location(), "a key must be a name, but found " + key.describe(), null);
      return null;
    }
    if (scalar.text().equals("<<") && scalar.kind() == YamlNode.Kind.STRING) {
      problems.add(
          key.location(), "YAML merge keys ('<<') are not supported", "write the keys out");
      return null;
    }
    Location first = seen.putIfAbsent(scalar.text(), scalar.location());
    if (first != null) {
      problems.add(
          key.location(),
          "duplicate key '" + scalar.text() + "' (first written at line " + first.line() + ")",
          "remove one of them");
      return null;
    }
    return scalar;
  }

  /**
   * Returns whether reading may go on after a refused node: yes for refusals (tags, anchors,
   * aliases, bad keys), which leave the event stream in step; no once the depth limit is hit,
   * because that refusal leaves the node's children unread.
   */
  private boolean canContinue() {
    return !tooDeep;
  }

  private Location location(Mark mark) {
    return problems.at(mark.getLine() + 1, mark.getColumn() + 1);
  }

  private Location locationOfIndex(String text, int codePointIndex) {
    int line = 1;
    int column = 1;
    int offset = 0;
    for (int i = 0; i < codePointIndex && offset < text.length(); i++) {
      int c = text.codePointAt(offset);
      offset += Character.charCount(c);
      boolean crBeforeLf = c == '\r' && offset < text.length() && text.charAt(offset) == '\n';
      boolean lineBreak =
          c == '\n' || c == '\u0085' || c == '\u2028' || c == '\u2029' || c == '\r';
      if (lineBreak && !crBeforeLf) {
        line++;
        column = 1;
      } else {
        column++;
      }
    }
    return problems.at(line, column);
  }

  private static String shortTag(String tag) {
    String prefix = "tag:yaml.org,2002:";
    return tag.startsWith(prefix) ? "!!" + tag.substring(prefix.length()) : tag;
  }

  private static String oneLine(String text) {
    return text == null ? "syntax error" : text.strip().replaceAll("\\s+", " ");
  }

  private static String yamlHint(String problem) {
    if (problem != null && problem.contains("(TAB)")) {
      return "indent with spaces; YAML does not allow tabs there";
    }
    if (problem != null && problem.contains("got {")) {
      return "quote strings that hold '${var}' inside a flow map: \"${var}\"";
    }
    return null;
  }
}
