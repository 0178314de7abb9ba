package io.blocksim.sim.tlc;

/**
 * The outcome of checking one implementation trace against a spec.
 *
 * @param kind what TLC concluded
 * @param firstUnmatchedState for {@link Kind#REJECTED}, the 1-based index of the first observed
 *     state that no behaviour of the spec matches; otherwise 0
 * @param violatedInvariant for {@link Kind#SPEC_VIOLATION}, the spec invariant the trace breaks
 * @param tlc the TLC run behind the verdict
 */
public record TraceVerdict(
    Kind kind, int firstUnmatchedState, String violatedInvariant, TlcResult tlc) {

  /** What a trace check concluded. */
  public enum Kind {
    /** Some behaviour of the spec produces exactly the observed states. */
    ACCEPTED,
    /** No behaviour of the spec gets past state {@code firstUnmatchedState}. */
    REJECTED,
    /** The trace is a behaviour of the spec, and it breaks one of the spec's invariants. */
    SPEC_VIOLATION,
    /** TLC could not check the trace (parse or configuration error, ...): see the output. */
    ERROR
  }

  /** Returns true when the trace was accepted. */
  public boolean accepted() {
    return kind == Kind.ACCEPTED;
  }
}
