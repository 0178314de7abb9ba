package io.blocksim.model.job;

/** QEMU 7.2's JobVerb, with the statuses that accept each verb (job.c JobVerbTable). */
public enum JobVerb {
  CANCEL("cancel", "01111111000"),
  PAUSE("pause", "01111100000"),
  RESUME("resume", "01111100000"),
  SET_SPEED("set-speed", "01111100000"),
  COMPLETE("complete", "00001100000"),
  FINALIZE("finalize", "00000001000"),
  DISMISS("dismiss", "00000000010");

  private final String qapiName;
  private final String allowed;

  JobVerb(String qapiName, String allowed) {
    this.qapiName = qapiName;
    this.allowed = allowed;
  }

  public String qapiName() {
    return qapiName;
  }

  /** Returns whether a job in that status accepts the verb. */
  public boolean allowedIn(JobStatus status) {
    return allowed.charAt(status.ordinal()) == '1';
  }
}
