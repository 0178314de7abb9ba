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
(***************************************************************************)
EXTENDS Naturals, Sequences, FiniteSets, TLC

CONSTANTS
    Clusters,        \* cluster indexes, e.g. {0, 1}
    MaxWrites,       \* bound on guest writes
    MaxCheckpoints,  \* bound on checkpoints created (the first exists from the start)
    BUG              \* "none" or one of the planted bugs below

Bugs == {"none",
         "merge-into-newer",               \* a deleted slice is merged into the newer neighbour
         "newest-delete-leaves-disabled"}  \* deleting the newest forgets to enable the next

ASSUME BUG \in Bugs

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

CreateCheckpoint ==
    /\ created < MaxCheckpoints
    /\ LET newest == Len(slices) IN
       slices' = Append([slices EXCEPT ![newest].enabled = FALSE], Slice(created + 1))
    /\ since' = (created + 1 :> {}) @@ since
    /\ created' = created + 1
    /\ UNCHANGED writes

\* Sequence s without its k-th element.
Without(s, k) == [i \in 1..Len(s) - 1 |-> IF i < k THEN s[i] ELSE s[i + 1]]

DeleteCheckpoint(k) ==
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

\* Checkpoints stay in creation order.
OrderedIds == \A k \in 1..Len(slices) - 1 : slices[k].id < slices[k + 1].id
=============================================================================
