package io.blocksim.model.graph;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The image-lock bytes a process's file nodes hold on a host file (file-posix.c,
 * raw_handle_perm_lock): each file node with locking on locks one byte per permission it takes
 * (its parents' cumulative permissions, bdrv_get_cumulative_perm) and one per permission it does
 * not share. Another process opening the file tests them (raw_check_lock_bytes).
 *
 * <p>The cumulative permissions are computed from the graph as QEMU's child_perm functions do:
 * an export's BlockBackend (consistent read, write when writable; shares all but resize), qcow2's
 * storage children (bdrv_default_perms_for_storage: the metadata child takes consistent read,
 * write and resize when the node is writable, and shares neither write nor resize), backing
 * children (bdrv_default_perms_for_cow), raw (raw_child_perm), filters that pass their parents'
 * permissions through (blkdebug, copy-on-read adding write-unchanged, copy-before-write,
 * snapshot-access). A block job's children unshare what they do not share and are taken to take
 * consistent read only; a job's own filter (mirror_top, commit_top) is not modelled: {@link
 * Held} then names it.
 *
 * <p>The same bytes are tested between two file nodes of the daemon itself ({@link Table}): OFD
 * locks belong to an open file description, so a node's own bytes never conflict with it, but
 * another node's do (raw_check_perm -> raw_handle_perm_lock, RAW_PL_PREPARE).
 */
public final class FileLocks {
  private FileLocks() {}

  public static final int CONSISTENT_READ = 1;
  public static final int WRITE = 2;
  public static final int WRITE_UNCHANGED = 4;
  public static final int RESIZE = 8;
  public static final int ALL = 15;

  /** QEMU's names of the permission bits, in bit order (bdrv_perm_names). */
  public static String permName(int bit) {
    return switch (bit) {
      case CONSISTENT_READ -> "consistent read";
      case WRITE -> "write";
      case WRITE_UNCHANGED -> "write unchanged";
      default -> "resize";
    };
  }

  /**
   * The lock bytes held on one file: the permissions taken and those not shared; {@code
   * unmodelled} names a holder whose permissions blocksim does not compute, or is null.
   */
  public record Held(int perm, int unshared, String unmodelled) {
    public static final Held NONE = new Held(0, 0, null);
  }

  /** Returns the bytes the graph's file nodes with locking hold on {@code filename}. */
  public static Held held(NodeGraph graph, String filename) {
    String wanted = normal(filename);
    int perm = 0;
    int unshared = 0;
    String unmodelled = null;
    for (BlockNode node : graph.all()) {
      String locked = node.driver() == null ? null : node.driver().lockedFile();
      if (locked == null || !normal(locked).equals(wanted)) {
        continue;
      }
      Cumulative c = cumulative(node, new ArrayList<>());
      perm |= c.perm;
      unshared |= ALL & ~c.shared;
      if (unmodelled == null) {
        unmodelled = c.unmodelled;
      }
    }
    return new Held(perm, unshared, unmodelled);
  }

  /** A file node whose new permissions conflict with another node's bytes, and QEMU's error. */
  public record Conflict(BlockNode node, String message) {}

  /**
   * The lock bytes each file node of the daemon holds: the permissions of its last committed
   * update (raw_set_perm: s->perm, s->shared_perm); a node opens holding none (raw_open_common).
   */
  public static final class Table {
    /** Looked up by node only; iteration goes through the graph's creation order. */
    private final Map<BlockNode, int[]> committed = new IdentityHashMap<>();

    /**
     * raw_handle_perm_lock(RAW_PL_PREPARE) for every file node with locking whose permissions
     * the graph now gives (cumulative, as {@link #held}) differ from what it holds: a node that
     * takes no new permission and stops sharing none tests nothing; the others test, bit by bit
     * in bdrv_perm_names' order, each permission they take against the bytes another node on
     * the same file holds for not sharing it ({@code Failed to get "P" lock}), then each one
     * they do not share against another node's bytes for taking it ({@code Failed to get shared
     * "P" lock}). Another node holds what it committed and what it is preparing (the union
     * PREPARE locks). Users whose permissions are not modelled count as taking nothing.
     * Returns the first conflict, or null.
     */
    public Conflict prepare(NodeGraph graph) {
      List<BlockNode> files = new ArrayList<>();
      List<int[]> now = new ArrayList<>();
      for (BlockNode node : graph.all()) {
        if (node.driver() != null && node.driver().lockedFile() != null) {
          Cumulative c = cumulative(node, new ArrayList<>());
          files.add(node);
          now.add(new int[] {c.perm, c.shared});
        }
      }
      for (int i = 0; i < files.size(); i++) {
        int[] old = committed.getOrDefault(files.get(i), new int[] {0, ALL});
        int perm = now.get(i)[0];
        int shared = now.get(i)[1];
        if ((old[0] | perm) == old[0] && (old[1] & shared) == old[1]) {
          continue;
        }
        String file = normal(files.get(i).driver().lockedFile());
        int othersPerm = 0;
        int othersUnshared = 0;
        for (int j = 0; j < files.size(); j++) {
          if (j != i && normal(files.get(j).driver().lockedFile()).equals(file)) {
            int[] held = committed.getOrDefault(files.get(j), new int[] {0, ALL});
            othersPerm |= held[0] | now.get(j)[0];
            othersUnshared |= ALL & ~(held[1] & now.get(j)[1]);
          }
        }
        for (int bit = CONSISTENT_READ; bit <= RESIZE; bit <<= 1) {
          if ((perm & bit) != 0 && (othersUnshared & bit) != 0) {
            return new Conflict(files.get(i), "Failed to get \"" + permName(bit) + "\" lock");
          }
        }
        for (int bit = CONSISTENT_READ; bit <= RESIZE; bit <<= 1) {
          if ((shared & bit) == 0 && (othersPerm & bit) != 0) {
            return new Conflict(files.get(i),
                "Failed to get shared \"" + permName(bit) + "\" lock");
          }
        }
      }
      return null;
    }

    /**
     * raw_set_perm (RAW_PL_COMMIT) for every file node: it now holds what the graph gives it;
     * a closed node's bytes go with its file descriptor.
     */
    public void commit(NodeGraph graph) {
      committed.clear();
      for (BlockNode node : graph.all()) {
        if (node.driver() != null && node.driver().lockedFile() != null) {
          Cumulative c = cumulative(node, new ArrayList<>());
          committed.put(node, new int[] {c.perm, c.shared});
        }
      }
    }
  }

  private static String normal(String path) {
    return Path.of(path).normalize().toString();
  }

  private record Cumulative(int perm, int shared, String unmodelled) {}

  private static Cumulative cumulative(BlockNode node, List<BlockNode> seen) {
    if (seen.contains(node)) {
      return new Cumulative(0, ALL, null);
    }
    seen.add(node);
    int perm = 0;
    int shared = ALL;
    String unmodelled = null;
    for (String user : node.users()) {
      if (user.startsWith(Permissions.EXPORT_USER)) {
        // blk_exp_add; nbd_export_create unshares resize.
        perm |= CONSISTENT_READ | (user.endsWith(":write") ? WRITE : 0);
        shared &= ALL & ~RESIZE;
      } else {
        unmodelled = "a user of node '" + node.name() + "' (" + user + ")";
      }
    }
    for (BlockNode.JobChild job : node.jobChildren()) {
      // block_job_add_bdrv: what the job's child does not share; what it takes is taken to
      // be consistent read, or write for a job's BlockBackend that writes (mirror's target).
      perm |= job.takesWrite() ? WRITE : CONSISTENT_READ;
      shared &= ~((job.sharesConsistentRead() ? 0 : CONSISTENT_READ)
          | (job.sharesWrite() ? 0 : WRITE));
    }
    List<BlockNode> parents = new ArrayList<>();
    for (BlockNode parent : node.parents()) {
      if (!parents.contains(parent)) {
        parents.add(parent);
      }
    }
    for (BlockNode parent : parents) {
      Cumulative above = cumulative(parent, seen);
      if (unmodelled == null) {
        unmodelled = above.unmodelled;
      }
      for (var entry : parent.children().entrySet()) {
        if (entry.getValue() != node) {
          continue;
        }
        int[] child = new int[2];
        String why = childPerm(parent, entry.getKey(), above.perm, above.shared, child);
        if (unmodelled == null) {
          unmodelled = why;
        }
        perm |= child[0];
        shared &= child[1];
      }
    }
    seen.remove(seen.size() - 1);
    return new Cumulative(perm, shared, unmodelled);
  }

  /** The parent's bdrv_child_perm for one child: {@code out} = {perm, shared}; or why not. */
  private static String childPerm(BlockNode parent, String role, int perm, int shared,
      int[] out) {
    String driver = parent.driver().name();
    out[0] = perm;
    out[1] = shared;
    switch (driver) {
      case "qcow2", "qbm" -> {
        if (role.equals(BlockNode.BACKING)) {
          cow(perm, shared, out);
        } else {
          boolean metadata = role.equals(BlockNode.FILE);
          boolean data = !metadata || parent.children().get("data-file") == null;
          storage(parent, metadata, data, out);
        }
      }
      case "raw" -> {
        // raw_child_perm: a filtered child, keeping write and resize only as the parents take
        // them.
        out[0] = perm;
      }
      case "blkdebug" -> {
        // blkdebug_child_perm: take-child-perms / unshare-child-perms are refused as not
        // modelled, so the child's permissions pass through.
      }
      case "copy-on-read" -> out[0] = perm | WRITE_UNCHANGED;
      case "copy-before-write" -> {
        if (!role.equals(BlockNode.FILE)) {
          out[0] = WRITE;
          out[1] = ALL & ~RESIZE;
        } else if (!parent.parents().isEmpty() || !parent.users().isEmpty()
            || parent.blockingJobType() != null || !parent.jobChildren().isEmpty()) {
          out[0] = perm | ((perm & WRITE) != 0 ? CONSISTENT_READ : 0);
          out[1] = shared & ~(WRITE | RESIZE);
        }
      }
      case "snapshot-access" -> {
        out[0] = 0;
        out[1] = ALL;
      }
      default -> {
        if (!role.equals(BlockNode.BACKING) || parent.driver().isFilter()) {
          return "node '" + parent.name() + "' (" + driver + ")";
        }
        cow(perm, shared, out);
      }
    }
    return null;
  }

  /** bdrv_default_perms_for_cow. */
  private static void cow(int perm, int shared, int[] out) {
    out[0] = perm & CONSISTENT_READ;
    out[1] = ((shared & WRITE) != 0 ? WRITE | RESIZE : 0) | CONSISTENT_READ | WRITE_UNCHANGED;
  }

  /** bdrv_default_perms_for_storage on top of the filter pass-through already in {@code out}. */
  private static void storage(BlockNode parent, boolean metadata, boolean data, int[] out) {
    if (metadata) {
      if (!parent.readOnly()) {
        out[0] |= WRITE | RESIZE;
      }
      out[0] |= CONSISTENT_READ;
      out[1] &= ~(WRITE | RESIZE);
    }
    if (data) {
      out[1] &= ~RESIZE;
      if ((out[0] & WRITE_UNCHANGED) != 0) {
        out[0] |= WRITE;
      }
      if ((out[0] & WRITE) != 0) {
        out[0] |= RESIZE;
      }
    }
  }
}
