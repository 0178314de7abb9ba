package io.blocksim.sim.tlc;

/**
 * What one TLC run reported.
 *
 * @param module the TLA+ module checked
 * @param config the configuration file name
 * @param exitCode TLC's exit status ({@code tlc2.output.EC.ExitStatus}): 0 no error, 10 assumption,
 *     11 deadlock, 12 invariant violated, 13 liveness, 14 assert, 75-77 evaluation, 150 parse, 151
 *     config, 153 system, 255 other
 * @param violatedInvariant the name of the violated invariant, or null
 * @param distinctStates distinct states found (at the point of an error, if any), or -1 if TLC did
 *     not say
 * @param generatedStates states generated, or -1
 * @param depth depth of the state graph search, or -1
 * @param millis time the run took (for reports only; never compared)
 * @param output TLC's output with the tool-mode markers removed
 * @param errorText TLC's own error messages (or its last lines when it printed none), "" if none
 */
public record TlcResult(
    String module,
    String config,
    int exitCode,
    String violatedInvariant,
    long distinctStates,
    long generatedStates,
    int depth,
    long millis,
    String output,
    String errorText) {

  /** A result without error text (a run that passed, or one made up by a test). */
  public TlcResult(String module, String config, int exitCode, String violatedInvariant,
      long distinctStates, long generatedStates, int depth, long millis, String output) {
    this(module, config, exitCode, violatedInvariant, distinctStates, generatedStates, depth,
        millis, output, "");
  }

  /** Exit status of a run that found no error. */
  public static final int EXIT_OK = 0;

  /** Exit status of a run that found a deadlock. */
  public static final int EXIT_DEADLOCK = 11;

  /** Exit status of a run that found an invariant violation. */
  public static final int EXIT_SAFETY = 12;

  /** Returns true when the run finished without finding an error. */
  public boolean passed() {
    return exitCode == EXIT_OK;
  }

  /** Returns a short phrase for the result, e.g. "pass" or "violation of NoLostWrite". */
  public String verdict() {
    if (exitCode == EXIT_OK) {
      return "pass";
    }
    if (exitCode == EXIT_SAFETY && violatedInvariant != null) {
      return "violation of " + violatedInvariant;
    }
    if (exitCode == EXIT_DEADLOCK) {
      return "deadlock";
    }
    return "error (exit " + exitCode + ")";
  }
}
