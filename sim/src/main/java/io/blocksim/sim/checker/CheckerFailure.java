package io.blocksim.sim.checker;

import io.blocksim.model.check.InvariantViolation;

/**
 * Reads a violated invariant back: which checker reported it and what it said. A checker's
 * message starts with {@code checker NAME: }; a violation the engine raised itself is attributed
 * to {@code write-unchanged} (model/check/WriteUnchangedCheck) or {@code engine-assertion}.
 */
public record CheckerFailure(String checker, String message) {
  static final String PREFIX = "checker ";

  /** Returns the checker and message of a violation raised during a run. */
  public static CheckerFailure of(InvariantViolation violation) {
    return ofMessage(violation.getMessage());
  }

  /** As {@link #of}, from the message alone (as a scenario run reports it). */
  public static CheckerFailure ofMessage(String message) {
    int at = message.indexOf(PREFIX);
    if (at >= 0) {
      String rest = message.substring(at + PREFIX.length());
      int colon = rest.indexOf(": ");
      if (colon > 0) {
        return new CheckerFailure(rest.substring(0, colon), rest.substring(colon + 2));
      }
    }
    if (message.contains("a write-unchanged request")) {
      return new CheckerFailure("write-unchanged", message);
    }
    return new CheckerFailure("engine-assertion", message);
  }
}
