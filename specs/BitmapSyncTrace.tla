--------------------------- MODULE BitmapSyncTrace ---------------------------
(***************************************************************************)
(* Trace validation against BitmapSync (tla-crosscheck.md §5).  Trace is a *)
(* sequence of states observed in the implementation, written by the Java  *)
(* TraceModuleWriter; a module TraceN EXTENDS this one, defines TraceLog   *)
(* and its configuration sets Trace <- TraceLog.  Each observed state is a *)
(* record:                                                                 *)
(*   node       - the node-name the bitmaps belong to ("" = not stated);   *)
(*   action     - the BitmapSync action that produced it ("" = any, or no  *)
(*                change; "Stutter" = no change);                          *)
(*   bitmaps    - bitmap name -> dirty clusters (a frozen bitmap shows its *)
(*                frozen content);                                         *)
(*   successors - frozen bitmap name -> clusters its successor recorded;   *)
(*   jobs       - job id -> QEMU status (an absent id: no such job);       *)
(*   seen       - which of bitmaps, successors, jobs were observed;        *)
(*   cluster    - for Write, the cluster written (-1 = not logged);        *)
(*   clusters   - for Copy, the clusters one job copied (CopyAll);         *)
(*   bitmap     - for Clear and Merge, the bitmap changed ("" = any);      *)
(*   source     - for Merge, the bitmap merged in ("" = any);              *)
(*   txn        - for CreateTxn, when logged: the jobs created, each with  *)
(*                <<bitmap, sync, bitmap-mode>>, and whether grouped;      *)
(*   failed     - for Internal, the jobs that failed (BLOCK_JOB_COMPLETED  *)
(*                with an error) since the last observation;               *)
(*   cancelled  - for Internal, the jobs asked to cancel (QEMU ends them   *)
(*                when they next yield, so Cancel is an Internal step);    *)
(*                for AbortTxn, the jobs the transaction may have created *)
(*                (only so that Jobs holds their ids).                     *)
(* Observed bitmaps are compared by name: a bitmap the run has not added  *)
(* (or has removed) is simply not observed.  Actions beyond BitmapSync's:  *)
(*   Clear    - block-dirty-bitmap-add or -clear: the bitmap becomes      *)
(*              empty; the ghost chain restarts from the disk as it is     *)
(*              (the user starts from a full copy), so that the           *)
(*              invariants keep their meaning;                            *)
(*   Merge    - block-dirty-bitmap-merge: dst := dst \cup src;            *)
(*   Enable,  - block-dirty-bitmap-enable / -disable (and add, which makes *)
(*   Disable    an enabled bitmap unless disabled:true): bitmap named;     *)
(*   Internal - any number (zero or more) of steps the engine takes on its *)
(*              own: CopyDone, Fail, Cancel, and auto Finalize, Dismiss;  *)
(*              the states in between are not observed.  Copies are       *)
(*              logged (Copy with the clusters copied): the recorder reads *)
(*              each job's copy bitmap, so no copy order is guessed and a  *)
(*              trace of a thousand clusters costs what it is long;       *)
(*   Reset    - the next run of a batch starts: every variable back to     *)
(*              Init (many short runs are checked by one TLC run).         *)
(* Verdict: TLC runs with -deadlock and prints <<"TraceMatched", k>> for  *)
(* each longer prefix some behaviour matches: the trace is accepted when k *)
(* reaches its length, else the first state no behaviour reaches is k + 1. *)
(* A matched state that breaks an invariant of BitmapSync is reported as a *)
(* violation of that invariant.                                            *)
(***************************************************************************)
EXTENDS BitmapSync, Integers

CONSTANT Trace

\* TLC does not cache the value of a constant bound to a definition (Trace <- TraceLog): each
\* Trace[k] rebuilt the whole log (measured: 22 s instead of 2 s for a 360-state trace). A TLC
\* register holds the value once built.
ASSUME TLCSet(2, Trace)
Tr == TLCGet(2)

VARIABLE i   \* Tr[i] is the observed state the current spec state matches

\* QEMU statuses mapped onto BitmapSync's coarser ones: a paused backup is running; a job
\* alone in its job-transaction passes through waiting, which BitmapSync skips (its copy is
\* done, CopyDone may come with the next observation); an aborting one has not concluded yet
\* (BitmapSync concludes in one step).
StatusMatches(spec, seen) ==
    CASE seen \in {"null", "undefined"} -> spec = "null"
      [] seen = "paused"                -> spec = "running"
      [] seen = "waiting"               -> spec \in {"running", "waiting"}
      [] seen = "aborting"              -> spec \in {"created", "running", "waiting", "pending"}
      [] OTHER                          -> spec = seen

Matches(bm, sc, fr, jb, e) ==
    /\ e.node \in {"", Node}
    /\ "bitmaps" \in e.seen =>
           /\ DOMAIN e.bitmaps \subseteq Bitmaps
           /\ \A b \in DOMAIN e.bitmaps : bm[b] = e.bitmaps[b]
    /\ "successors" \in e.seen =>
           /\ fr = DOMAIN e.successors
           /\ \A b \in fr : sc[b] = e.successors[b]
    /\ "jobs" \in e.seen =>
           \A j \in Jobs :
               StatusMatches(jb[j].status, IF j \in DOMAIN e.jobs THEN e.jobs[j] ELSE "null")

\* Bitmaps named by an entry ("" = any).
Named(name) == IF name = "" THEN Bitmaps ELSE {name}

\* block-dirty-bitmap-add / -clear (refused on a busy, i.e. frozen, bitmap).
Clear(b) ==
    /\ b \notin frozen
    /\ bitmaps' = [bitmaps EXCEPT ![b] = {}]
    /\ chain' = [chain EXCEPT ![b] = <<[target |-> disk, pit |-> disk, ok |-> TRUE]>>]
    /\ blind' = IF b \in disabled THEN blind ELSE blind \ {b}
    /\ UNCHANGED <<disk, writes, successors, frozen, jobs, txns, disabled>>

\* block-dirty-bitmap-enable / -disable (refused on a busy bitmap; either may repeat). A
\* disabled bitmap misses writes, so NoLostWrite no longer holds for it until it is cleared.
Enable(b) ==
    /\ b \notin frozen
    /\ disabled' = disabled \ {b}
    /\ UNCHANGED <<disk, writes, bitmaps, successors, frozen, jobs, txns, chain, blind>>

Disable(b) ==
    /\ b \notin frozen
    /\ disabled' = disabled \cup {b}
    /\ blind' = blind \cup {b}
    /\ UNCHANGED <<disk, writes, bitmaps, successors, frozen, jobs, txns, chain>>

\* block-dirty-bitmap-merge (QEMU refuses a busy destination or source).
Merge(src, dst) ==
    /\ src # dst
    /\ {src, dst} \cap frozen = {}
    /\ bitmaps' = [bitmaps EXCEPT ![dst] = @ \cup bitmaps[src]]
    /\ UNCHANGED <<disk, writes, successors, frozen, jobs, txns, chain, disabled, blind>>

\* What the engine does on its own, between two commands; e.failed names the jobs that failed.
InternalStep(e) ==
    \/ \E j \in Jobs : CopyDone(j) \/ (j \in e.failed /\ Fail(j)) \/ Finalize(j) \/ Dismiss(j)
    \/ \E j \in e.cancelled, force \in BOOLEAN : Cancel(j, force)

\* The Copy steps of one job for every cluster of S, in any order: copies of distinct clusters
\* commute (each reads its own cluster of the unchanged disk, none enables or disables another),
\* so one step stands for all of them; a trace logs the copies between two observations so.
CopyAll(j, S) ==
    /\ S # {}
    /\ jobs[j].status = "running"
    /\ S \subseteq jobs[j].copy
    /\ jobs' = [jobs EXCEPT ![j].target = [c \in S |-> disk[c]] @@ @, ![j].copy = @ \ S]
    /\ UNCHANGED <<disk, writes, bitmaps, successors, frozen, txns, chain, disabled, blind>>

ResetAll ==
    /\ disk' = [c \in Clusters |-> 0]
    /\ writes' = 0
    /\ bitmaps' = [b \in Bitmaps |-> {}]
    /\ successors' = [b \in Bitmaps |-> {}]
    /\ frozen' = {}
    /\ jobs' = [j \in Jobs |-> NullJob]
    /\ txns' = 0
    /\ chain' = [b \in Bitmaps |-> <<>>]
    /\ disabled' = {}
    /\ blind' = {}

Step(e) ==
    LET a == e.action IN
    \/ a = "" /\ (Next \/ UNCHANGED vars)
    \/ a = "Stutter" /\ UNCHANGED vars
    \/ a = "Write" /\ \E c \in Clusters : e.cluster \in {-1, c} /\ Write(c)
    \/ a = "Clear" /\ \E b \in Named(e.bitmap) : Clear(b)
    \/ a = "Enable" /\ \E b \in Named(e.bitmap) : Enable(b)
    \/ a = "Disable" /\ \E b \in Named(e.bitmap) : Disable(b)
    \/ a = "Merge" /\ \E s \in Named(e.source), d \in Named(e.bitmap) : Merge(s, d)
    \/ a = "Internal" /\ (InternalStep(e) \/ UNCHANGED vars)
    \/ a = "Reset" /\ ResetAll
    \/ a = "CreateTxn" /\ \E group \in SUBSET Jobs, grouped \in BOOLEAN :
           /\ e.txn.logged => group = DOMAIN e.txn.jobs /\ grouped = e.txn.grouped
           /\ CreateTxn(group, grouped)
           /\ e.txn.logged =>
                  \A j \in group : <<jobs'[j].bitmap, jobs'[j].sync, jobs'[j].mode>> = e.txn.jobs[j]
    \/ a = "StartTxn" /\ StartTxn
    \/ a = "AbortTxn" /\ AbortTxn
    \/ a = "Copy" /\ \E j \in Jobs : CopyAll(j, e.clusters)
    \/ a = "CopyDone" /\ \E j \in Jobs : CopyDone(j)
    \/ a = "Fail" /\ \E j \in Jobs : Fail(j)
    \/ a = "Cancel" /\ \E j \in Jobs, force \in BOOLEAN : Cancel(j, force)
    \/ a = "Finalize" /\ \E j \in Jobs : Finalize(j)
    \/ a = "Dismiss" /\ \E j \in Jobs : Dismiss(j)

TraceInit ==
    /\ Init
    /\ i = 1
    /\ Matches(bitmaps, successors, frozen, jobs, Tr[1])

\* TLC register 1 holds the longest prefix of Trace matched so far; each new best is printed
\* so that a rejected trace can name the first state no behaviour reaches.
ASSUME TLCSet(1, 1)

NoteMatched(k) == k > TLCGet(1) => (TLCSet(1, k) /\ PrintT(<<"TraceMatched", k>>))

TraceNext ==
    \/ /\ i < Len(Tr)
       /\ Step(Tr[i + 1])
       /\ Matches(bitmaps', successors', frozen', jobs', Tr[i + 1])
       /\ i' = i + 1
       /\ NoteMatched(i + 1)
    \/ /\ i < Len(Tr)
       /\ Tr[i + 1].action = "Internal"
       /\ InternalStep(Tr[i + 1])
       /\ UNCHANGED i

\* Not checked by TraceModuleWriter's configurations (acceptance is read from the TraceMatched
\* prints, so that TLC prints no counterexample); kept for checking a trace by hand, where a
\* violation means the whole trace was matched.
TraceNotAccepted == i < Len(Tr)
=============================================================================
