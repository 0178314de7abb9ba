package io.blocksim.sim.tlc;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks that a run of the implementation is a behaviour of a spec (trace validation,
 * tla-crosscheck.md §5): writes the run as a trace module, runs TLC on it, and reads the
 * verdict from the wrapper's {@code <<"TraceMatched", k>>} prints (accepted when k reaches the
 * trace's length; a violated invariant is the spec's own). The wrappers' {@code
 * TraceNotAccepted}, the inverted verdict of tla-crosscheck.md, is left out of the
 * configurations: TLC would print the whole accepted trace as a counterexample.
 */
public final class TraceChecker {
  private static final AtomicLong TRACE_COUNT = new AtomicLong();
  private static final Pattern MATCHED = Pattern.compile("<<\"TraceMatched\", (\\d+)>>");

  private TraceChecker() {}

  /**
   * Checks {@code states} against {@code target}; the spec and its trace wrapper are read from
   * {@code specsDir}, the generated {@code TraceN.tla/.cfg} and TLC's scratch files go under
   * {@code workDir}. {@code clusterCount} as in {@link TraceModuleWriter#write}.
   */
  public static TraceVerdict check(TraceTarget target, List<AbstractState> states,
      int clusterCount, Path specsDir, Path workDir) {
    String moduleName = "Trace" + TRACE_COUNT.incrementAndGet();
    Path traceDir = workDir.resolve("traces");
    TraceModuleWriter.Written written;
    try {
      written = TraceModuleWriter.write(moduleName, target, states, clusterCount, traceDir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    TlcResult result = TlcRunner.run(List.of(traceDir, specsDir), moduleName,
        written.configFile(), workDir, List.of("-deadlock"));
    return verdictOf(result, states.size());
  }

  /**
   * Returns how many observed states some behaviour matched: the wrappers print {@code
   * <<"TraceMatched", k>>} for each new best k; with no print, 1 if the initial state matched.
   */
  static int longestMatch(TlcResult result) {
    int longest = result.distinctStates() > 0 ? 1 : 0;
    Matcher matcher = MATCHED.matcher(result.output());
    while (matcher.find()) {
      longest = Math.max(longest, Integer.parseInt(matcher.group(1)));
    }
    return longest;
  }

  /**
   * Reads TLC's verdict on a trace of {@code length} states: accepted when some behaviour
   * matched every state (the wrapper printed {@code <<"TraceMatched", length>>}), rejected at
   * the first state none reached, a spec violation when a matched state breaks an invariant.
   */
  static TraceVerdict verdictOf(TlcResult result, int length) {
    if (result.exitCode() == TlcResult.EXIT_SAFETY && result.violatedInvariant() != null) {
      return new TraceVerdict(
          TraceVerdict.Kind.SPEC_VIOLATION, 0, result.violatedInvariant(), result);
    }
    if (result.exitCode() == TlcResult.EXIT_OK) {
      int matched = longestMatch(result);
      return matched >= length
          ? new TraceVerdict(TraceVerdict.Kind.ACCEPTED, 0, null, result)
          : new TraceVerdict(TraceVerdict.Kind.REJECTED, matched + 1, null, result);
    }
    return new TraceVerdict(TraceVerdict.Kind.ERROR, 0, null, result);
  }
}
