-------------------------- MODULE JobLifecycleTrace --------------------------
(***************************************************************************)
(* Trace validation against JobLifecycle (tla-crosscheck.md §5); the same  *)
(* scheme as BitmapSyncTrace.  Each observed state is a record:            *)
(*   action - the JobLifecycle action that produced it ("" = any, or no    *)
(*            change; "Stutter" = no change), or one of the wrapper's own  *)
(*            below;                                                       *)
(*   jobs   - job id -> QEMU status (an absent id: not yet created, or     *)
(*            already gone);                                               *)
(*   seen   - {"jobs"} when jobs were observed.                            *)
(* Optional fields (JobTraceModuleWriter writes them; a record without     *)
(* them leaves the choice to TLC):                                         *)
(*   job    - the job the action is taken by ("" = any);                   *)
(*   type, af, ad - Create's job type, auto-finalize and auto-dismiss;     *)
(*   force  - Cancel's force;                                              *)
(*   verb   - for "Refused": the verb QEMU refused ("cancel", "pause", ...)*)
(*   group  - for "GroupCancel": the other members of the transaction.     *)
(* The other record fields (bitmaps, successors) are ignored here.         *)
(*                                                                         *)
(* The wrapper's own actions:                                              *)
(*   Aborts      - run() ends in aborting: RunFails or NoticeCancel (the   *)
(*                 job's cancelled flag decides which, so naming both      *)
(*                 admits no other status sequence);                       *)
(*   TxnAbort    - a transaction whose later action failed force-cancels   *)
(*                 the jobs it created (still "created"): JobLifecycle's   *)
(*                 Cancel with force, taken by QEMU itself;                *)
(*   GroupCancel - another member of the job's grouped transaction         *)
(*                 (`group`) failed or was force-cancelled, so QEMU        *)
(*                 force-cancels this one (job_completed_txn_abort):       *)
(*                 Cancel with force, taken by QEMU itself;                *)
(*   EarlyFail   - the creating command failed after it created the job:   *)
(*                 created -> null at once (QEMU's job_early_fail; the     *)
(*                 table allows the change, no JobLifecycle action makes   *)
(*                 it);                                                    *)
(*   ErrorStop   - an I/O error with the error action "stop"               *)
(*                 (BLOCK_JOB_ERROR action=stop): QEMU pauses the job as   *)
(*                 job-pause would (user_paused, so job-resume resumes it);*)
(*   DismissUnstarted - a job that concluded without ever starting (it   *)
(*                 was cancelled in created) is dismissed at once, whatever *)
(*                 auto-dismiss (job_conclude_locked: auto_dismiss ||      *)
(*                 !job_started);                                          *)
(*   Complete    - also a second job-complete, which QEMU accepts.        *)
(*   Refused     - QEMU refused `verb` for `job`: nothing changes, and the *)
(*                 spec must refuse it too (its action is not ENABLED);    *)
(*   Reset       - every variable back to Init: the process was killed     *)
(*                 (its jobs die with it), or a batch's next run begins.   *)
(***************************************************************************)
EXTENDS JobLifecycle, Integers, Sequences, TLC

CONSTANT Trace

\* TLC does not cache the value of a constant bound to a definition (Trace <- TraceLog): each
\* Trace[k] rebuilt the whole log (measured: 22 s instead of 2 s for a 360-state trace). A TLC
\* register holds the value once built.
ASSUME TLCSet(2, Trace)
Tr == TLCGet(2)

VARIABLE i

StatusMatches(spec, seen) ==
    IF seen \in {"null", "undefined"} THEN spec \in {"undefined", "null"} ELSE spec = seen

Matches(jb, e) ==
    "jobs" \in e.seen =>
        \A j \in Jobs :
            StatusMatches(jb[j].status, IF j \in DOMAIN e.jobs THEN e.jobs[j] ELSE "null")

\* The value of an optional field as a set of candidates: {e[f]} when logged, else all.
Logged(e, f, all) == IF f \in DOMAIN e THEN {e[f]} ELSE all
JobsOf(e) == IF "job" \in DOMAIN e /\ e.job # "" THEN {e.job} ELSE Jobs

\* The spec's action for a QMP verb (QEMU's verbs as JobLifecycle names them).
VerbAction(verb, j, force) ==
    CASE verb = "cancel"    -> Cancel(j, force)
      [] verb = "pause"     -> Pause(j)
      [] verb = "resume"    -> Resume(j)
      [] verb = "set-speed" -> SetSpeed(j)
      [] verb = "complete"  -> Complete(j)
      [] verb = "finalize"  -> Finalize(j)
      [] verb = "dismiss"   -> Dismiss(j)

Reset ==
    /\ jobs' = [j \in Jobs |-> NoJob]
    /\ lastTransition' = <<>>
    /\ lastVerb' = <<>>

\* block_job_error_action(): a job that meets an I/O error while it runs, with action stop.
ErrorStop(j) ==
    /\ jobs[j].status \in {"running", "ready"}
    /\ jobs' = [jobs EXCEPT ![j].userPaused = TRUE]
    /\ UNCHANGED <<lastTransition, lastVerb>>

Step(e) ==
    LET a == e.action IN
    \/ a = "" /\ (Next \/ UNCHANGED vars)
    \/ a = "Stutter" /\ UNCHANGED vars
    \/ a = "Create" /\ \E j \in JobsOf(e), type \in Logged(e, "type", Types),
                          af \in Logged(e, "af", BOOLEAN), ad \in Logged(e, "ad", BOOLEAN) :
                          Create(j, type, af, ad)
    \/ a = "Start" /\ \E j \in JobsOf(e) : Start(j)
    \/ a = "DrainBegin" /\ \E j \in JobsOf(e) : DrainBegin(j)
    \/ a = "DrainEnd" /\ \E j \in JobsOf(e) : DrainEnd(j)
    \/ a = "PausePoint" /\ \E j \in JobsOf(e) : PausePoint(j)
    \/ a = "ResumePoint" /\ \E j \in JobsOf(e) : ResumePoint(j)
    \/ a = "BecomeReady" /\ \E j \in JobsOf(e) : BecomeReady(j)
    \/ a = "RunSucceeds" /\ \E j \in JobsOf(e) : RunSucceeds(j)
    \/ a = "RunFails" /\ \E j \in JobsOf(e) : RunFails(j)
    \/ a = "NoticeCancel" /\ \E j \in JobsOf(e) : NoticeCancel(j)
    \/ a = "Aborts" /\ \E j \in JobsOf(e) : RunFails(j) \/ NoticeCancel(j)
    \/ a = "AllDone" /\ \E j \in JobsOf(e) : AllDone(j)
    \/ a = "AutoFinalize" /\ \E j \in JobsOf(e) : AutoFinalize(j)
    \/ a = "Abort" /\ \E j \in JobsOf(e) : Abort(j)
    \/ a = "AutoDismiss" /\ \E j \in JobsOf(e) : AutoDismiss(j)
    \/ a = "Pause" /\ \E j \in JobsOf(e) : Pause(j)
    \/ a = "Resume" /\ \E j \in JobsOf(e) : Resume(j)
    \/ a = "SetSpeed" /\ \E j \in JobsOf(e) : SetSpeed(j)
    \/ a = "Complete" /\ \E j \in JobsOf(e) : Complete(j)
    \/ a = "Finalize" /\ \E j \in JobsOf(e) : Finalize(j)
    \/ a = "Dismiss" /\ \E j \in JobsOf(e) : Dismiss(j)
    \/ a = "Cancel" /\ \E j \in JobsOf(e), force \in Logged(e, "force", BOOLEAN) : Cancel(j, force)
    \/ a = "TxnAbort" /\ \E j \in JobsOf(e) : jobs[j].status = "created" /\ Cancel(j, TRUE)
    \/ a = "GroupCancel" /\ \E j \in JobsOf(e) :
                            /\ \E k \in e.group : k # j /\ (jobs[k].failed \/ jobs[k].cancelled)
                            /\ Cancel(j, TRUE)
    \/ a = "DismissUnstarted" /\ \E j \in JobsOf(e) :
                            /\ jobs[j].status = "concluded" /\ jobs[j].cancelled
                            /\ Become(j, "null")
    \/ a = "EarlyFail" /\ \E j \in JobsOf(e) : jobs[j].status = "created" /\ Become(j, "null")
    \/ a = "ErrorStop" /\ \E j \in JobsOf(e) : ErrorStop(j)
    \/ a = "Refused" /\ UNCHANGED vars
                     /\ \A j \in JobsOf(e), force \in Logged(e, "force", BOOLEAN) :
                            ~ENABLED VerbAction(e.verb, j, force)
    \/ a = "Reset" /\ Reset

TraceInit == Init /\ i = 1 /\ Matches(jobs, Tr[1])

\* Steps the implementation need not log: drained sections change no status.
Hidden == \E j \in Jobs : DrainBegin(j) \/ DrainEnd(j)

\* TLC register 1 holds the longest prefix of Trace matched so far; each new best is printed
\* so that a rejected trace can name the first state no behaviour reaches.
ASSUME TLCSet(1, 1)

NoteMatched(k) == k > TLCGet(1) => (TLCSet(1, k) /\ PrintT(<<"TraceMatched", k>>))

TraceNext ==
    \/ /\ i < Len(Tr)
       /\ Step(Tr[i + 1])
       /\ Matches(jobs', Tr[i + 1])
       /\ i' = i + 1
       /\ NoteMatched(i + 1)
    \/ /\ Hidden
       /\ Matches(jobs', Tr[i])
       /\ UNCHANGED i

\* Not in the generated configurations (acceptance is read from the TraceMatched prints, so that
\* TLC prints no counterexample); kept for checking a trace by hand, where a violation means the
\* whole trace was matched.
TraceNotAccepted == i < Len(Tr)
=============================================================================
