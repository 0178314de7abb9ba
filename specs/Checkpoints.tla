----------------------------- MODULE Checkpoints -----------------------------
(***************************************************************************)
(* Checkpoints as a chain of bitmaps ("slices"), the way libvirt builds    *)
(* them from QEMU 7.2 bitmap commands (docs/qemu-behaviour.md §3, §4).  Each    *)
(* checkpoint owns one bitmap that records the writes made after it and    *)
(* before the next checkpoint; only the newest one is enabled.             *)
(*   create - a transaction of block-dirty-bitmap-add (new, enabled) and   *)
(*            block-dirty-bitmap-disable (the previous newest);            *)
(*   delete - block-dirty-bitmap-merge of its slice into the older         *)
(*            neighbour (enable that neighbour if it becomes the newest),  *)
(*            then block-dirty-bitmap-remove; the oldest is just removed.  *)
(* The differential bitmap from checkpoint k to now is the union of the    *)
(* slices from k on, and must equal the set of clusters written since k    *)
(* was created (DiffExact).  BUG plants one mistake so that each invariant *)
(* is seen to bite.                                                        *)
(*                                                                         *)
(* RETENTION switches on the retention rule of proposal:bitmap-slices      *)
(* (docs/variants.md): one bitmap keeps at most RETENTION past slices      *)
(* beside the active one; a new checkpoint (a successful backup saving a   *)
(* slice) past the retention is refused unless FORCE_CYCLE, which drops    *)
(* the oldest slice, and the set-retention command with force-cycle may    *)
(* drop the oldest at any time.  The proposal deletes no slice in the      *)
(* middle, so DeleteCheckpoint is QEMU 7.2's (libvirt's) only.             *)
(* RETENTION = 0 is QEMU 7.2: no bound, the state counts are unchanged.   *)
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets, TLC

CONSTANTS
    Clusters,        \* cluster indexes, e.g. {0, 1}
    MaxWrites,       \* bound on guest writes
    MaxCheckpoints,  \* bound on checkpoints created (the first exists from the start)
    BUG,             \* "none" or one of the planted bugs below
    RETENTION,       \* 0: QEMU 7.2; N > 0: proposal:bitmap-slices keeping N past slices
    FORCE_CYCLE      \* with RETENTION > 0: a new slice past the retention drops the oldest

Bugs == {"none",
         "merge-into-newer",               \* a deleted slice is merged into the newer neighbour
         "newest-delete-leaves-disabled",  \* deleting the newest forgets to enable the next
         "cycle-merges-into-next",         \* cycling merges the dropped slice into the next
         "retention-ignored"}              \* a backup past the retention saves a slice anyway

ASSUME BUG \in Bugs
ASSUME RETENTION \in Nat /\ FORCE_CYCLE \in BOOLEAN

VARIABLES
    slices,   \* sequence, oldest first, of [id, bits, enabled]: one bitmap per checkpoint
    created,  \* number of checkpoints created so far (also the id of the newest)
    writes,   \* number of guest writes so far
    since     \* ghost: checkpoint id -> clusters written since it was created

vars == <<slices, created, writes, since>>

Slice(id) == [id |-> id, bits |-> {}, enabled |-> TRUE]

Init ==
    /\ slices = <<Slice(1)>>
    /\ created = 1
    /\ writes = 0
    /\ since = (1 :> {})

Ids == {slices[k].id : k \in 1..Len(slices)}

\* The guest write dirties every enabled bitmap.
Write(c) ==
    /\ writes < MaxWrites
    /\ slices' = [k \in 1..Len(slices) |->
                    IF slices[k].enabled THEN [slices[k] EXCEPT !.bits = @ \cup {c}]
                    ELSE slices[k]]
    /\ since' = [id \in DOMAIN since |-> since[id] \cup {c}]
    /\ writes' = writes + 1
    /\ UNCHANGED created

\* proposal:bitmap-slices: the past slices (all but the active, newest one) fill the retention.
Full == RETENTION > 0 /\ Len(slices) - 1 >= RETENTION

\* Drops the oldest slice of s (the bug merges its bits into the next one instead of dropping them).
Cycle(s) ==
    IF BUG = "cycle-merges-into-next"
    THEN [Tail(s) EXCEPT ![1].bits = @ \cup s[1].bits]
    ELSE Tail(s)

\* The ghost of the checkpoints still kept in s.
SinceOf(s, g) == [id \in {s[k].id : k \in 1..Len(s)} |-> g[id]]

\* A successful backup saves the active slice, disabled, and a new active one starts; past the
\* retention it is refused, or with FORCE_CYCLE the oldest slice goes.
CreateCheckpoint ==
    /\ created < MaxCheckpoints
    /\ ~Full \/ FORCE_CYCLE \/ BUG = "retention-ignored"
    /\ LET newest == Len(slices)
           appended == Append([slices EXCEPT ![newest].enabled = FALSE], Slice(created + 1))
           kept == IF Full /\ FORCE_CYCLE THEN Cycle(appended) ELSE appended
       IN /\ slices' = kept
          /\ since' = SinceOf(kept, (created + 1 :> {}) @@ since)
    /\ created' = created + 1
    /\ UNCHANGED writes

\* block-dirty-bitmap-set-retention with force-cycle and a smaller retention: the oldest slice goes.
DropOldest ==
    /\ RETENTION > 0
    /\ Len(slices) > 1
    /\ slices' = Cycle(slices)
    /\ since' = SinceOf(slices', since)
    /\ UNCHANGED <<created, writes>>

\* Sequence s without its k-th element.
Without(s, k) == [i \in 1..Len(s) - 1 |-> IF i < k THEN s[i] ELSE s[i + 1]]

DeleteCheckpoint(k) ==
    /\ RETENTION = 0
    /\ Len(slices) > 1
    /\ k \in 1..Len(slices)
    /\ LET s == slices[k]
           merged ==
             CASE BUG = "merge-into-newer" /\ k < Len(slices) ->
                    [slices EXCEPT ![k + 1].bits = @ \cup s.bits]
               [] k > 1 ->
                    [slices EXCEPT ![k - 1].bits = @ \cup s.bits,
                                   ![k - 1].enabled = @ \/ (s.enabled
                                                    /\ BUG # "newest-delete-leaves-disabled")]
               [] OTHER -> slices   \* the oldest: nothing older needs its writes
       IN /\ slices' = Without(merged, k)
          /\ since' = [id \in DOMAIN since \ {s.id} |-> since[id]]
    /\ UNCHANGED <<created, writes>>

Quiescent ==
    /\ writes = MaxWrites /\ created = MaxCheckpoints
    /\ UNCHANGED vars

Next ==
    \/ \E c \in Clusters : Write(c)
    \/ CreateCheckpoint
    \/ \E k \in 1..MaxCheckpoints : DeleteCheckpoint(k)
    \/ DropOldest
    \/ Quiescent

-----------------------------------------------------------------------------
(* Invariants *)

TypeOK ==
    /\ Len(slices) >= 1
    /\ \A k \in 1..Len(slices) : slices[k].bits \subseteq Clusters
    /\ DOMAIN since = Ids

\* The bitmap libvirt builds for "changes since checkpoint k": a merge of the slices from k on.
DiffFrom(k) == UNION {slices[i].bits : i \in k..Len(slices)}

DiffExact == \A k \in 1..Len(slices) : DiffFrom(k) = since[slices[k].id]

OnlyNewestEnabled == \A k \in 1..Len(slices) : slices[k].enabled <=> k = Len(slices)

\* proposal:bitmap-slices: never more past slices than the retention.
RetentionKept == RETENTION = 0 \/ Len(slices) - 1 <= RETENTION

\* Checkpoints stay in creation order.
OrderedIds == \A k \in 1..Len(slices) - 1 : slices[k].id < slices[k + 1].id
=============================================================================
