package io.blocksim.model.graph;

import java.util.ArrayList;
import java.util.List;

/**
 * The part of QEMU's permission system that decides whether a new user may attach to a node
 * while block jobs run: a guest device or an export asks for 'consistent read' (and 'write' when
 * writable) and shares everything, so it conflicts with a parent that does not share what it
 * asks for. The parents that withhold a permission:
 *
 * <ul>
 *   <li>a block job's child (block_job_add_bdrv): stream's intermediate nodes share no write,
 *       commit's and mirror's share no consistent read;
 *   <li>a copy-before-write filter on its source (cbw_child_perm): no write, once the filter has
 *       a parent (a fleecing filter added with blockdev-add has none until snapshot-access or an
 *       export sits on it); on its target it shares everything but resize;
 *   <li>a qcow2 node on its file (bdrv_default_perms_for_storage, the metadata child): no write;
 *   <li>a node on its backing file (bdrv_default_perms_for_cow): write only if every parent of
 *       that node shares write, so a backup or a stream above a chain keeps the chain's lower
 *       nodes from being written.
 * </ul>
 *
 * Other parents are taken to share what a user asks for: mirror_top, commit_top and
 * snapshot-access share everything; copy-on-read and raw pass their own parents' sharing through.
 */
public final class Permissions {
  private Permissions() {}

  /** One parent's claim on the node, as QEMU names it in its conflict message. */
  private record Parent(String description, String childName, boolean sharesConsistentRead,
      boolean sharesWrite) {}

  /** The prefix of an NBD export's entry in {@link BlockNode#users()}. */
  public static final String EXPORT_USER = "export:";

  /**
   * Returns QEMU's refusal when a new user asking for consistent read (and write when {@code
   * writable}) attaches to {@code node}, or null when it may.
   */
  public static String attachConflict(BlockNode node, boolean writable) {
    for (Parent parent : parentsNewestFirst(node)) {
      List<String> unshared = new ArrayList<>();
      if (!parent.sharesConsistentRead()) {
        unshared.add("consistent read");
      }
      if (writable && !parent.sharesWrite()) {
        unshared.add("write");
      }
      if (!unshared.isEmpty()) {
        String name = node.name();
        return "Permission conflict on node '" + name + "': permissions '"
            + String.join(", ", unshared) + "' are both required by an unnamed block device"
            + " (uses node '" + name + "' as 'root' child) and unshared by "
            + parent.description() + " (uses node '" + name + "' as '" + parent.childName()
            + "' child).";
      }
    }
    if (node.driver().name().equals("copy-before-write")
        && node.children().get(BlockNode.FILE) != null) {
      return cbwSourceConflict(node, writable);
    }
    return null;
  }

  /** One parent of a copy-before-write filter's source: what it takes and what it shares. */
  private record SourceParent(String description, String childName, boolean takesWrite,
      boolean sharesWrite) {}

  /**
   * A new user on a copy-before-write filter changes what the filter takes on its source
   * (cbw_child_perm): once the filter has a parent it shares no write there, and a writing
   * user's write is asked of the source. The source's parents are then checked pair by pair,
   * newest first, as bdrv_parent_perms_conflict does: a parent that takes write conflicts with
   * one that does not share it. Parents whose claims blocksim does not track take no write.
   */
  private static String cbwSourceConflict(BlockNode cbw, boolean writable) {
    BlockNode source = cbw.children().get(BlockNode.FILE);
    List<SourceParent> parents = new ArrayList<>();
    for (String user : source.users()) {
      if (user.startsWith(EXPORT_USER)) {
        // An export's BlockBackend shares write (it unshares resize only).
        parents.add(new SourceParent("an unnamed block device", "root",
            user.endsWith(":write"), true));
      }
    }
    List<BlockNode> nodeParents = source.parents();
    for (int k = nodeParents.size() - 1; k >= 0; k--) {
      BlockNode parent = nodeParents.get(k);
      String role = roleOf(parent, source);
      boolean isCbwFile = parent.driver().name().equals("copy-before-write")
          && role.equals(BlockNode.FILE);
      boolean filterWithParent = parent == cbw || hasParents(parent);
      parents.add(new SourceParent("node '" + parent.name() + "'", role,
          parent == cbw && writable, isCbwFile ? !filterWithParent
              : sharesWrite(parent, role)));
    }
    for (SourceParent a : parents) {
      for (SourceParent b : parents) {
        if (a != b && b.takesWrite() && !a.sharesWrite()) {
          String name = source.name();
          return "Permission conflict on node '" + name + "': permissions 'write' are both"
              + " required by " + b.description() + " (uses node '" + name + "' as '"
              + b.childName() + "' child) and unshared by " + a.description() + " (uses node '"
              + name + "' as '" + a.childName() + "' child).";
        }
      }
    }
    return null;
  }

  /**
   * Returns QEMU's refusal when a BlockBackend asking for the resize permission (block_resize)
   * attaches to {@code node}, or null: an NBD export's BlockBackend, a format node's file and
   * data file, a copy-before-write
   * filter's source, and a backing file whose overlay's parents do not share write all refuse
   * to share resize; other filters (raw, copy-on-read...) pass on their own parents' refusal.
   */
  public static String resizeConflict(BlockNode node) {
    // An NBD export's BlockBackend shares everything but resize while the server runs
    // (nbd_export_create: blk_set_perm(blk, perm, shared_perm & ~BLK_PERM_RESIZE));
    // docs/qemu-behaviour.md §24.2.
    for (String user : node.users()) {
      if (user.startsWith(EXPORT_USER)) {
        String name = node.name();
        return "Permission conflict on node '" + name + "': permissions 'resize' are both"
            + " required by an unnamed block device (uses node '" + name + "' as 'root' child)"
            + " and unshared by an unnamed block device (uses node '" + name + "' as 'root'"
            + " child).";
      }
    }
    List<BlockNode> parents = node.parents();
    for (int k = parents.size() - 1; k >= 0; k--) {
      BlockNode parent = parents.get(k);
      String role = roleOf(parent, node);
      if (!sharesResize(parent, role)) {
        String name = node.name();
        return "Permission conflict on node '" + name + "': permissions 'resize' are both"
            + " required by an unnamed block device (uses node '" + name + "' as 'root' child)"
            + " and unshared by node '" + parent.name() + "' (uses node '" + name + "' as '"
            + role + "' child).";
      }
    }
    return null;
  }

  private static boolean sharesResize(BlockNode parent, String role) {
    String driver = parent.driver().name();
    if (driver.equals("mirror_top") || driver.equals("commit_top")
        || driver.equals("snapshot-access")) {
      return true; // snapshot_access_child_perm shares everything
    }
    if (driver.equals("copy-before-write") && role.equals(BlockNode.FILE)
        && !hasParents(parent)) {
      return true; // cbw_child_perm: a filter without parents passes everything through
    }
    if (role.equals(BlockNode.BACKING) && !parent.driver().isFilter()) {
      return everyParentSharesWrite(parent); // bdrv_default_perms_for_cow
    }
    if (driver.equals("copy-before-write") || !parent.driver().isFilter()
        && !driver.equals("raw")) {
      return false; // a format's storage child; cbw_child_perm
    }
    return resizeConflict(parent) == null;
  }

  /** QEMU keeps a node's parents newest first; a job's children came after the graph's. */
  private static List<Parent> parentsNewestFirst(BlockNode node) {
    List<Parent> parents = new ArrayList<>();
    List<BlockNode.JobChild> jobChildren = node.jobChildren();
    for (int k = jobChildren.size() - 1; k >= 0; k--) {
      BlockNode.JobChild child = jobChildren.get(k);
      parents.add(new Parent(child.holder(), child.childName(), child.sharesConsistentRead(),
          child.sharesWrite()));
    }
    List<BlockNode> nodeParents = node.parents();
    for (int k = nodeParents.size() - 1; k >= 0; k--) {
      BlockNode parent = nodeParents.get(k);
      String role = roleOf(parent, node);
      parents.add(new Parent("node '" + parent.name() + "'", role, true,
          sharesWrite(parent, role)));
    }
    return parents;
  }

  private static boolean sharesWrite(BlockNode parent, String role) {
    String driver = parent.driver().name();
    if (driver.equals("copy-before-write")) {
      // cbw_child_perm: the target shares all but resize; the file shares no write once the
      // filter has a parent (a snapshot-access node, an export, the backup job).
      return !role.equals(BlockNode.FILE) || !hasParents(parent);
    }
    if (driver.equals("snapshot-access")) {
      return true; // snapshot_access_child_perm shares everything
    }
    if (driver.equals("qcow2") && role.equals(BlockNode.FILE)) {
      return false; // bdrv_default_perms_for_storage: the metadata child never shares write.
    }
    if (driver.equals("mirror_top") || driver.equals("commit_top")) {
      return true;
    }
    // A backing file, a copy-on-read filter's child, raw's file: write is shared as far as the
    // parent's own parents share it.
    return everyParentSharesWrite(parent);
  }

  /** Whether anything holds the node as its child: a node, an export, a job. */
  private static boolean hasParents(BlockNode node) {
    return !node.parents().isEmpty() || !node.users().isEmpty()
        || !node.jobChildren().isEmpty() || node.blockingJobType() != null;
  }

  private static boolean everyParentSharesWrite(BlockNode node) {
    for (Parent parent : parentsNewestFirst(node)) {
      if (!parent.sharesWrite()) {
        return false;
      }
    }
    return true;
  }

  private static String roleOf(BlockNode parent, BlockNode child) {
    for (var entry : parent.children().entrySet()) {
      if (entry.getValue() == child) {
        return entry.getKey();
      }
    }
    throw new IllegalStateException("node '" + parent.name() + "' is not a parent of '"
        + child.name() + "'");
  }
}
