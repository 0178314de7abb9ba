package io.blocksim.model.job;

import io.blocksim.model.qapi.QapiEnum;

/** QAPI MirrorSyncMode: the sync argument of backup and mirror jobs (the name is QEMU's). */
public enum MirrorSyncMode implements QapiEnum {
  TOP("top"), FULL("full"), NONE("none"), INCREMENTAL("incremental"), BITMAP("bitmap");

  private final String qapiName;

  MirrorSyncMode(String qapiName) {
    this.qapiName = qapiName;
  }

  @Override
  public String qapiName() {
    return qapiName;
  }
}
