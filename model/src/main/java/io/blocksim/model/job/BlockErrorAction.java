package io.blocksim.model.job;

import io.blocksim.model.qapi.QapiEnum;

/** QAPI BlockErrorAction: what a job does about an I/O error (BLOCK_JOB_ERROR's "action"). */
public enum BlockErrorAction implements QapiEnum {
  REPORT("report"), IGNORE("ignore"), STOP("stop");

  private final String qapiName;

  BlockErrorAction(String qapiName) {
    this.qapiName = qapiName;
  }

  @Override
  public String qapiName() {
    return qapiName;
  }
}
