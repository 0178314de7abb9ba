package io.blocksim.model.job;

import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;

/**
 * How {@code blockdev-create} makes an image of one format (QEMU's bdrv_co_create). The options
 * are checked when the command runs, as QAPI does; the image is written when the job runs.
 */
@FunctionalInterface
public interface FormatCreator {
  /**
   * Checks the {@code options} member of blockdev-create (driver included) and returns the work;
   * a QAPI or validation error fails the command.
   */
  Creation prepare(Args options) throws QmpError;

  /** The image creation itself; a failure becomes the job's error text. */
  @FunctionalInterface
  interface Creation {
    void run() throws QmpError;
  }
}
