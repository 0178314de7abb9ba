package io.blocksim.sim.scenario;

import io.blocksim.model.semantics.Variant;
import java.util.Collections;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;

/**
 * The named engine variants a scenario may switch on with {@code semantics:} (scenario-format.md):
 * known historical bugs ({@code bug:...}) and mailing-list proposals ({@code proposal:...}). Each
 * name maps to the one line {@code blocksim semantics} prints: what it changes and where it comes
 * from. The registry is the engine's {@link Variant}; this is its view for the CLI and parser.
 */
public final class Semantics {
  private static final SortedMap<String, String> KNOWN = new TreeMap<>();

  static {
    for (Variant v : Variant.values()) {
      KNOWN.put(v.spelling(), v.line());
    }
  }

  private Semantics() {}

  /** Returns every known variant name with its one-line description, sorted by name. */
  public static SortedMap<String, String> known() {
    return Collections.unmodifiableSortedMap(KNOWN);
  }

  /** Returns whether that name is a known variant of kind bug (a historical bug put back). */
  public static boolean isBug(String name) {
    return Variant.bySpelling(name).map(v -> v.kind() == Variant.Kind.BUG).orElse(false);
  }

  /** Returns the known variant names, sorted. */
  public static SortedSet<String> names() {
    return Collections.unmodifiableSortedSet(new java.util.TreeSet<>(KNOWN.keySet()));
  }
}
