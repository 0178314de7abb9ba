package io.blocksim.model.job;

import io.blocksim.model.qapi.QapiEnum;

/** QAPI MirrorCopyMode: how a mirror job copies guest writes. */
public enum MirrorCopyMode implements QapiEnum {
  BACKGROUND("background"), WRITE_BLOCKING("write-blocking");

  private final String qapiName;

  MirrorCopyMode(String qapiName) {
    this.qapiName = qapiName;
  }

  @Override
  public String qapiName() {
    return qapiName;
  }
}
