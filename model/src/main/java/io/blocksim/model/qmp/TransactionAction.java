package io.blocksim.model.qmp;

import io.blocksim.model.qapi.QmpError;

/**
 * One action of a {@code transaction} (QEMU's TransactionActionDrv): prepare may fail; after a
 * failure every prepared action (the failing one included) is aborted in reverse order; then
 * every action is cleaned.
 */
public interface TransactionAction {
  void prepare() throws QmpError;

  default void commit() {}

  default void abort() {}

  default void clean() {}
}
