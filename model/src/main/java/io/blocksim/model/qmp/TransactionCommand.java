package io.blocksim.model.qmp;

import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code transaction}: prepare every action in order; on the first failure abort the prepared
 * ones (the failing one included) in reverse order; else commit all in order; then clean all.
 */
public final class TransactionCommand {
  /** Creates job actions (blockdev-backup, drive-backup); null for other types. */
  public interface JobActionFactory {
    TransactionAction create(String type, Args data, TransactionContext context);
  }

  /** What job actions of one transaction share: grouped completion. */
  public static final class TransactionContext {
    private final boolean grouped;
    private Object jobTransaction;

    TransactionContext(boolean grouped) {
      this.grouped = grouped;
    }

    public boolean grouped() {
      return grouped;
    }

    public Object jobTransaction() {
      return jobTransaction;
    }

    public void setJobTransaction(Object jobTransaction) {
      this.jobTransaction = jobTransaction;
    }
  }

  private static final List<String> TYPES = List.of("abort", "block-dirty-bitmap-add",
      "block-dirty-bitmap-remove", "block-dirty-bitmap-clear", "block-dirty-bitmap-enable",
      "block-dirty-bitmap-disable", "block-dirty-bitmap-merge", "blockdev-backup",
      "drive-backup", "blockdev-snapshot", "blockdev-snapshot-internal-sync",
      "blockdev-snapshot-sync");

  private final BlockLayer layer;
  private final JobManager jobs;
  private final BackupCommands backup;
  private final BitmapCommands bitmaps;

  public TransactionCommand(BlockLayer layer, JobManager jobs, BackupCommands backup) {
    this.layer = layer;
    this.jobs = jobs;
    this.backup = backup;
    this.bitmaps = new BitmapCommands(layer);
  }

  void register(Map<String, QmpDispatcher.Handler> handlers) {
    handlers.put("transaction", this::transaction);
    // blockdev_do_action: each external snapshot command is a transaction of one action.
    for (String type : List.of("blockdev-snapshot", "blockdev-snapshot-sync")) {
      handlers.put(type, args -> run(List.of(SnapshotAction.parse(layer, jobs, type, args)),
          List.of(type), false));
    }
  }

  private Object transaction(Args args) throws QmpError {
    List<Object> list = args.optList("actions");
    if (list == null) {
      throw args.missing("actions");
    }
    Args properties = args.optObject("properties");
    boolean grouped = false;
    if (properties != null) {
      grouped = "grouped".equals(properties.optEnum("completion-mode",
          List.of("individual", "grouped")));
      properties.checkNoExtra();
    }
    args.checkNoExtra();
    TransactionContext context = new TransactionContext(grouped);
    List<TransactionAction> actions = new ArrayList<>();
    List<String> types = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      Args action = args.element("actions", list, i);
      String type = action.optEnum("type", TYPES);
      if (type == null) {
        throw action.missing("type");
      }
      Args data = action.optObject("data");
      if (data == null) {
        throw action.missing("data");
      }
      action.checkNoExtra();
      types.add(type);
      actions.add(create(type, data, context));
    }
    return run(actions, types, grouped);
  }

  private Object run(List<TransactionAction> actions, List<String> types, boolean grouped)
      throws QmpError {
    // QEMU drains all I/O for the whole transaction: every block job passes a pause point.
    jobs.drainAll();
    List<TransactionAction> prepared = new ArrayList<>();
    QmpError failure = null;
    for (int i = 0; i < actions.size(); i++) {
      TransactionAction action = actions.get(i);
      prepared.add(action);
      try {
        if (grouped && !supportsGrouped(types.get(i))) {
          throw QmpError.generic("Action '" + types.get(i)
              + "' does not support Transaction property completion-mode = grouped");
        }
        action.prepare();
      } catch (QmpError e) {
        failure = e;
        break;
      }
    }
    if (failure != null) {
      for (int i = prepared.size() - 1; i >= 0; i--) {
        prepared.get(i).abort();
      }
    } else {
      for (TransactionAction action : actions) {
        action.commit();
      }
    }
    for (TransactionAction action : prepared) {
      action.clean();
    }
    if (failure != null) {
      throw failure;
    }
    return null;
  }

  private static boolean supportsGrouped(String type) {
    return type.equals("abort") || type.equals("blockdev-backup") || type.equals("drive-backup");
  }

  private TransactionAction create(String type, Args data, TransactionContext context)
      throws QmpError {
    if (type.equals("abort")) {
      return () -> {
        throw QmpError.generic("Transaction aborted using Abort action");
      };
    }
    TransactionAction snapshot = SnapshotAction.parse(layer, jobs, type, data);
    if (snapshot != null) {
      return snapshot;
    }
    TransactionAction bitmapAction = bitmaps.action(type, data, true);
    if (bitmapAction != null) {
      return bitmapAction;
    }
    TransactionAction jobAction = backup.transactionAction(type, data, context);
    if (jobAction != null) {
      return jobAction;
    }
    return () -> {
      throw QmpError.generic("Action '" + type + "' is not supported by blocksim");
    };
  }
}
