package io.blocksim.model.job;

import io.blocksim.model.qapi.QapiEnum;

/** QAPI BitmapSyncMode: what a backup job does with its sync bitmap at the end. */
public enum BitmapSyncMode implements QapiEnum {
  ON_SUCCESS("on-success"), NEVER("never"), ALWAYS("always");

  private final String qapiName;

  BitmapSyncMode(String qapiName) {
    this.qapiName = qapiName;
  }

  @Override
  public String qapiName() {
    return qapiName;
  }
}
