package io.blocksim.model.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import io.blocksim.model.driver.Driver;
import org.junit.jupiter.api.Test;

/** FileLocks.Table: raw_handle_perm_lock(RAW_PL_PREPARE) between the daemon's file nodes. */
class FileLocksTableTest {
  private record Stub(String name, String lockedFile) implements Driver {
    @Override
    public long length() {
      return 1 << 20;
    }

    @Override
    public void read(BlockNode node, long offset, byte[] buf, int pos, int length) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void write(BlockNode node, long offset, byte[] buf, int pos, int length, int flags) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void writeZeroes(BlockNode node, long offset, long length, int flags) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void discard(BlockNode node, long offset, long length) {
      throw new UnsupportedOperationException();
    }

    @Override
    public BlockStatus blockStatus(BlockNode node, long offset, long maxLength) {
      throw new UnsupportedOperationException();
    }
  }

  private final NodeGraph graph = new NodeGraph();

  private BlockNode qcow2(String name, String path, boolean readOnly, boolean locking) {
    BlockNode file = new BlockNode(name + "-file", false, new Stub("file", locking ? path : null));
    BlockNode node = new BlockNode(name, false, new Stub("qcow2", null));
    node.setReadOnly(readOnly);
    graph.add(file);
    graph.add(node);
    node.setChild(BlockNode.FILE, file);
    return node;
  }

  @Test
  void aReadOnlyNodeMeetsTheWriterThatDoesNotShareWrite() {
    FileLocks.Table table = new FileLocks.Table();
    qcow2("d", "disk.qcow2", false, true);
    assertNull(table.prepare(graph));
    table.commit(graph);
    BlockNode d2 = qcow2("d2", "./disk.qcow2", true, true);
    FileLocks.Conflict c = table.prepare(graph);
    assertSame(d2.child(BlockNode.FILE), c.node());
    assertEquals("Failed to get shared \"write\" lock", c.message());
  }

  @Test
  void aWriterMeetsAReaderThatDoesNotShareWrite() {
    FileLocks.Table table = new FileLocks.Table();
    qcow2("d", "disk.qcow2", true, true);
    table.commit(graph);
    qcow2("d2", "disk.qcow2", false, true);
    assertEquals("Failed to get \"write\" lock", table.prepare(graph).message());
  }

  @Test
  void lockingOffOnEitherNodeAndOtherFilesMeetNothing() {
    FileLocks.Table table = new FileLocks.Table();
    qcow2("d", "disk.qcow2", false, true);
    qcow2("off", "disk.qcow2", false, false);
    qcow2("other", "other.qcow2", false, true);
    assertNull(table.prepare(graph));
    table.commit(graph);
    BlockNode late = qcow2("late", "disk.qcow2", true, false);
    assertNull(table.prepare(graph));
    graph.remove(late);
  }

  @Test
  void aNodeThatAddsNothingTestsNothing() {
    // Two writers committed together (as after locking was off, or a change outside the
    // table): a later update that adds nothing to either node's bytes tests nothing.
    FileLocks.Table table = new FileLocks.Table();
    qcow2("a", "disk.qcow2", false, true);
    qcow2("b", "disk.qcow2", false, true);
    assertEquals("Failed to get \"write\" lock", table.prepare(graph).message());
    table.commit(graph);
    assertNull(table.prepare(graph));
  }
}
