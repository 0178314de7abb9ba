package io.blocksim.model.graph;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.driver.Driver;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One node of the block graph (QEMU's BlockDriverState): a driver, named children, the dirty
 * bitmaps attached to it (newest first, as QEMU lists them) and the bookkeeping of the generic
 * block layer (write generation, flushed generation).
 */
public final class BlockNode {
  public static final String FILE = "file";
  public static final String BACKING = "backing";
  public static final String IMAGE = "image";

  private String name;
  private final boolean autoNamed;
  /** Opened from an options dictionary of its parent (QEMU's inherits_from is that parent). */
  private boolean openedInline;
  private boolean implicit;
  private Driver driver;
  private final Map<String, BlockNode> children = new LinkedHashMap<>();
  private final List<BlockNode> parents = new ArrayList<>();
  /** Users that are not nodes: block jobs, exports (for "in use" refusals). */
  private final List<String> users = new ArrayList<>();
  private final List<DirtyBitmap> bitmaps = new ArrayList<>();
  private boolean readOnly;
  private boolean discardUnmap;
  private long writeGeneration;
  private long flushedGeneration;
  /** The job type that blocks other jobs on this node ("backup", ...), or null. */
  private String blockingJobType;
  /** The block jobs' children on this node (block_job_add_bdrv), oldest first. */
  private final List<JobChild> jobChildren = new ArrayList<>();
  /** The backing file name as recorded in the image header (for query output). */
  private String backingFileName;
  private String autoBackingFile;
  private boolean autoBackingFromNode;
  private Map<String, Object> options = new LinkedHashMap<>();
  /** Runs once, when the first child is attached (see BlockdevCommands: naming order). */
  private Runnable onFirstChild;

  public BlockNode(String name, boolean autoNamed, Driver driver) {
    this.name = name;
    this.autoNamed = autoNamed;
    this.driver = driver;
  }

  public String name() {
    return name;
  }

  /** Gives a node without a user-given name its generated one (when QEMU would name it). */
  public void assignGeneratedName(String generated) {
    if (name == null) {
      name = generated;
    }
  }

  public boolean autoNamed() {
    return autoNamed;
  }

  /**
   * Whether the node was opened from its parent's options dictionary ({@code file: {...}}, named
   * or not), as QEMU records in inherits_from: such a child is reopened with its parent.
   */
  public boolean openedInline() {
    return openedInline;
  }

  public void markOpenedInline() {
    openedInline = true;
  }

  /** bs->implicit: a job's filter inserted without a node name. */
  public boolean implicit() {
    return implicit;
  }

  public void markImplicit() {
    this.implicit = true;
  }

  public Driver driver() {
    return driver;
  }

  public void setDriver(Driver driver) {
    this.driver = driver;
  }

  /** Returns the guest-visible length: the driver's, rounded up to 512 as QEMU's sectors do. */
  public long length() {
    return (driver.length() + 511) & ~511L;
  }

  public BlockNode child(String role) {
    return children.get(role);
  }

  public Map<String, BlockNode> children() {
    return children;
  }

  /** Returns the primary child: {@code file} (or blkdebug's {@code image}). */
  public BlockNode primaryChild() {
    BlockNode file = children.get(FILE);
    return file != null ? file : children.get(IMAGE);
  }

  public BlockNode backing() {
    return children.get(BACKING);
  }

  /** Attaches (or, with null, detaches) a child under that role. */
  public void setChild(String role, BlockNode child) {
    if (child != null && onFirstChild != null) {
      Runnable hook = onFirstChild;
      onFirstChild = null;
      hook.run();
    }
    BlockNode old = children.remove(role);
    if (old != null) {
      old.parents.remove(this);
    }
    if (child != null) {
      children.put(role, child);
      child.parents.add(this);
    }
  }

  public List<BlockNode> parents() {
    return parents;
  }

  public List<String> users() {
    return users;
  }

  /** Returns the node's bitmaps, newest first. */
  public List<DirtyBitmap> bitmaps() {
    return bitmaps;
  }

  /** Returns the named bitmap, or null. */
  public DirtyBitmap bitmap(String bitmapName) {
    for (DirtyBitmap b : bitmaps) {
      if (bitmapName.equals(b.name())) {
        return b;
      }
    }
    return null;
  }

  public boolean readOnly() {
    return readOnly;
  }

  public void setReadOnly(boolean readOnly) {
    this.readOnly = readOnly;
  }

  public boolean discardUnmap() {
    return discardUnmap;
  }

  public void setDiscardUnmap(boolean discardUnmap) {
    this.discardUnmap = discardUnmap;
  }

  public long writeGeneration() {
    return writeGeneration;
  }

  public void bumpWriteGeneration() {
    writeGeneration++;
  }

  public long flushedGeneration() {
    return flushedGeneration;
  }

  public void setFlushedGeneration(long generation) {
    flushedGeneration = generation;
  }

  public String blockingJobType() {
    return blockingJobType;
  }

  /**
   * A block job's BdrvChild on a node (block_job_add_bdrv): the job as QEMU names a parent
   * ("stream job 'j0'"), the child's name ("intermediate node"), whether it shares the
   * permissions another user of the node may ask for, and whether it takes write (a mirror's
   * target: {@link FileLocks}).
   */
  public record JobChild(String holder, String childName, boolean sharesConsistentRead,
      boolean sharesWrite, boolean takesWrite) {
    public JobChild(String holder, String childName, boolean sharesConsistentRead,
        boolean sharesWrite) {
      this(holder, childName, sharesConsistentRead, sharesWrite, false);
    }
  }

  /** Returns the block jobs' children on this node, oldest first. */
  public List<JobChild> jobChildren() {
    return jobChildren;
  }

  public void setBlockingJobType(String type) {
    blockingJobType = type;
  }

  public String backingFileName() {
    return backingFileName;
  }

  public void setBackingFileName(String backingFileName) {
    this.backingFileName = backingFileName;
  }

  /** Sets what runs when the first child is attached. */
  /** bs->auto_backing_file: the header's backing name as opened (see {@link NodeFilenames}). */
  public String autoBackingFile() {
    return autoBackingFile;
  }

  /** Whether QEMU took {@link #autoBackingFile()} from a node's file name (an absolute name). */
  public boolean autoBackingFromNode() {
    return autoBackingFromNode;
  }

  public void setAutoBackingFile(String name, boolean fromNode) {
    this.autoBackingFile = name;
    this.autoBackingFromNode = fromNode;
  }

  public void setOnFirstChild(Runnable hook) {
    onFirstChild = hook;
  }

  public Map<String, Object> options() {
    return options;
  }

  public void setOptions(Map<String, Object> options) {
    this.options = options;
  }

  @Override
  public String toString() {
    return name;
  }
}
