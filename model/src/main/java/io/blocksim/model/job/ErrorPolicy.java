package io.blocksim.model.job;

import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qapi.QapiEnum;

/** QAPI BlockdevOnError and its mapping to a BlockErrorAction (block_job_error_action). */
public enum ErrorPolicy implements QapiEnum {
  REPORT("report"), IGNORE("ignore"), ENOSPC("enospc"), STOP("stop"), AUTO("auto");

  private final String qapiName;

  ErrorPolicy(String qapiName) {
    this.qapiName = qapiName;
  }

  @Override
  public String qapiName() {
    return qapiName;
  }

  /** The policy for an absent on-*-error argument: QEMU's default, report. */
  public static ErrorPolicy orDefault(ErrorPolicy policy) {
    return policy == null ? REPORT : policy;
  }

  /** Returns the action for an error with that errno. */
  BlockErrorAction action(int errno) {
    return switch (this) {
      case ENOSPC, AUTO -> errno == HostIoException.ENOSPC ? BlockErrorAction.STOP
          : BlockErrorAction.REPORT;
      case STOP -> BlockErrorAction.STOP;
      case REPORT -> BlockErrorAction.REPORT;
      case IGNORE -> BlockErrorAction.IGNORE;
    };
  }
}
