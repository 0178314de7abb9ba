package io.blocksim.sim.checker;

import java.util.List;

/**
 * Persistence: after a process crash or a power loss, every qcow2 image passes the consistency
 * check (leaks allowed, corruption never), and every persistent bitmap on it is flagged in use
 * (it will open inconsistent) or is a version that was stored and covers every sector changed
 * since it was stored. The checks are those of {@code blocksim sweep}, made at the crash the run
 * itself has rather than at every possible one.
 */
final class PersistenceChecker implements Checker {
  /** Stored bitmap versions, recorded from the first persistent bitmap on (they cost). */
  private StoredVersions versions;

  @Override
  public String name() {
    return "persistence";
  }

  @Override
  public void after(Action action, World world) {
    if (versions == null && action instanceof Action.Qmp q && q.succeeded()
        && q.args() != null && q.toString().contains("persistent=true")) {
      // Before the first persistent bitmap no bitmap is stored: nothing to record before it.
      versions = new StoredVersions(world.backend().disk());
      world.backend().disk().addListener(versions);
      if (q.command().equals("transaction")) {
        // A transaction may already have stored the bitmap it added: a snapshot action's
        // commit reopens the node read-only (external_snapshot_commit), which stores it.
        versions.recordAll();
      }
    }
    if (!(action instanceof Action.Crash crash)) {
      return;
    }
    if (versions == null) {
      versions = new StoredVersions(world.backend().disk()); // Empty: no bitmap was ever stored.
      world.backend().disk().addListener(versions); // The run goes on: record from here on.
    }
    List<String> violations = CrashImages.violationsAfterCrash(world.backend().disk(), versions);
    if (!violations.isEmpty()) {
      world.fail("after %s: %s", crash.power() ? "a power loss" : "a process crash",
          String.join("; ", violations));
    }
  }
}
