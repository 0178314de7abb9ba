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
(*   seen       - which of bitmaps, successors, jobs were observed.        *)
(* Between two observed states the spec may take Hidden steps, which       *)
(* change nothing observed.  Verdict: TLC run with -deadlock reports       *)
(* TraceNotAccepted violated when some behaviour of BitmapSync matches the *)
(* whole trace (accepted), and finishes without error when none does       *)
(* (rejected; the last "TraceMatched" print + 1 is the first state no      *)
(* behaviour reaches).                                                     *)
(***************************************************************************)
EXTENDS BitmapSync

CONSTANT Trace

VARIABLE i   \* Trace[i] is the observed state the current spec state matches

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
    /\ "bitmaps" \in e.seen => bm = e.bitmaps
    /\ "successors" \in e.seen =>
           /\ fr = DOMAIN e.successors
           /\ \A b \in fr : sc[b] = e.successors[b]
    /\ "jobs" \in e.seen =>
           \A j \in Jobs :
               StatusMatches(jb[j].status, IF j \in DOMAIN e.jobs THEN e.jobs[j] ELSE "null")

Step(a) ==
    \/ a = "" /\ (Next \/ UNCHANGED vars)
    \/ a = "Stutter" /\ UNCHANGED vars
    \/ a = "Write" /\ \E c \in Clusters : Write(c)
    \/ a = "CreateTxn" /\ \E group \in SUBSET Jobs, grouped \in BOOLEAN : CreateTxn(group, grouped)
    \/ a = "StartTxn" /\ StartTxn
    \/ a = "AbortTxn" /\ AbortTxn
    \/ a = "Copy" /\ \E j \in Jobs, c \in Clusters : Copy(j, c)
    \/ a = "CopyDone" /\ \E j \in Jobs : CopyDone(j)
    \/ a = "Fail" /\ \E j \in Jobs : Fail(j)
    \/ a = "Cancel" /\ \E j \in Jobs, force \in BOOLEAN : Cancel(j, force)
    \/ a = "Finalize" /\ \E j \in Jobs : Finalize(j)
    \/ a = "Dismiss" /\ \E j \in Jobs : Dismiss(j)

TraceInit ==
    /\ Init
    /\ i = 1
    /\ Matches(bitmaps, successors, frozen, jobs, Trace[1])

\* Steps the implementation need not log: a job copying a cluster changes nothing observed.
Hidden == \E j \in Jobs, c \in Clusters : Copy(j, c)

\* TLC register 1 holds the longest prefix of Trace matched so far; each new best is printed
\* so that a rejected trace can name the first state no behaviour reaches.
ASSUME TLCSet(1, 1)

NoteMatched(k) == k > TLCGet(1) => (TLCSet(1, k) /\ PrintT(<<"TraceMatched", k>>))

TraceNext ==
    \/ /\ i < Len(Trace)
       /\ Step(Trace[i + 1].action)
       /\ Matches(bitmaps', successors', frozen', jobs', Trace[i + 1])
       /\ i' = i + 1
       /\ NoteMatched(i + 1)
    \/ /\ Hidden
       /\ Matches(bitmaps', successors', frozen', jobs', Trace[i])
       /\ UNCHANGED i

\* Expected to be VIOLATED: a violation means the whole trace was matched.
TraceNotAccepted == i < Len(Trace)
=============================================================================
