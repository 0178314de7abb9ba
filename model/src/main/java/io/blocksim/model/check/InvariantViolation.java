package io.blocksim.model.check;

/** A violated invariant: a bug in the engine or in a semantics variant under test. */
public final class InvariantViolation extends RuntimeException {
  public InvariantViolation(String message) {
    super(message);
  }
}
