package io.blocksim.model.job;

import io.blocksim.model.port.HostIoException;
import java.util.List;

/** BlockdevOnError and its mapping to a BlockErrorAction (block_job_error_action). */
public enum ErrorPolicy {
  REPORT, IGNORE, ENOSPC, STOP, AUTO;

  public static final List<String> NAMES = List.of("report", "ignore", "enospc", "stop", "auto");

  public static ErrorPolicy parse(String name) {
    return name == null ? REPORT : values()[NAMES.indexOf(name)];
  }

  /** Returns "report", "ignore" or "stop" for an error with that errno. */
  String action(int errno) {
    return switch (this) {
      case ENOSPC, AUTO -> errno == HostIoException.ENOSPC ? "stop" : "report";
      case STOP -> "stop";
      case REPORT -> "report";
      case IGNORE -> "ignore";
    };
  }
}
