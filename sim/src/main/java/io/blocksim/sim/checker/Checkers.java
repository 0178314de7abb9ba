package io.blocksim.sim.checker;

import java.util.List;

/** Every named checker, in the order they run after an action (cheapest first). */
public final class Checkers {
  private Checkers() {}

  /** Fresh instances of every checker (they keep state per run). */
  public static List<Checker> all() {
    return List.of(new JobStateMachineChecker(), new DataChecker(), new BitmapCoverageChecker(),
        new BackupPointInTimeChecker(), new PersistenceChecker());
  }

  /** The names of every checker, and of the two kinds of violation the engine raises itself. */
  public static List<String> names() {
    List<String> names = new java.util.ArrayList<>();
    for (Checker checker : all()) {
      names.add(checker.name());
    }
    names.add("write-unchanged");
    names.add("engine-assertion");
    return names;
  }
}
