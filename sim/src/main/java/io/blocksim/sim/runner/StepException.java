package io.blocksim.sim.runner;

/** A step could not be carried out (not a QMP error, which is a normal reply). */
public final class StepException extends Exception {
  public StepException(String message) {
    super(message);
  }

  public StepException(String message, Throwable cause) {
    super(message, cause);
  }
}
