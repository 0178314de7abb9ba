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
          + " blockdev-add copy-on-read)", null),
  // Planted for blocksim explore's checkers: each shows that one checker bites.
  STREAM_POPULATES_ZEROES("bug:stream-populates-zeroes", Kind.BUG,
      "stream's copy-on-read population writes zeroes instead of the data it copies (planted:"
          + " the data checker must flag it)",
      "driver/filter/CopyOnReadDriver (the population write of block-stream's filter)", null),
  BACKUP_SKIPS_COPY_BEFORE_WRITE("bug:backup-skips-copy-before-write", Kind.BUG,
      "a backup's copy-before-write filter lets guest writes through before the old data is"
          + " copied (planted: the backup-point-in-time checker must flag it)",
      "driver/filter/CopyBeforeWriteDriver (cbw_do_copy_before_write)", null),
  SET_SPEED_ANY_STATUS("bug:set-speed-any-status", Kind.BUG,
      "block-job-set-speed is accepted in every job status, against job.c's verb table"
          + " (planted: the job-state-machine checker must flag it)",
      "job/JobManager (the verb check)", null);

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
