package io.blocksim.sim.tlc;

import java.util.Collections;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One observed state of a job-lifecycle trace (checked against {@code specs/JobLifecycle.tla}
 * through {@code specs/JobLifecycleTrace.tla}): the action that produced it and every live job's
 * QEMU status.
 *
 * @param action the JobLifecycle action (or one of the wrapper's: {@code Aborts}, {@code
 *     TxnAbort}, {@code Refused}, {@code Reset}); {@code Stutter} for a status change no action
 *     explains, so that the check rejects it
 * @param job the trace's name of the job that takes the action, "" for none or any
 * @param verb for {@code Refused}: the refused verb as JobLifecycle names it, else ""
 * @param force for {@code Cancel} and a refused cancel: whether it was forced; else null
 * @param type for {@code Create}: "backup" or "mirror", null when unknown
 * @param autoFinalize for {@code Create}: the auto-finalize argument, null when unknown
 * @param autoDismiss for {@code Create}: the auto-dismiss argument, null when unknown
 * @param jobs trace job name to QEMU status, for every job that exists now
 * @param note what the implementation did (QMP command or event), for people reading a trace
 * @param group for {@code GroupCancel}: the other members of the job's grouped transaction
 */
public record JobTraceState(String action, String job, String verb, Boolean force, String type,
    Boolean autoFinalize, Boolean autoDismiss, SortedMap<String, String> jobs, String note,
    SortedSet<String> group) {

  public JobTraceState {
    jobs = Collections.unmodifiableSortedMap(new TreeMap<>(jobs));
    group = Collections.unmodifiableSortedSet(new TreeSet<>(group));
  }

  /** A state without a group. */
  public JobTraceState(String action, String job, String verb, Boolean force, String type,
      Boolean autoFinalize, Boolean autoDismiss, SortedMap<String, String> jobs, String note) {
    this(action, job, verb, force, type, autoFinalize, autoDismiss, jobs, note, new TreeSet<>());
  }

  /** Returns this state naming the other members of the job's grouped transaction. */
  public JobTraceState withGroup(SortedSet<String> members) {
    return new JobTraceState(action, job, verb, force, type, autoFinalize, autoDismiss, jobs,
        note, members);
  }

  /** A state with only an action, a job and the statuses. */
  static JobTraceState of(String action, String job, SortedMap<String, String> jobs,
      String note) {
    return new JobTraceState(action, job, "", null, null, null, null, jobs, note);
  }

  /** Returns this state produced by another action (a mutation, or a batch's Reset). */
  public JobTraceState withAction(String newAction) {
    return new JobTraceState(newAction, job, verb, force, type, autoFinalize, autoDismiss, jobs,
        note, group);
  }

  @Override
  public String toString() {
    StringBuilder text = new StringBuilder(action.isEmpty() ? "(any)" : action);
    if (!job.isEmpty()) {
      text.append('(').append(job);
      if (!verb.isEmpty()) {
        text.append(", ").append(verb);
      }
      if (force != null) {
        text.append(", force=").append(force);
      }
      if (!group.isEmpty()) {
        text.append(", group ").append(group);
      }
      if (type != null) {
        text.append(", ").append(type).append(", af=").append(autoFinalize)
            .append(", ad=").append(autoDismiss);
      }
      text.append(')');
    }
    return text + " " + jobs + (note.isEmpty() ? "" : "   <- " + note);
  }
}
