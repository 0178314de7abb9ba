---------------------------- MODULE JobLifecycle ----------------------------
(***************************************************************************)
(* The life of a QEMU 7.2 job (docs/qemu-behaviour.md §5): statuses, the QMP    *)
(* verbs, auto-finalize and auto-dismiss, user pause, cancel (soft and     *)
(* force), and mirror's ready/standby with job-complete.                   *)
(*                                                                         *)
(* The actions describe what the job does (§5.3, §5.5); the invariants     *)
(* compare every status change with QEMU's transition table (§5.1) and     *)
(* every accepted verb with QEMU's verb table (§5.2).  JobLifecycleReach   *)
(* shows that every status is reachable.  BUG plants one engine mistake so *)
(* that each invariant is seen to bite.                                    *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, TLC

CONSTANTS
    Jobs,   \* job ids, e.g. {"j1"}
    Types,  \* job types explored: subset of {"backup", "mirror"}
    BUG     \* "none" or one of the planted engine bugs below

Bugs == {"none",
         "complete-while-running",      \* job-complete accepted before the mirror is ready
         "standby-resumes-to-running"}  \* resuming from standby goes to running, not ready

ASSUME BUG \in Bugs
ASSUME Types \subseteq {"backup", "mirror"}

Statuses == {"undefined", "created", "running", "paused", "ready", "standby", "waiting",
             "pending", "aborting", "concluded", "null"}

Verbs == {"cancel", "pause", "resume", "set-speed", "complete", "finalize", "dismiss"}

\* docs/qemu-behaviour.md §5.1: from -> allowed next statuses.
TransitionTable ==
    [s \in Statuses |->
        CASE s = "undefined" -> {"created"}
          [] s = "created"   -> {"running", "aborting", "null"}
          [] s = "running"   -> {"paused", "ready", "waiting", "aborting"}
          [] s = "paused"    -> {"running"}
          [] s = "ready"     -> {"standby", "waiting", "aborting"}
          [] s = "standby"   -> {"ready"}
          [] s = "waiting"   -> {"pending", "aborting"}
          [] s = "pending"   -> {"aborting", "concluded"}
          [] s = "aborting"  -> {"aborting", "concluded"}
          [] s = "concluded" -> {"null"}
          [] s = "null"      -> {}]

\* docs/qemu-behaviour.md §5.2: verb -> statuses that accept it.
VerbTable ==
    [v \in Verbs |->
        CASE v = "cancel"    -> {"created", "running", "paused", "ready", "standby", "waiting",
                                 "pending"}
          [] v = "pause"     -> {"created", "running", "paused", "ready", "standby"}
          [] v = "resume"    -> {"created", "running", "paused", "ready", "standby"}
          [] v = "set-speed" -> {"created", "running", "paused", "ready", "standby"}
          [] v = "complete"  -> {"ready", "standby"}
          [] v = "finalize"  -> {"pending"}
          [] v = "dismiss"   -> {"concluded"}]

VARIABLES
    jobs,            \* job id -> job record
    lastTransition,  \* ghost: <<from, to>> of the latest status change, <<>> before any
    lastVerb         \* ghost: <<verb, status>> of the latest accepted verb, <<>> before any

vars == <<jobs, lastTransition, lastVerb>>

NoJob == [status |-> "undefined", type |-> "", autoFinalize |-> TRUE, autoDismiss |-> TRUE,
          userPaused |-> FALSE, drained |-> FALSE, cancelled |-> FALSE, softCancelled |-> FALSE,
          completeRequested |-> FALSE, failed |-> FALSE]

Init ==
    /\ jobs = [j \in Jobs |-> NoJob]
    /\ lastTransition = <<>>
    /\ lastVerb = <<>>

\* Moves job j to status s and records the transition.
Become(j, s) ==
    /\ jobs' = [jobs EXCEPT ![j].status = s]
    /\ lastTransition' = <<jobs[j].status, s>>
    /\ UNCHANGED lastVerb

Accept(j, verb) == lastVerb' = <<verb, jobs[j].status>>

-----------------------------------------------------------------------------
(* What the job does by itself (§5.3) *)

Create(j, type, autoFinalize, autoDismiss) ==
    /\ jobs[j].status = "undefined"
    /\ jobs' = [jobs EXCEPT ![j] = [NoJob EXCEPT !.status = "created", !.type = type,
                                     !.autoFinalize = autoFinalize,
                                     !.autoDismiss = autoDismiss]]
    /\ lastTransition' = <<"undefined", "created">>
    /\ UNCHANGED lastVerb

Start(j) ==
    /\ jobs[j].status = "created"
    /\ Become(j, "running")

\* A drained section (a transaction, a graph change) holds the job's pause counter up.  QEMU's
\* backup start runs inside one, hence its "running, paused, running" (§5.3).
DrainBegin(j) ==
    /\ ~jobs[j].drained
    /\ jobs[j].status \in {"created", "running", "paused", "ready", "standby"}
    /\ jobs' = [jobs EXCEPT ![j].drained = TRUE]
    /\ UNCHANGED <<lastTransition, lastVerb>>

DrainEnd(j) ==
    /\ jobs[j].drained
    /\ jobs' = [jobs EXCEPT ![j].drained = FALSE]
    /\ UNCHANGED <<lastTransition, lastVerb>>

Paused(j) == jobs[j].userPaused \/ jobs[j].drained

\* At a pause point a job with a pause request parks in paused (or standby when ready).
PausePoint(j) ==
    /\ Paused(j)
    /\ ~jobs[j].cancelled
    /\ jobs[j].status \in {"running", "ready"}
    /\ Become(j, IF jobs[j].status = "running" THEN "paused" ELSE "standby")

\* Back to the status it had before the pause.
\* A force cancel wakes the job even inside a drained section (QEMU 7.2's job_enter_cond does not
\* look at the pause count, and job_pause_point does not pause a cancelled job), so the job
\* leaves its pause to abort (found by the model-based walk: the engine, like QEMU, aborted a job
\* force-cancelled inside a drain, where the spec kept it paused).
ResumePoint(j) ==
    /\ ~Paused(j) \/ jobs[j].cancelled
    /\ jobs[j].status \in {"paused", "standby"}
    /\ Become(j, IF jobs[j].status = "paused" \/ BUG = "standby-resumes-to-running"
                 THEN "running" ELSE "ready")

\* Mirror: the bitmap is clean and nothing is in flight.
BecomeReady(j) ==
    /\ jobs[j].type = "mirror"
    /\ jobs[j].status = "running"
    /\ ~Paused(j)
    /\ ~jobs[j].cancelled
    /\ Become(j, "ready")

\* run() returns 0: a backup after its copy, a mirror after job-complete or a soft cancel.
RunSucceeds(j) ==
    /\ ~Paused(j)
    /\ ~jobs[j].cancelled
    /\ \/ jobs[j].type = "backup" /\ jobs[j].status = "running"
       \/ jobs[j].type = "mirror" /\ jobs[j].status = "ready"
          /\ (jobs[j].completeRequested \/ jobs[j].softCancelled)
    /\ Become(j, "waiting")

\* run() returns an error (on-*-error=report).
RunFails(j) ==
    /\ ~Paused(j)
    /\ ~jobs[j].cancelled
    /\ jobs[j].status \in {"running", "ready"}
    /\ jobs' = [jobs EXCEPT ![j].status = "aborting", ![j].failed = TRUE]
    /\ lastTransition' = <<jobs[j].status, "aborting">>
    /\ UNCHANGED lastVerb

\* A force-cancelled job leaves run() and aborts.
NoticeCancel(j) ==
    /\ jobs[j].cancelled
    /\ jobs[j].status \in {"running", "ready"}
    /\ Become(j, "aborting")

\* A job-transaction of one job: waiting ends at once.
AllDone(j) ==
    /\ jobs[j].status = "waiting"
    /\ Become(j, "pending")

AutoFinalize(j) ==
    /\ jobs[j].status = "pending"
    /\ jobs[j].autoFinalize
    /\ Become(j, "concluded")

\* Abort callbacks ran; BLOCK_JOB_COMPLETED with error or BLOCK_JOB_CANCELLED is emitted.
Abort(j) ==
    /\ jobs[j].status = "aborting"
    /\ Become(j, "concluded")

AutoDismiss(j) ==
    /\ jobs[j].status = "concluded"
    /\ jobs[j].autoDismiss
    /\ Become(j, "null")

-----------------------------------------------------------------------------
(* QMP verbs.  A verb an action does not allow is refused and changes nothing. *)

\* Statuses in which a job has not started to finish.
Active(j) == jobs[j].status \in {"created", "running", "paused", "ready", "standby"}

\* job-cancel is always force; block-job-cancel has force (§5.5).  Only a mirror in ready or
\* standby can be cancelled softly; a soft cancel of a user-paused job is refused.
Cancel(j, force) ==
    LET st == jobs[j].status
        soft == ~force /\ jobs[j].type = "mirror" /\ st \in {"ready", "standby"}
    IN
    /\ Active(j) \/ st \in {"waiting", "pending"}
    /\ force \/ ~jobs[j].userPaused
    /\ Accept(j, "cancel")
    /\ IF st \in {"created", "waiting", "pending"}
       THEN /\ jobs' = [jobs EXCEPT ![j].status = "aborting", ![j].cancelled = TRUE]
            /\ lastTransition' = <<st, "aborting">>
       ELSE /\ jobs' = [jobs EXCEPT ![j].cancelled = ~soft, ![j].softCancelled = soft,
                                    ![j].userPaused = FALSE]
            /\ UNCHANGED lastTransition

Pause(j) ==
    /\ Active(j)
    /\ ~jobs[j].userPaused                \* "Job is already paused"
    /\ Accept(j, "pause")
    /\ jobs' = [jobs EXCEPT ![j].userPaused = TRUE]
    /\ UNCHANGED lastTransition

Resume(j) ==
    /\ Active(j)
    /\ jobs[j].userPaused                 \* "Can't resume a job that was not paused"
    /\ Accept(j, "resume")
    /\ jobs' = [jobs EXCEPT ![j].userPaused = FALSE]
    /\ UNCHANGED lastTransition

SetSpeed(j) ==
    /\ Active(j)
    /\ Accept(j, "set-speed")
    /\ UNCHANGED <<jobs, lastTransition>>

Complete(j) ==
    /\ jobs[j].type = "mirror"
    /\ \/ jobs[j].status \in {"ready", "standby"}
       \/ BUG = "complete-while-running" /\ jobs[j].status = "running"
    /\ ~jobs[j].cancelled /\ ~jobs[j].softCancelled
    \* A second job-complete is accepted too (mirror_complete only sets should_complete again;
    \* checked on qemu-storage-daemon 7.2 by the trace validation of a scenario).
    /\ Accept(j, "complete")
    /\ jobs' = [jobs EXCEPT ![j].completeRequested = TRUE]
    /\ UNCHANGED lastTransition

Finalize(j) ==
    /\ jobs[j].status = "pending"
    /\ ~jobs[j].autoFinalize
    /\ Accept(j, "finalize")
    /\ jobs' = [jobs EXCEPT ![j].status = "concluded"]
    /\ lastTransition' = <<"pending", "concluded">>

Dismiss(j) ==
    /\ jobs[j].status = "concluded"
    /\ ~jobs[j].autoDismiss
    /\ Accept(j, "dismiss")
    /\ jobs' = [jobs EXCEPT ![j].status = "null"]
    /\ lastTransition' = <<"concluded", "null">>

\* Every job is gone: the model stops here (any other dead end is reported as a deadlock).
Quiescent ==
    /\ \A j \in Jobs : jobs[j].status = "null"
    /\ UNCHANGED vars

Next ==
    \/ \E j \in Jobs, type \in Types, af, ad \in BOOLEAN : Create(j, type, af, ad)
    \/ \E j \in Jobs :
        \/ Start(j) \/ DrainBegin(j) \/ DrainEnd(j) \/ PausePoint(j) \/ ResumePoint(j)
        \/ BecomeReady(j)
        \/ RunSucceeds(j) \/ RunFails(j) \/ NoticeCancel(j) \/ AllDone(j)
        \/ AutoFinalize(j) \/ Abort(j) \/ AutoDismiss(j)
        \/ Pause(j) \/ Resume(j) \/ SetSpeed(j) \/ Complete(j) \/ Finalize(j) \/ Dismiss(j)
        \/ \E force \in BOOLEAN : Cancel(j, force)
    \/ Quiescent

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

TypeOK ==
    /\ \A j \in Jobs : jobs[j].status \in Statuses
    /\ \A j \in Jobs : jobs[j].type \in Types \cup {""}

TransitionAllowed ==
    lastTransition # <<>> => lastTransition[2] \in TransitionTable[lastTransition[1]]

VerbAllowed ==
    lastVerb # <<>> => lastVerb[2] \in VerbTable[lastVerb[1]]

\* Only a mirror is ever ready (or standby).
OnlyMirrorReady ==
    \A j \in Jobs : jobs[j].status \in {"ready", "standby"} => jobs[j].type = "mirror"
=============================================================================
