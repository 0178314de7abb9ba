package io.blocksim.model.job;

/** QEMU 7.2's JobStatus, with its state transition table (job.c JobSTT). */
public enum JobStatus {
  UNDEFINED("undefined"),
  CREATED("created"),
  RUNNING("running"),
  PAUSED("paused"),
  READY("ready"),
  STANDBY("standby"),
  WAITING("waiting"),
  PENDING("pending"),
  ABORTING("aborting"),
  CONCLUDED("concluded"),
  NULL("null");

  /** Rows: from; columns: to, in declaration order (U C R P Y S W D X E N). */
  private static final String[] TRANSITIONS = {
    /* U */ "01000000000",
    /* C */ "00100000101",
    /* R */ "00011010100",
    /* P */ "00100000000",
    /* Y */ "00000110100",
    /* S */ "00001000000",
    /* W */ "00000001100",
    /* D */ "00000000110",
    /* X */ "00000000110",
    /* E */ "00000000001",
    /* N */ "00000000000",
  };

  private final String qapiName;

  JobStatus(String qapiName) {
    this.qapiName = qapiName;
  }

  /** Returns the status as QMP spells it. */
  public String qapiName() {
    return qapiName;
  }

  /** Returns whether QEMU allows the transition from this status to that one. */
  public boolean canBecome(JobStatus to) {
    return TRANSITIONS[ordinal()].charAt(to.ordinal()) == '1';
  }

  /** Returns whether a job in this status has finished running (job_is_completed). */
  public boolean completed() {
    return this == WAITING || this == PENDING || this == ABORTING || this == CONCLUDED
        || this == NULL;
  }

  /** Returns whether the status is ready or standby (job_is_ready). */
  public boolean ready() {
    return this == READY || this == STANDBY;
  }
}
