package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;

/** TEMPORARY stub until the qcow2 helper delivers. */
public final class Qcow2Image {
  public static void create(HostFile file, long size, Qcow2CreateOptions options)
      throws HostIoException {
    throw new HostIoException(HostIoException.ENOTSUP, "qcow2 not yet available");
  }
}
