package io.blocksim.model.driver.blkdebug;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.driver.Driver;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import io.blocksim.model.graph.BlockLayer;
import io.blocksim.model.qapi.Args;
import io.blocksim.model.qapi.QmpError;

/**
 * QEMU 7.2's blkdebug fault injector (docs/qemu-behaviour.md §10).
 *
 * <p>Fault model: an {@code inject-error} rule becomes active when its event is raised in its
 * state; the first later request whose iotype and sector match fails with the rule's errno and is
 * not passed down. Rules of one event are kept as QEMU keeps them: inject rules registered first,
 * then set-state rules, each prepended — so a group is evaluated set-state rules in reverse
 * definition order, then inject rules in reverse definition order. The state starts at 1.
 */
public final class BlkdebugDriver implements Driver {
  /** Opens a {@code blkdebug} node over its {@code image} child (block/blkdebug.c). */
  public static void open(BlockLayer layer, Args args, BlockNode node,
      Map<String, Object> inherit, List<BlockNode> created) throws QmpError {
    BlockNode image = layer.child(args, "image", true, inherit, created);
    args.unmodelled("config", args.optStr("config"));
    for (String limit : List.of("align", "max-transfer", "opt-write-zero", "max-write-zero",
        "opt-discard", "max-discard")) {
      args.unmodelled(limit, args.optInt(limit));
    }
    args.unmodelled("take-child-perms", args.get("take-child-perms"));
    args.unmodelled("unshare-child-perms", args.get("unshare-child-perms"));
    List<Rule> inject = new ArrayList<>();
    List<Object> injectList = args.optList("inject-error");
    if (injectList != null) {
      for (int i = 0; i < injectList.size(); i++) {
        Args r = args.element("inject-error", injectList, i);
        String event = blkdebugEvent(r);
        long state = r.optInt("state") == null ? 0 : r.optInt("state");
        String iotype = r.optEnum("iotype", List.of("read", "write", "write-zeroes", "discard",
            "flush", "block-status"));
        long errno = r.optInt("errno") == null ? HostIoException.EIO : r.optInt("errno");
        long sector = r.optInt("sector") == null ? -1 : r.optInt("sector");
        boolean once = r.bool("once", false);
        boolean immediately = r.bool("immediately", false);
        r.checkNoExtra();
        int mask = iotype == null ? DEFAULT_IOTYPE_MASK : 1 << List.of("read",
            "write", "write-zeroes", "discard", "flush", "block-status").indexOf(iotype);
        inject.add(Rule.inject(event, state, (int) errno, sector, once,
            immediately, mask));
      }
    }
    List<Rule> setState = new ArrayList<>();
    List<Object> stateList = args.optList("set-state");
    if (stateList != null) {
      for (int i = 0; i < stateList.size(); i++) {
        Args r = args.element("set-state", stateList, i);
        String event = blkdebugEvent(r);
        long state = r.optInt("state") == null ? 0 : r.optInt("state");
        long newState = r.integer("new_state");
        r.checkNoExtra();
        setState.add(Rule.setState(event, state, newState));
      }
    }
    node.setChild(BlockNode.IMAGE, image);
    node.setDriver(new BlkdebugDriver(image, inject, setState));
  }

  private static String blkdebugEvent(Args r) throws QmpError {
    String event = r.optEnum("event", BLKDEBUG_EVENTS);
    if (event == null) {
      throw r.missing("event");
    }
    return event;
  }

  public static final List<String> BLKDEBUG_EVENTS = List.of("l1_update", "l1_grow_alloc_table",
      "l1_grow_write_table", "l1_grow_activate_table", "l2_load", "l2_update",
      "l2_update_compressed", "l2_alloc_cow_read", "l2_alloc_write", "read_aio",
      "read_backing_aio", "read_compressed", "write_aio", "write_compressed", "vmstate_load",
      "vmstate_save", "cow_read", "cow_write", "reftable_load", "reftable_grow",
      "reftable_update", "refblock_load", "refblock_update", "refblock_update_part",
      "refblock_alloc", "refblock_alloc_hookup", "refblock_alloc_write",
      "refblock_alloc_write_blocks", "refblock_alloc_write_table", "refblock_alloc_switch_table",
      "cluster_alloc", "cluster_alloc_bytes", "cluster_free", "flush_to_os", "flush_to_disk",
      "pwritev_rmw_head", "pwritev_rmw_after_head", "pwritev_rmw_tail", "pwritev_rmw_after_tail",
      "pwritev", "pwritev_zero", "pwritev_done", "empty_image_prepare", "l1_shrink_write_table",
      "l1_shrink_free_l2_clusters", "cor_write", "cluster_alloc_space", "none");

  /** Iotype bits, as BlkdebugIOType. */
  public static final int READ = 0;
  public static final int WRITE = 1;
  public static final int WRITE_ZEROES = 2;
  public static final int DISCARD = 3;
  public static final int FLUSH = 4;
  public static final int BLOCK_STATUS = 5;
  public static final int DEFAULT_IOTYPE_MASK = (1 << READ) | (1 << WRITE) | (1 << WRITE_ZEROES)
      | (1 << DISCARD) | (1 << FLUSH);

  private final BlockNode image;
  private final Map<String, List<Rule>> rulesByEvent = new LinkedHashMap<>();
  private final List<Rule> activeRules = new ArrayList<>();
  private long state = 1;
  private boolean observing;

  /** One rule: an error injection or a state change. */
  public static final class Rule {
    final String event;
    final long state;
    final boolean inject;
    final int errno;
    final long offset;
    final boolean once;
    final boolean immediately;
    final int iotypeMask;
    final long newState;

    private Rule(String event, long state, boolean inject, int errno, long offset, boolean once,
        boolean immediately, int iotypeMask, long newState) {
      this.event = event;
      this.state = state;
      this.inject = inject;
      this.errno = errno;
      this.offset = offset;
      this.once = once;
      this.immediately = immediately;
      this.iotypeMask = iotypeMask;
      this.newState = newState;
    }

    /** An inject-error rule; sector is -1 for any offset. */
    public static Rule inject(String event, long state, int errno, long sector, boolean once,
        boolean immediately, int iotypeMask) {
      return new Rule(event, state, true, errno, sector < 0 ? -1 : sector * 512, once,
          immediately, iotypeMask, 0);
    }

    public static Rule setState(String event, long state, long newState) {
      return new Rule(event, state, false, 0, -1, false, false, 0, newState);
    }
  }

  public BlkdebugDriver(BlockNode image, List<Rule> injectRules, List<Rule> setStateRules) {
    this.image = image;
    for (Rule rule : injectRules) {
      register(rule);
    }
    for (Rule rule : setStateRules) {
      register(rule);
    }
  }

  private void register(Rule rule) {
    rulesByEvent.computeIfAbsent(rule.event, e -> new ArrayList<>()).add(0, rule);
  }

  public long state() {
    return state;
  }

  /**
   * While set, requests pass through without raising events or failing: an invariant checker's
   * reads, which QEMU never makes, must neither arm a rule nor trip one.
   */
  public void setObserving(boolean observing) {
    this.observing = observing;
  }

  @Override
  public String name() {
    return "blkdebug";
  }

  @Override
  public long length() {
    return image.length();
  }

  @Override
  public void debugEvent(BlockNode node, String event) {
    if (observing) {
      return;
    }
    List<Rule> group = rulesByEvent.get(event);
    if (group == null) {
      return;
    }
    long newState = state;
    int injections = 0;
    for (Rule rule : group) {
      if (rule.state != 0 && rule.state != state) {
        continue;
      }
      if (rule.inject) {
        injections++;
        if (injections == 1) {
          activeRules.clear();
        }
        activeRules.add(0, rule);
      } else {
        newState = rule.newState;
      }
    }
    state = newState;
  }

  /** Fails the request if an active rule matches it (rule_check). */
  private void check(long offset, long bytes, int iotype) throws HostIoException {
    if (observing) {
      return;
    }
    Rule match = null;
    for (Rule rule : activeRules) {
      boolean offsetMatches = rule.offset == -1
          || (bytes > 0 && rule.offset >= offset && rule.offset < offset + bytes);
      if (offsetMatches && (rule.iotypeMask & (1 << iotype)) != 0) {
        match = rule;
        break;
      }
    }
    if (match == null || match.errno == 0) {
      return;
    }
    if (match.once) {
      activeRules.remove(match);
      List<Rule> group = rulesByEvent.get(match.event);
      if (group != null) {
        group.remove(match);
      }
    }
    throw new HostIoException(match.errno, "blkdebug: injected error");
  }

  @Override
  public void read(BlockNode node, long offset, byte[] buf, int pos, int length)
      throws HostIoException {
    check(offset, length, READ);
    BlockIo.read(image, offset, buf, pos, length);
  }

  @Override
  public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags)
      throws HostIoException {
    check(offset, length, WRITE);
    BlockIo.write(image, offset, buf, pos, length, flags);
  }

  @Override
  public void writeZeroes(BlockNode node, long offset, long length, int flags)
      throws HostIoException {
    check(offset, length, WRITE_ZEROES);
    BlockIo.writeZeroes(image, offset, length, flags);
  }

  @Override
  public void discard(BlockNode node, long offset, long length) throws HostIoException {
    check(offset, length, DISCARD);
    BlockIo.discard(image, offset, length);
  }

  @Override
  public void flushToDisk(BlockNode node) throws HostIoException {
    check(0, 0, FLUSH);
  }

  @Override
  public BlockStatus blockStatus(BlockNode node, long offset, long maxLength)
      throws HostIoException {
    check(offset, maxLength, BLOCK_STATUS);
    BlockStatus below = BlockIo.blockStatus(image, offset, maxLength);
    return new BlockStatus(below.lengthBytes(), below.data(), below.zero(), true);
  }

  @Override
  public boolean isFilter() {
    return true;
  }

  @Override
  public Long allocatedFileSize(BlockNode node) {
    return null; // block/blkdebug.c has no bdrv_get_allocated_file_size
  }
}
