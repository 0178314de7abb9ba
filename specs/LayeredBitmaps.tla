--------------------------- MODULE LayeredBitmaps ---------------------------
(***************************************************************************)
(* Bitmaps on a backing chain top -> mid -> base in QEMU 7.2               *)
(* (docs/qemu-behaviour.md §2.4, §7, §8, §9): copy-on-read and block-stream     *)
(* populate the top without dirtying it, an intermediate block-commit      *)
(* mid -> base writes into the base with ordinary writes (enabled base     *)
(* bitmaps dirty, disabled ones do not), and a mirror of the active node   *)
(* pivots to its target, leaving user bitmaps on the old source.           *)
(*                                                                         *)
(* Invariants:                                                             *)
(*   ViewPreserved - the guest always reads what it last wrote (jobs and   *)
(*                   copy-on-read never change guest-visible data);        *)
(*   ExactDirty    - an enabled bitmap holds exactly the clusters whose    *)
(*                   content, as its node shows it, differs from when the  *)
(*                   bitmap was made (writes are unique, so every ordinary *)
(*                   write changes content and every data-preserving one   *)
(*                   does not); a disabled bitmap stays clean.             *)
(* BUG plants one engine mistake so that each invariant is seen to bite.   *)
(***************************************************************************)
EXTENDS Naturals, FiniteSets, TLC

CONSTANTS
    Clusters,     \* cluster indexes, e.g. {0, 1}
    MidClusters,  \* clusters allocated in mid at the start
    MaxWrites,    \* bound on guest writes
    BUG           \* "none" or one of the planted engine bugs below

Bugs == {"none",
         "cor-dirties",             \* copy-on-read population dirties the top's bitmaps
         "commit-skips-dirty",      \* commit writes into the base bypass dirty tracking
         "mirror-misses-ready-writes"} \* guest writes in ready are not marked for copying

ASSUME BUG \in Bugs
ASSUME MidClusters \subseteq Clusters

Nodes == {"top", "mid", "base", "target"}
None == "none"

\* Named bitmaps: two on the top, two on the base; one of each pair disabled.
BitmapNode == [b \in {"top0", "top1", "base0", "base1"} |->
                  IF b \in {"top0", "top1"} THEN "top" ELSE "base"]
Bitmaps == DOMAIN BitmapNode
Disabled == {"top1", "base1"}

VARIABLES
    data,      \* node -> (allocated cluster -> value); the domain is the allocation
    backing,   \* node -> its backing node or None
    active,    \* the node guest I/O goes to
    bitmaps,   \* bitmap name -> dirty clusters
    job,       \* "none", "stream", "commit" or "mirror"
    finished,  \* the job kinds that have run (each runs at most once)
    remaining, \* clusters the running job still has to visit (mirror: its own dirty bitmap)
    ready,     \* mirror reached ready
    writes,    \* number of guest writes so far
    view,      \* ghost: cluster -> value the guest last wrote (or the initial content)
    snap       \* ghost: bitmap name -> content of its node when the bitmap was made

vars == <<data, backing, active, bitmaps, job, finished, remaining, ready, writes, view, snap>>

EmptyData == [c \in {} |-> 0]

RECURSIVE Read(_, _)
\* The content of cluster c as node n shows it (0 where nothing in the chain has it).
Read(n, c) ==
    IF c \in DOMAIN data[n] THEN data[n][c]
    ELSE IF backing[n] = None THEN 0 ELSE Read(backing[n], c)

RECURSIVE AllocatedBelow(_, _)
AllocatedBelow(n, c) ==
    IF backing[n] = None THEN FALSE
    ELSE c \in DOMAIN data[backing[n]] \/ AllocatedBelow(backing[n], c)

InitData == [n \in Nodes |->
                CASE n = "base" -> [c \in Clusters |-> 100 + c]
                  [] n = "mid"  -> [c \in MidClusters |-> 200 + c]
                  [] OTHER      -> EmptyData]
InitBacking == [n \in Nodes |-> CASE n = "top" -> "mid" [] n = "mid" -> "base" [] OTHER -> None]

\* Read over the initial data and chain: Init defines data and backing, so it cannot use Read.
RECURSIVE InitRead(_, _)
InitRead(n, c) ==
    IF c \in DOMAIN InitData[n] THEN InitData[n][c]
    ELSE IF InitBacking[n] = None THEN 0 ELSE InitRead(InitBacking[n], c)

Init ==
    /\ data = InitData
    /\ backing = InitBacking
    /\ active = "top"
    /\ bitmaps = [b \in Bitmaps |-> {}]
    /\ job = "none"
    /\ finished = {}
    /\ remaining = {}
    /\ ready = FALSE
    /\ writes = 0
    /\ view = [c \in Clusters |-> InitRead("top", c)]
    /\ snap = [b \in Bitmaps |-> [c \in Clusters |-> InitRead(BitmapNode[b], c)]]

-----------------------------------------------------------------------------

\* An ordinary write of cluster c into node n dirties n's enabled bitmaps (§2.4).
DirtyOn(n, c) ==
    [b \in Bitmaps |-> IF BitmapNode[b] = n /\ b \notin Disabled THEN bitmaps[b] \cup {c}
                       ELSE bitmaps[b]]

Write(c) ==
    /\ writes < MaxWrites
    /\ data' = [data EXCEPT ![active] = (c :> writes + 1) @@ @]
    /\ writes' = writes + 1
    /\ view' = [view EXCEPT ![c] = writes + 1]
    /\ bitmaps' = DirtyOn(active, c)
    \* The mirror's own bitmap records the write so that the cluster is copied again.
    /\ remaining' = IF job = "mirror" /\ ~(ready /\ BUG = "mirror-misses-ready-writes")
                    THEN remaining \cup {c} ELSE remaining
    /\ UNCHANGED <<backing, active, job, finished, ready, snap>>

\* Copy-on-read fills the top from its backing chain with a WRITE_UNCHANGED write that skips
\* the dirty tracking (§8).
Populate(c) ==
    /\ data' = [data EXCEPT !["top"] = (c :> Read("top", c)) @@ @]
    /\ bitmaps' = IF BUG = "cor-dirties" THEN DirtyOn("top", c) ELSE bitmaps

NeedsPopulate(c) == c \notin DOMAIN data["top"] /\ AllocatedBelow("top", c)

\* A guest read through the copy-on-read filter on the top.
CopyOnRead(c) ==
    /\ active = "top"
    /\ NeedsPopulate(c)
    /\ Populate(c)
    /\ UNCHANGED <<backing, active, job, finished, remaining, ready, writes, view, snap>>

-----------------------------------------------------------------------------
(* block-stream top (base = none): prefetch reads through a CoR filter, then drop the chain. *)

StartStream ==
    /\ job = "none" /\ "stream" \notin finished /\ active = "top"
    /\ job' = "stream" /\ remaining' = Clusters
    /\ UNCHANGED <<data, backing, active, bitmaps, finished, ready, writes, view, snap>>

StreamStep(c) ==
    /\ job = "stream" /\ c \in remaining
    /\ IF NeedsPopulate(c) THEN Populate(c) ELSE UNCHANGED <<data, bitmaps>>
    /\ remaining' = remaining \ {c}
    /\ UNCHANGED <<backing, active, job, finished, ready, writes, view, snap>>

StreamDone ==
    /\ job = "stream" /\ remaining = {}
    /\ backing' = [backing EXCEPT !["top"] = None]
    /\ job' = "none" /\ finished' = finished \cup {"stream"}
    /\ UNCHANGED <<data, active, bitmaps, remaining, ready, writes, view, snap>>

-----------------------------------------------------------------------------
(* block-commit top=mid base=base: copy what mid holds into the base with ordinary writes. *)

StartCommit ==
    /\ job = "none" /\ "commit" \notin finished /\ backing["top"] = "mid"
    /\ job' = "commit" /\ remaining' = DOMAIN data["mid"]
    /\ UNCHANGED <<data, backing, active, bitmaps, finished, ready, writes, view, snap>>

CommitStep(c) ==
    /\ job = "commit" /\ c \in remaining
    /\ data' = [data EXCEPT !["base"] = (c :> data["mid"][c]) @@ @]
    /\ bitmaps' = IF BUG = "commit-skips-dirty" THEN bitmaps ELSE DirtyOn("base", c)
    /\ remaining' = remaining \ {c}
    /\ UNCHANGED <<backing, active, job, finished, ready, writes, view, snap>>

\* mid leaves the chain; its bitmaps (none here) would not move to the base.
CommitDone ==
    /\ job = "commit" /\ remaining = {}
    /\ backing' = [backing EXCEPT !["top"] = "base"]
    /\ job' = "none" /\ finished' = finished \cup {"commit"}
    /\ UNCHANGED <<data, active, bitmaps, remaining, ready, writes, view, snap>>

-----------------------------------------------------------------------------
(* blockdev-mirror sync=full from the top to an empty target, then job-complete (pivot). *)

StartMirror ==
    /\ job = "none" /\ "mirror" \notin finished /\ active = "top"
    /\ job' = "mirror"
    /\ remaining' = {c \in Clusters : c \in DOMAIN data["top"] \/ AllocatedBelow("top", c)}
    /\ ready' = FALSE
    /\ UNCHANGED <<data, backing, active, bitmaps, finished, writes, view, snap>>

\* The mirror copies a dirty cluster; writing to the target dirties nothing we track.
MirrorStep(c) ==
    /\ job = "mirror" /\ c \in remaining
    /\ data' = [data EXCEPT !["target"] = (c :> Read("top", c)) @@ @]
    /\ remaining' = remaining \ {c}
    /\ UNCHANGED <<backing, active, bitmaps, job, finished, ready, writes, view, snap>>

MirrorReady ==
    /\ job = "mirror" /\ ~ready /\ remaining = {}
    /\ ready' = TRUE
    /\ UNCHANGED <<data, backing, active, bitmaps, job, finished, remaining, writes, view, snap>>

\* job-complete: after the last dirty clusters are copied the target replaces the top for
\* the guest.  User bitmaps stay on the old top and see no more writes (§7).
MirrorPivot ==
    /\ job = "mirror" /\ ready /\ remaining = {}
    /\ active' = "target"
    /\ job' = "none" /\ finished' = finished \cup {"mirror"} /\ ready' = FALSE
    /\ UNCHANGED <<data, backing, bitmaps, remaining, writes, view, snap>>

Quiescent ==
    /\ writes = MaxWrites /\ job = "none"
    /\ UNCHANGED vars

Next ==
    \/ \E c \in Clusters : Write(c) \/ CopyOnRead(c)
    \/ StartStream \/ StreamDone \/ \E c \in Clusters : StreamStep(c)
    \/ StartCommit \/ CommitDone \/ \E c \in Clusters : CommitStep(c)
    \/ StartMirror \/ MirrorReady \/ MirrorPivot \/ \E c \in Clusters : MirrorStep(c)
    \/ Quiescent

-----------------------------------------------------------------------------
(* Invariants *)

TypeOK ==
    /\ active \in {"top", "target"}
    /\ job \in {"none", "stream", "commit", "mirror"}
    /\ bitmaps \in [Bitmaps -> SUBSET Clusters]
    /\ remaining \subseteq Clusters

ViewPreserved == \A c \in Clusters : Read(active, c) = view[c]

ExactDirty ==
    \A b \in Bitmaps :
        IF b \in Disabled THEN bitmaps[b] = {}
        ELSE bitmaps[b] = {c \in Clusters : Read(BitmapNode[b], c) # snap[b][c]}
=============================================================================
