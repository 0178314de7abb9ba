package io.blocksim.sim.tlc;

import java.util.List;
import java.util.Set;

/** A spec that traces can be validated against, with its trace wrapper module. */
public enum TraceTarget {
  /** Bitmaps, successors and backup jobs: {@code specs/BitmapSync.tla}. */
  BITMAP_SYNC(
      "BitmapSync",
      "BitmapSyncTrace",
      Set.of("", "Stutter", "Write", "CreateTxn", "StartTxn", "AbortTxn", "Copy", "CopyDone",
          "Fail", "Cancel", "Finalize", "Dismiss", "Clear", "Merge", "Enable", "Disable",
          "Internal", "Reset"),
      List.of("NoLostWrite", "OutcomeTable", "RestoreChain")),

  /** Job statuses and verbs: {@code specs/JobLifecycle.tla}. */
  JOB_LIFECYCLE(
      "JobLifecycle",
      "JobLifecycleTrace",
      Set.of("", "Stutter", "Create", "Start", "DrainBegin", "DrainEnd", "PausePoint",
          "ResumePoint", "BecomeReady", "RunSucceeds", "RunFails", "NoticeCancel", "AllDone",
          "AutoFinalize", "Abort", "AutoDismiss", "Pause", "Resume", "SetSpeed", "Complete",
          "Finalize", "Dismiss", "Cancel"),
      List.of("TransitionAllowed", "VerbAllowed"));

  private final String specModule;
  private final String wrapperModule;
  private final Set<String> actions;
  private final List<String> invariants;

  TraceTarget(String specModule, String wrapperModule, Set<String> actions,
      List<String> invariants) {
    this.specModule = specModule;
    this.wrapperModule = wrapperModule;
    this.actions = actions;
    this.invariants = invariants;
  }

  /** Returns the name of the spec's module. */
  public String specModule() {
    return specModule;
  }

  /** Returns the module a generated trace module extends. */
  public String wrapperModule() {
    return wrapperModule;
  }

  /** Returns the action names an {@link AbstractState} may carry for this spec. */
  public Set<String> actions() {
    return actions;
  }

  /** Returns the spec's own invariants, checked along every trace. */
  public List<String> invariants() {
    return invariants;
  }
}
