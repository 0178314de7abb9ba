package io.blocksim.sim.port;

/** A step could not be carried out (not a QMP error, which is a normal reply). */
public final class StepException extends Exception {
  public StepException(String message) {
    super(message);
  }

  public StepException(String message, Throwable cause) {
    super(message, cause);
  }
}
