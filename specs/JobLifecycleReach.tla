------------------------- MODULE JobLifecycleReach --------------------------
(***************************************************************************)
(* Reachability of every job status.  `seen` collects the statuses a       *)
(* behaviour has passed through; the invariant SomeStatusUnseen is         *)
(* EXPECTED to be violated: TLC then prints a behaviour that visits all of *)
(* them, which proves each one reachable.  If a status were unreachable,   *)
(* TLC would finish without error and the manifest check would fail.       *)
(***************************************************************************)
EXTENDS JobLifecycle

VARIABLE seen

ReachInit == Init /\ seen = {jobs[j].status : j \in Jobs}

ReachNext == Next /\ seen' = seen \cup {jobs'[j].status : j \in Jobs}

SomeStatusUnseen == seen # Statuses
=============================================================================
