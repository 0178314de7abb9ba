package io.blocksim.sim.backend;

import io.blocksim.model.Engine;
import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.bitmap.HBitmap;
import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.qmp.ExportCommands;
import io.blocksim.sim.port.Backend.MapOutcome;
import java.util.ArrayList;
import java.util.List;

/**
 * What an NBD client such as {@code nbdinfo --map} reads from an export of the simulated
 * server: the extents of one metadata context over the export's size (rounded down to 512
 * bytes), adjacent runs of one type merged as QEMU's server merges them (nbd/server.c
 * blockstatus_to_extents, bitmap_to_extents).
 */
final class NbdClient {
  private static final String DIRTY_BITMAP = "qemu:dirty-bitmap:";
  /** NBD_STATE_HOLE and NBD_STATE_ZERO of base:allocation; NBD_STATE_DIRTY of a bitmap. */
  private static final long HOLE = 1;
  private static final long ZERO = 2;
  private static final long DIRTY = 1;

  private NbdClient() {}

  static MapOutcome map(Engine engine, String exportName, String context)
      throws HostIoException {
    ExportCommands.Export export = engine.exports().find(exportName);
    if (export == null) {
      return new MapOutcome(List.of(), "nbdinfo: nbd_connect_uri: handshake: server has no "
          + "export named '" + exportName + "': No such file or directory");
    }
    BlockNode node = engine.exports().currentNode(export);
    long size = node.length() / 512 * 512;
    List<long[]> extents = new ArrayList<>();
    if (context.equals("base:allocation")) {
      for (long offset = 0; offset < size; ) {
        BlockStatus status = BlockIo.blockStatusAbove(node, offset, size - offset);
        long length = Math.min(status.lengthBytes(), size - offset);
        add(extents, offset, length, (status.data() ? 0 : HOLE) | (status.zero() ? ZERO : 0));
        offset += length;
      }
      return new MapOutcome(extents, null);
    }
    String name = context.startsWith(DIRTY_BITMAP) ? context.substring(DIRTY_BITMAP.length())
        : null;
    int index = name == null ? -1 : export.bitmapNames().indexOf(name);
    if (index < 0) {
      return new MapOutcome(List.of(), "nbdinfo: --map: server does not support metadata "
          + "context \"" + context + "\"");
    }
    DirtyBitmap bitmap = export.bitmaps().get(index);
    HBitmap bits = bitmap.hbitmap();
    for (long offset = 0; offset < size; ) {
      long dirty = bits.nextDirty(offset, size - offset);
      long end;
      if (dirty == offset) {
        long clean = bits.nextZero(offset, size - offset);
        end = clean < 0 ? size : Math.min(clean, size);
        add(extents, offset, end - offset, DIRTY);
      } else {
        end = dirty < 0 ? size : Math.min(dirty, size);
        add(extents, offset, end - offset, 0);
      }
      offset = end;
    }
    return new MapOutcome(extents, null);
  }

  private static void add(List<long[]> extents, long offset, long length, long type) {
    if (!extents.isEmpty()) {
      long[] last = extents.get(extents.size() - 1);
      if (last[2] == type && last[0] + last[1] == offset) {
        last[1] += length;
        return;
      }
    }
    extents.add(new long[] {offset, length, type});
  }
}
