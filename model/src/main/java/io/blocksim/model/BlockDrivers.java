package io.blocksim.model;

import io.blocksim.model.driver.Qcow2Driver;
import io.blocksim.model.driver.blkdebug.BlkdebugDriver;
import io.blocksim.model.driver.file.FileDriver;
import io.blocksim.model.driver.file.NullDriver;
import io.blocksim.model.driver.filter.CopyBeforeWriteDriver;
import io.blocksim.model.driver.filter.CopyOnReadDriver;
import io.blocksim.model.driver.filter.SnapshotAccessDriver;
import io.blocksim.model.driver.qbm.QbmDriver;
import io.blocksim.model.driver.raw.RawDriver;
import io.blocksim.model.graph.BlockLayer.DriverKind;
import java.util.List;

/**
 * The driver registry (QEMU's block_drv_init list): what {@code blockdev-add}'s {@code driver}
 * accepts. A new driver is its factory plus one line here; {@code protocol} drivers are opened as
 * QEMU's bdrv_file_open does (named before their children).
 */
final class BlockDrivers {
  static final List<DriverKind> ALL = List.of(
      new DriverKind("blkdebug", true, BlkdebugDriver::open),
      new DriverKind("copy-before-write", false, CopyBeforeWriteDriver::open),
      new DriverKind("copy-on-read", false, CopyOnReadDriver::open),
      new DriverKind("file", true, FileDriver::open),
      new DriverKind("null-co", true, NullDriver::open),
      new DriverKind("qbm", false, QbmDriver::open),
      new DriverKind("qcow2", false, Qcow2Driver::open),
      new DriverKind("raw", false, RawDriver::open),
      new DriverKind("snapshot-access", false, SnapshotAccessDriver::open));

  private BlockDrivers() {}
}
