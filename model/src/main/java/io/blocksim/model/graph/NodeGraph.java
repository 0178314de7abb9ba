package io.blocksim.model.graph;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every node of the simulated QEMU process, in creation order (QEMU's graph_bdrv_states, which is
 * the order of {@code query-named-block-nodes}), and which of them the monitor owns.
 */
public final class NodeGraph {
  private final Map<String, BlockNode> nodes = new LinkedHashMap<>();
  private final List<BlockNode> monitorOwned = new ArrayList<>();
  private long autoNameCounter;

  public BlockNode find(String name) {
    return name == null ? null : nodes.get(name);
  }

  public void add(BlockNode node) {
    nodes.put(node.name(), node);
  }

  public void remove(BlockNode node) {
    nodes.remove(node.name());
    monitorOwned.remove(node);
  }

  public List<BlockNode> all() {
    return new ArrayList<>(nodes.values());
  }

  public void setMonitorOwned(BlockNode node) {
    monitorOwned.add(node);
  }

  public boolean isMonitorOwned(BlockNode node) {
    return monitorOwned.contains(node);
  }

  /**
   * Returns a generated node name. QEMU appends two random digits ({@code #block146}); the
   * simulator appends "00" so names stay deterministic.
   */
  public String generateName() {
    autoNameCounter++;
    return String.format(java.util.Locale.ROOT, "#block%d00", autoNameCounter);
  }

  /** Checks node-name syntax as QEMU's id_wellformed does. */
  public static boolean wellFormed(String name) {
    if (name.isEmpty() || !Character.isLetter(name.charAt(0)) || name.charAt(0) > 0x7f) {
      return false;
    }
    for (int i = 1; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!(c < 0x80 && (Character.isLetterOrDigit(c) || c == '-' || c == '.' || c == '_'))) {
        return false;
      }
    }
    return true;
  }
}
