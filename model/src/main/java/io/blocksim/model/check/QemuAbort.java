package io.blocksim.model.check;

/**
 * A state in which QEMU 7.2 itself fails an assertion and aborts (docs/qemu-behaviour.md §22):
 * the engine stops where the real process would die, naming QEMU's assertion. Not a bug of the
 * engine; explore counts such runs apart from violations.
 */
public final class QemuAbort extends RuntimeException {
  public QemuAbort(String assertion) {
    super("QEMU 7.2 aborts here: " + assertion);
  }
}
