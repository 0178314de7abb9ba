package io.blocksim.model.driver.qcow2;

/**
 * Receives the blkdebug events that QEMU 7.2's qcow2 driver raises on its {@code file} child
 * ({@code BLKDBG_EVENT(bs->file, ...)}). Names are exactly QEMU's BlkdebugEvent spellings
 * ({@code l2_load}, {@code write_aio}, ...). The engine raises an event immediately before the
 * {@link io.blocksim.model.port.HostFile} request it announces, as QEMU does, so a blkdebug rule
 * activated by the event fails that very request.
 */
@FunctionalInterface
public interface Qcow2Events {
  /** A listener that ignores every event. */
  Qcow2Events NONE = name -> {};

  /** Handles one event raised on the image's file child. */
  void event(String name);
}
