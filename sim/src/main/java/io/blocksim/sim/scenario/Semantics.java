package io.blocksim.sim.scenario;

import java.util.Collections;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;

/**
 * The named engine variants a scenario may switch on with {@code semantics:} (scenario-format.md):
 * known historical bugs ({@code bug:...}) and mailing-list proposals ({@code proposal:...}). Each
 * name maps to the one line {@code blocksim semantics} prints: what it changes and where it comes
 * from. A variant is added here when the engine implements it.
 */
public final class Semantics {
  private static final SortedMap<String, String> KNOWN = new TreeMap<>();

  static {
    KNOWN.put(
        "bug:always-drops-uncopied",
        "a backup with bitmap-mode=always that fails or is cancelled keeps only the successor's"
            + " writes and drops the clusters it never copied (planted, to show the checks bite)");
    KNOWN.put(
        "bug:write-unchanged-dirties",
        "copy-on-read population writes (BDRV_REQ_WRITE_UNCHANGED) dirty bitmaps, which QEMU 7.2"
            + " does not do");
  }

  private Semantics() {}

  /** Returns every known variant name with its one-line description, sorted by name. */
  public static SortedMap<String, String> known() {
    return Collections.unmodifiableSortedMap(KNOWN);
  }

  /** Returns the known variant names, sorted. */
  public static SortedSet<String> names() {
    return Collections.unmodifiableSortedSet(new java.util.TreeSet<>(KNOWN.keySet()));
  }
}
