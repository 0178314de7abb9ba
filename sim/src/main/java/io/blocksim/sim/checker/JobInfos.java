package io.blocksim.sim.checker;

import io.blocksim.model.graph.BlockNode;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Notes the jobs a successful QMP command started, with the nodes each may write. */
final class JobInfos {
  private JobInfos() {}

  static void note(World world, String command, Map<String, Object> args,
      Map<String, Object> reply) {
    if (reply.containsKey("error") || args == null) {
      return;
    }
    if (command.equals("transaction") && args.get("actions") instanceof List<?> actions) {
      for (Object action : actions) {
        if (action instanceof Map<?, ?> a && a.get("type") instanceof String type
            && a.get("data") instanceof Map<?, ?> data) {
          @SuppressWarnings("unchecked")
          Map<String, Object> d = (Map<String, Object>) data;
          noteOne(world, type, d);
        }
      }
      return;
    }
    noteOne(world, command, args);
  }

  private static void noteOne(World world, String command, Map<String, Object> args) {
    String type = switch (command) {
      case "blockdev-backup", "drive-backup" -> "backup";
      case "blockdev-mirror", "drive-mirror" -> "mirror";
      case "block-commit" -> "commit";
      case "block-stream" -> "stream";
      default -> null;
    };
    if (type == null) {
      return;
    }
    String device = text(args.get("device"));
    String id = args.get("job-id") instanceof String s ? s : device;
    if (id == null) {
      return;
    }
    Set<String> writes = new LinkedHashSet<>();
    switch (type) {
      case "backup", "mirror" -> {
        String target = text(args.get(command.startsWith("drive-") ? "node-name" : "target"));
        if (target != null) {
          writes.add(target);
        }
      }
      case "commit" -> writes.addAll(commitWrites(world, device, args));
      default -> { }
    }
    world.noteJob(new World.JobInfo(id, type, args, Set.copyOf(writes)));
  }

  /**
   * A commit changes what its base reads and so what every node between the top and the base
   * reads (the top keeps reading the same).
   */
  private static Set<String> commitWrites(World world, String device, Map<String, Object> args) {
    Set<String> writes = new LinkedHashSet<>();
    BlockNode top = world.engine().graph().find(
        args.get("top-node") instanceof String t ? t : String.valueOf(device));
    if (top == null) {
      return writes;
    }
    String base = args.get("base-node") instanceof String b ? b : null;
    for (BlockNode layer = below(top); layer != null; layer = below(layer)) {
      if (!layer.autoNamed()) {
        writes.add(layer.name());
      }
      if (layer.name().equals(base)) {
        break;
      }
    }
    return writes;
  }

  /** The next layer down: the backing child, or through a filter (a job's) to what it filters. */
  private static BlockNode below(BlockNode layer) {
    if (layer.backing() != null) {
      return layer.backing();
    }
    return layer.driver().isFilter() ? layer.primaryChild() : null;
  }

  private static String text(Object value) {
    return value instanceof String s ? s : null;
  }
}
