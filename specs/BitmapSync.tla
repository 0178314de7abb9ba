----------------------------- MODULE BitmapSync -----------------------------
(***************************************************************************)
(* Dirty bitmaps driving backup jobs in QEMU 7.2 (docs/qemu-behaviour.md §2.5,   *)
(* §4, §5.4, §6).  One node with a disk of a few clusters; guest writes at *)
(* any time; named bitmaps; backup jobs created by a transaction (one job, *)
(* or several with completion-mode individual or grouped).  Creating a job *)
(* freezes its bitmap under a successor; the job copies the clusters of    *)
(* its copy bitmap (copy-before-write protects the point in time), may     *)
(* fail, and ends by success, failure, cancel or force-cancel.  The end    *)
(* applies QEMU's mechanism (abdicate / reclaim / merge of the remainder). *)
(*                                                                         *)
(* The invariants state what must come out of that mechanism:              *)
(*   NoLostWrite  - every cluster whose data the backup chain does not     *)
(*                  hold is dirty in the bitmap (or its successor);        *)
(*   OutcomeTable - the bitmap after a job is the §6.6 table entry;        *)
(*   RestoreChain - overlaying the targets of the backups made with a      *)
(*                  bitmap (up to and including a successful one) gives    *)
(*                  the disk as it was when that backup started.           *)
(* BUG plants one engine mistake so that each invariant is seen to bite.   *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, Sequences, TLC

CONSTANTS
    Node,       \* the node-name of the disk, e.g. "drive0" (a label: one node is modelled)
    Clusters,   \* cluster indexes of the disk, e.g. {0, 1}
    Bitmaps,    \* names of the named bitmaps on the node
    Jobs,       \* job ids
    Modes,      \* bitmap-modes explored: subset of {"on-success", "always", "never"}
    Syncs,      \* sync modes explored: subset of {"bitmap", "full", "top"}
    MaxWrites,  \* bound on guest writes
    MaxTxns,    \* bound on backup transactions
    BUG,        \* "none" or one of the planted engine bugs below
    PROPOSAL    \* "none" or one of the proposals of the "add 'always' bitmap sync policy"
                \* thread below (blocksim's proposal: semantics variants)

Bugs == {"none",
         "successor-not-recording",  \* guest writes miss the successor
         "no-merge-remainder",       \* bitmap-mode always forgets to merge R on failure
         "no-copy-before-write",     \* guest writes overwrite clusters the job has not copied
         "copy-bitmap-from-sync"}    \* copy bitmap taken from the sync bitmap at creation

\* What a cancel does to a bitmap-mode always backup's bitmap, per proposal: QEMU 7.2 ("none")
\* syncs it on every end; force-cancel-skips-sync gives it back (reclaim) on the user's forced
\* cancel only; cancel-only-reclaims gives it back on every cancel, user or transaction;
\* always-not-grouped refuses bitmap-mode always in a grouped transaction instead.
Proposals == {"none", "force-cancel-skips-sync", "cancel-only-reclaims", "always-not-grouped"}

ASSUME BUG \in Bugs
ASSUME PROPOSAL \in Proposals
ASSUME Modes \subseteq {"on-success", "always", "never"}
ASSUME Syncs \subseteq {"bitmap", "full", "top"}

VARIABLES
    disk,        \* cluster -> number of the guest write that last wrote it (0 = never written)
    writes,      \* number of guest writes so far
    bitmaps,     \* bitmap name -> dirty clusters (a frozen bitmap keeps its content)
    successors,  \* bitmap name -> clusters recorded by its successor (empty unless frozen)
    frozen,      \* names of the bitmaps that have a successor (busy)
    jobs,        \* job id -> job record, status "null" when the job does not exist
    txns,        \* number of backup transactions so far
    chain,       \* ghost: bitmap name -> sequence of the backups made with it
    disabled,    \* names of the disabled bitmaps (block-dirty-bitmap-disable): they record
                 \* no write, nor do their successors (QEMU's successor takes the parent's
                 \* state); changed only by the trace wrapper's Enable/Disable, so the model
                 \* checked here has every bitmap enabled
    blind        \* ghost: bitmaps disabled at some point since their chain last restarted

vars == <<disk, writes, bitmaps, successors, frozen, jobs, txns, chain, disabled, blind>>

Outcomes == {"", "success", "failed", "cancelled", "aborted"}

\* A target image: the clusters the job copied, with the write number each held.
EmptyTarget == [c \in {} |-> 0]

NullJob == [status |-> "null", bitmap |-> "", sync |-> "", mode |-> "", group |-> {},
            copy |-> {}, S |-> {}, pit |-> [c \in Clusters |-> 0], target |-> EmptyTarget,
            outcome |-> "", W |-> {}, R |-> {}, result |-> {}]

\* sync=full and sync=top take a bitmap only with bitmap-mode on-success or always (§6.1).
ValidPair(sync, mode) == sync = "bitmap" \/ mode \in {"on-success", "always"}

Allocated == {c \in Clusters : disk[c] # 0}

Init ==
    /\ disk = [c \in Clusters |-> 0]
    /\ writes = 0
    /\ bitmaps = [b \in Bitmaps |-> {}]
    /\ successors = [b \in Bitmaps |-> {}]
    /\ frozen = {}
    /\ jobs = [j \in Jobs |-> NullJob]
    /\ txns = 0
    /\ chain = [b \in Bitmaps |-> <<>>]
    /\ disabled = {}
    /\ blind = {}

\* While a transaction's jobs sit in "created" QEMU holds the drained section: nothing else runs.
NoneCreated == \A j \in Jobs : jobs[j].status # "created"

-----------------------------------------------------------------------------
(* Guest I/O *)

\* Copy-before-write: a running job first saves the old data of a cluster it has not copied.
SaveBeforeWrite(job, c) ==
    IF job.status = "running" /\ c \in job.copy /\ BUG # "no-copy-before-write"
    THEN [job EXCEPT !.target = (c :> disk[c]) @@ @, !.copy = @ \ {c}]
    ELSE job

Write(c) ==
    /\ NoneCreated
    /\ writes < MaxWrites
    /\ jobs' = [j \in Jobs |-> SaveBeforeWrite(jobs[j], c)]
    /\ disk' = [disk EXCEPT ![c] = writes + 1]
    /\ writes' = writes + 1
    /\ bitmaps' = [b \in Bitmaps |-> IF b \in frozen \cup disabled THEN bitmaps[b]
                                   ELSE bitmaps[b] \cup {c}]
    /\ successors' = [b \in Bitmaps |->
                        IF b \in frozen \ disabled /\ BUG # "successor-not-recording"
                        THEN successors[b] \cup {c} ELSE successors[b]]
    /\ UNCHANGED <<disabled, blind, frozen, txns, chain>>

-----------------------------------------------------------------------------
(* Transactions: blockdev-backup actions, prepared together, then started or aborted. *)

CreateTxn(group, grouped) ==
    /\ NoneCreated
    /\ txns < MaxTxns
    /\ group # {}
    /\ \A j \in group : jobs[j].status = "null"
    /\ grouped \in (IF Cardinality(group) > 1 THEN BOOLEAN ELSE {FALSE})
    /\ \E bm \in [group -> Bitmaps \ frozen], sy \in [group -> Syncs], md \in [group -> Modes] :
        /\ \A j, k \in group : j # k => bm[j] # bm[k]
        /\ \A j \in group : ValidPair(sy[j], md[j])
        /\ ~(PROPOSAL = "always-not-grouped" /\ grouped /\ \E j \in group : md[j] = "always")
        /\ frozen' = frozen \cup {bm[j] : j \in group}
        /\ jobs' = [j \in Jobs |->
                     IF j \notin group THEN jobs[j]
                     ELSE [NullJob EXCEPT
                            !.status = "created", !.bitmap = bm[j], !.sync = sy[j],
                            !.mode = md[j], !.group = IF grouped THEN group ELSE {j},
                            !.S = bitmaps[bm[j]], !.pit = disk,
                            \* QEMU sets up the copy bitmap all ones; run() narrows it.
                            !.copy = IF BUG = "copy-bitmap-from-sync" THEN bitmaps[bm[j]]
                                     ELSE Clusters]]
    /\ txns' = txns + 1
    /\ UNCHANGED <<disabled, blind, disk, writes, bitmaps, successors, chain>>

\* What run() leaves in the copy bitmap before the first copy (§6.3).
InitialCopy(job) ==
    CASE job.sync = "bitmap" -> job.S
      [] job.sync = "full"   -> Clusters
      [] job.sync = "top"    -> Allocated

StartTxn ==
    /\ \E j \in Jobs : jobs[j].status = "created"
    /\ jobs' = [j \in Jobs |->
                 IF jobs[j].status = "created"
                 THEN [jobs[j] EXCEPT !.status = "running", !.copy = InitialCopy(jobs[j])]
                 ELSE jobs[j]]
    /\ UNCHANGED <<disabled, blind, disk, writes, bitmaps, successors, frozen, txns, chain>>

-----------------------------------------------------------------------------
(* The end of a job: QEMU's mechanism (§2.5, §6.6), with the planted bugs. *)

EngineBitmap(job, outcome, parent, successor) ==
    IF outcome = "success"
    THEN IF job.mode = "never" THEN parent \cup successor     \* reclaim
         ELSE successor                                        \* abdicate
    ELSE IF job.mode = "always"
         THEN IF BUG = "no-merge-remainder" THEN successor
              ELSE successor \cup job.copy                     \* abdicate, merge R
         ELSE parent \cup successor                            \* reclaim

\* Ends the jobs in set ended, each with the outcome given by outcomeOf; a job for which
\* givesBack holds (a proposal) reclaims its bitmap instead of what the engine does.
Conclude(ended, outcomeOf(_), givesBack(_)) ==
    LET bitmapOf(j) == jobs[j].bitmap
        touched == {bitmapOf(j) : j \in ended}
        jobOf(b) == CHOOSE j \in ended : bitmapOf(j) = b
        newBitmap(j) ==
            IF givesBack(j) THEN bitmaps[bitmapOf(j)] \cup successors[bitmapOf(j)]
            ELSE EngineBitmap(jobs[j], outcomeOf(j), bitmaps[bitmapOf(j)],
                              successors[bitmapOf(j)])
    IN
    /\ bitmaps' = [b \in Bitmaps |-> IF b \in touched THEN newBitmap(jobOf(b)) ELSE bitmaps[b]]
    /\ successors' = [b \in Bitmaps |-> IF b \in touched THEN {} ELSE successors[b]]
    /\ frozen' = frozen \ touched
    /\ chain' = [b \in Bitmaps |->
                  IF b \in touched
                  THEN Append(chain[b], [target |-> jobs[jobOf(b)].target,
                                         pit |-> jobs[jobOf(b)].pit,
                                         \* a backup with a bitmap that missed
                                         \* writes (disabled) restores nothing whole
                                         ok |-> outcomeOf(jobOf(b)) = "success"
                                                /\ b \notin blind])
                  ELSE chain[b]]
    /\ jobs' = [j \in Jobs |->
                 IF j \notin ended THEN jobs[j]
                 ELSE [jobs[j] EXCEPT !.status = "concluded", !.outcome = outcomeOf(j),
                        !.W = successors[bitmapOf(j)], !.R = jobs[j].copy,
                        !.result = newBitmap(j), !.copy = {}, !.target = EmptyTarget,
                        !.pit = [c \in Clusters |-> 0]]]

\* A later action of the transaction failed: the created jobs are aborted unstarted (§4, E9).
AbortTxn ==
    LET created == {j \in Jobs : jobs[j].status = "created"}
        outcomeOf(j) == "aborted"
        givesBack(j) == FALSE
    IN /\ created # {}
       /\ Conclude(created, outcomeOf, givesBack)
       /\ UNCHANGED <<disabled, blind, disk, writes, txns>>

Copy(j, c) ==
    /\ jobs[j].status = "running"
    /\ c \in jobs[j].copy
    /\ jobs' = [jobs EXCEPT ![j].target = (c :> disk[c]) @@ @, ![j].copy = @ \ {c}]
    /\ UNCHANGED <<disabled, blind, disk, writes, bitmaps, successors, frozen, txns, chain>>

\* run() returned 0: waiting until every member of the job-transaction is done, then pending.
CopyDone(j) ==
    LET others == jobs[j].group \ {j}
        allDone == \A k \in others : jobs[k].status = "waiting"
    IN /\ jobs[j].status = "running"
       /\ jobs[j].copy = {}
       /\ jobs' = IF allDone
                  THEN [k \in Jobs |-> IF k \in jobs[j].group
                                       THEN [jobs[k] EXCEPT !.status = "pending"] ELSE jobs[k]]
                  ELSE [jobs EXCEPT ![j].status = "waiting"]
       /\ UNCHANGED <<disabled, blind, disk, writes, bitmaps, successors, frozen, txns, chain>>

\* The members of a job-transaction that have not ended yet.
Live(group) == {k \in group : jobs[k].status \in {"running", "waiting", "pending"}}

\* A copy fails (read or write error, on-*-error=report): the job fails, and the others of
\* its job-transaction are force-cancelled (§5.4).
Fail(j) ==
    LET outcomeOf(k) == IF k = j THEN "failed" ELSE "cancelled"
        \* the others are cancelled by the transaction, not by the user
        givesBack(k) == k # j /\ jobs[k].mode = "always" /\ PROPOSAL = "cancel-only-reclaims"
    IN /\ jobs[j].status = "running"
       /\ jobs[j].copy # {}
       /\ Conclude(Live(jobs[j].group), outcomeOf, givesBack)
       /\ UNCHANGED <<disabled, blind, disk, writes, txns>>

\* job-cancel or block-job-cancel; backup treats every cancel as force (§5.5), so both end the
\* same way; force is kept as a parameter so that both verbs appear as edges.
Cancel(j, force) ==
    LET outcomeOf(k) == "cancelled"
        \* the user cancelled j; the other members are cancelled by the transaction
        givesBack(k) ==
            /\ jobs[k].mode = "always"
            /\ \/ PROPOSAL = "cancel-only-reclaims"
               \/ PROPOSAL = "force-cancel-skips-sync" /\ force /\ k = j
    IN /\ force \in BOOLEAN
       /\ jobs[j].status \in {"running", "waiting", "pending"}
       /\ Conclude(Live(jobs[j].group), outcomeOf, givesBack)
       /\ UNCHANGED <<disabled, blind, disk, writes, txns>>

\* job-finalize (or auto-finalize): one member finalizes the whole job-transaction.
Finalize(j) ==
    LET outcomeOf(k) == "success"
        givesBack(k) == FALSE
    IN /\ jobs[j].status = "pending"
       /\ Conclude(jobs[j].group, outcomeOf, givesBack)
       /\ UNCHANGED <<disabled, blind, disk, writes, txns>>

\* job-dismiss (or auto-dismiss): the job disappears and its id may be used again.
Dismiss(j) ==
    /\ jobs[j].status = "concluded"
    /\ jobs' = [jobs EXCEPT ![j] = NullJob]
    /\ UNCHANGED <<disabled, blind, disk, writes, bitmaps, successors, frozen, txns, chain>>

\* The bounds are used up and every job is gone: the model stops here. Any other state
\* without a successor is a stuck job, which TLC reports as a deadlock.
Quiescent ==
    /\ writes = MaxWrites
    /\ txns = MaxTxns
    /\ \A j \in Jobs : jobs[j].status = "null"
    /\ UNCHANGED vars

Next ==
    \/ \E c \in Clusters : Write(c)
    \/ \E group \in SUBSET Jobs, grouped \in BOOLEAN : CreateTxn(group, grouped)
    \/ StartTxn
    \/ AbortTxn
    \/ \E j \in Jobs, c \in Clusters : Copy(j, c)
    \/ \E j \in Jobs : CopyDone(j) \/ Fail(j) \/ Finalize(j) \/ Dismiss(j)
    \/ \E j \in Jobs, force \in BOOLEAN : Cancel(j, force)
    \/ Quiescent

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants *)

TypeOK ==
    /\ disk \in [Clusters -> 0..MaxWrites]
    /\ bitmaps \in [Bitmaps -> SUBSET Clusters]
    /\ successors \in [Bitmaps -> SUBSET Clusters]
    /\ frozen \subseteq Bitmaps
    /\ disabled \subseteq Bitmaps
    /\ blind \subseteq Bitmaps
    /\ \A j \in Jobs : jobs[j].status \in {"null", "created", "running", "waiting", "pending",
                                           "concluded"}
    /\ \A j \in Jobs : jobs[j].outcome \in Outcomes

Max(S) == CHOOSE x \in S : \A y \in S : y <= x

\* The disk restored from the first k backups of a chain, each laid over the ones before.
Restore(backups, k) ==
    [c \in Clusters |->
        LET holders == {i \in 1..k : c \in DOMAIN backups[i].target}
        IN IF holders = {} THEN 0 ELSE backups[Max(holders)].target[c]]

\* No write after a backup's point in time is lost: a cluster whose data the chain of backups
\* made with bitmap b does not hold is dirty in b or in its successor (unless b was disabled:
\* then it is meant to miss writes).
NoLostWrite ==
    \A b \in Bitmaps \ blind :
        LET restored == Restore(chain[b], Len(chain[b]))
        IN {c \in Clusters : disk[c] # restored[c]} \subseteq bitmaps[b] \cup successors[b]

\* docs/qemu-behaviour.md §6.6 with S (bitmap at creation), W (successor), R (not copied).
ExpectedBitmap(mode, outcome, S, W, R) ==
    CASE outcome = "success" /\ mode = "never" -> S \cup W
      [] outcome = "success"                    -> W
      [] mode \in {"on-success", "never"}       -> S \cup W
      [] outcome = "aborted"                    -> Clusters   \* R is the untouched copy bitmap
      [] OTHER                                  -> W \cup R

OutcomeTable ==
    \A j \in Jobs :
        jobs[j].status = "concluded" =>
            jobs[j].result = ExpectedBitmap(jobs[j].mode, jobs[j].outcome, jobs[j].S,
                                            jobs[j].W, jobs[j].R)

\* Every backup of the chain counts, failed and cancelled ones too: what they copied is data of
\* their point in time, and a later backup recopies whatever changed since (with bitmap-mode
\* always that is what makes dropping the copied clusters from the bitmap safe).
RestoreChain ==
    \A b \in Bitmaps : \A k \in 1..Len(chain[b]) :
        chain[b][k].ok => Restore(chain[b], k) = chain[b][k].pit

\* A frozen bitmap is exactly one that a live job uses.
FrozenIffUsed ==
    \A b \in Bitmaps :
        b \in frozen <=> \E j \in Jobs : jobs[j].bitmap = b /\ jobs[j].status # "concluded"
                                        /\ jobs[j].status # "null"
=============================================================================
