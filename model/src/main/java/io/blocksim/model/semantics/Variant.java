package io.blocksim.model.semantics;

import java.util.Optional;

/**
 * The named engine variants (scenario-format.md's {@code semantics:}): known historical bugs
 * ({@code bug:...}) put back and mailing-list proposals ({@code proposal:...}). The one registry
 * the engine, {@code blocksim semantics} and the scenario parser read; a variant is added here
 * when the engine implements it, and its {@link #actsIn} names the code that checks it.
 */
public enum Variant {
  ALWAYS_DROPS_UNCOPIED("bug:always-drops-uncopied", Kind.BUG,
      "a backup with bitmap-mode=always that fails or is cancelled keeps only the successor's"
          + " writes and drops the clusters it never copied (planted, to show the checks bite)",
      "job/BackupJob (the bitmap's fate at the end of the job)", null),
  WRITE_UNCHANGED_DIRTIES("bug:write-unchanged-dirties", Kind.BUG,
      "copy-on-read population writes (BDRV_REQ_WRITE_UNCHANGED) dirty bitmaps, which QEMU 7.2"
          + " does not do",
      "driver/filter/CopyOnReadDriver (the population write; block-stream's filter and"
          + " blockdev-add copy-on-read)", null);

  /** Whether a variant puts back a bug or tries a proposal. */
  public enum Kind {
    BUG, PROPOSAL
  }

  private final String spelling;
  private final Kind kind;
  private final String description;
  private final String actsIn;
  private final String fixingCommit;

  Variant(String spelling, Kind kind, String description, String actsIn, String fixingCommit) {
    this.spelling = spelling;
    this.kind = kind;
    this.description = description;
    this.actsIn = actsIn;
    this.fixingCommit = fixingCommit;
  }

  /** The name scenarios and {@code --semantics} use ({@code bug:...}). */
  public String spelling() {
    return spelling;
  }

  public Kind kind() {
    return kind;
  }

  /** The one line {@code blocksim semantics} prints. */
  public String description() {
    return description;
  }

  /** Where in model/ the variant acts. */
  public String actsIn() {
    return actsIn;
  }

  /** The QEMU commit that fixed the bug, if known (empty for planted bugs and proposals). */
  public Optional<String> fixingCommit() {
    return Optional.ofNullable(fixingCommit);
  }

  /** Returns the variant with that spelling, if any. */
  public static Optional<Variant> bySpelling(String spelling) {
    for (Variant v : values()) {
      if (v.spelling.equals(spelling)) {
        return Optional.of(v);
      }
    }
    return Optional.empty();
  }
}
