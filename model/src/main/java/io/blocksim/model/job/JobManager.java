package io.blocksim.model.job;

import io.blocksim.model.Engine;
import io.blocksim.model.qmp.Args;
import io.blocksim.model.qmp.QmpDispatcher;
import io.blocksim.model.qmp.TransactionAction;
import io.blocksim.model.qmp.TransactionCommand.TransactionContext;
import java.util.ArrayList;
import java.util.Map;

/** The jobs of one simulated QEMU process and the QMP commands that drive them. */
public final class JobManager {
  private final Engine engine;

  public JobManager(Engine engine) {
    this.engine = engine;
  }

  public void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("query-jobs", args -> new ArrayList<>());
    handlers.put("query-block-jobs", args -> new ArrayList<>());
  }

  /** Returns the transaction action for a job type, or null. */
  public TransactionAction transactionAction(String type, Args data, TransactionContext context) {
    return null;
  }
}
