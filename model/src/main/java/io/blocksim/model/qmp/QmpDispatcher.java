package io.blocksim.model.qmp;

import io.blocksim.model.check.InvariantViolation;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.job.JobManager;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/** The QMP monitor: routes a command to its handler and shapes QEMU's reply object. */
public final class QmpDispatcher {
  /** A command handler; returns the value of {@code "return"}. */
  public interface Handler {
    Object handle(Args args) throws QmpError;
  }

  private final Map<String, Handler> handlers = new TreeMap<>();
  private final ExportCommands exports;
  private final BlockLayer layer;

  public QmpDispatcher(BlockLayer layer, JobManager jobs) {
    this.layer = layer;
    handlers.put("qmp_capabilities", args -> new LinkedHashMap<>());
    new BlockdevCommands(layer).register(handlers);
    exports = new ExportCommands(layer, jobs);
    exports.register(handlers);
    new BitmapCommands(layer).register(handlers);
    new SliceCommands(layer).register(handlers);
    BackupCommands backup = new BackupCommands(jobs);
    new TransactionCommand(layer, jobs, backup).register(handlers);
    new JobCommands(jobs).register(handlers);
    backup.register(handlers);
    new BlockJobCommands(jobs).register(handlers);
    new BlockResizeCommand(layer).register(handlers);
    new BlockdevReopenCommand(layer).register(handlers);
  }

  /** The NBD server's exports (what an NBD client step reads). */
  public ExportCommands exports() {
    return exports;
  }

  public Map<String, Object> execute(String command, Map<String, Object> args) {
    Handler handler = handlers.get(command);
    Map<String, Object> reply = new LinkedHashMap<>();
    if (handler == null) {
      reply.put("error", error(QmpError.COMMAND_NOT_FOUND,
          "The command " + command + " has not been found"));
      return reply;
    }
    // What changed since the last command (a job's graph change) is committed first, so that
    // a command's own permission checks (BlockLayer.checkLocks) see only its changes; what it
    // released or dropped is committed after.
    layer.commitLocks();
    try {
      Object result = handler.handle(Args.of(args));
      reply.put("return", result == null ? new LinkedHashMap<>() : result);
    } catch (QmpError e) {
      reply.put("error", error(e.errorClass(), e.desc()));
    } catch (InvariantViolation e) {
      throw e;
    }
    layer.commitLocks();
    return reply;
  }

  private static Map<String, Object> error(String errorClass, String desc) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("class", errorClass);
    error.put("desc", desc);
    return error;
  }
}
