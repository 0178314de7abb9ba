package io.blocksim.sim.scenario;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits an {@code img:} step's command line into arguments as a POSIX shell would for the simple
 * cases scenario files use: blanks separate words; single quotes keep text verbatim; double quotes
 * keep blanks; a backslash outside single quotes escapes the next character. No expansion of any
 * kind happens, since the command never reaches a shell.
 */
public final class ShellWords {
  private ShellWords() {}

  /** Returns the words; an unterminated quote is an error. */
  public static List<String> split(String commandLine) {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    boolean inWord = false;
    char quote = 0;
    for (int i = 0; i < commandLine.length(); i++) {
      char c = commandLine.charAt(i);
      if (quote == '\'') {
        if (c == '\'') {
          quote = 0;
        } else {
          word.append(c);
        }
      } else if (c == '\\' && i + 1 < commandLine.length()) {
        word.append(commandLine.charAt(++i));
        inWord = true;
      } else if (quote == '"') {
        if (c == '"') {
          quote = 0;
        } else {
          word.append(c);
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
        inWord = true;
      } else if (c == ' ' || c == '\t' || c == '\n') {
        if (inWord) {
          words.add(word.toString());
          word.setLength(0);
          inWord = false;
        }
      } else {
        word.append(c);
        inWord = true;
      }
    }
    if (quote != 0) {
      throw new IllegalArgumentException("unterminated " + quote + " quote in: " + commandLine);
    }
    if (inWord) {
      words.add(word.toString());
    }
    return words;
  }
}
