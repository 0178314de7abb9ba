package io.blocksim.sim.checker;

import java.util.Map;

/** Reads a backup command's arguments with QEMU's defaults. */
final class Backups {
  private Backups() {}

  /** bitmap-mode; sync=incremental implies on-success, as does a bitmap given without a mode. */
  static String bitmapMode(Map<String, Object> args) {
    return args.get("bitmap-mode") instanceof String mode ? mode : "on-success";
  }

  /** sync, with incremental read as bitmap (QEMU maps one onto the other). */
  static String sync(Map<String, Object> args) {
    String sync = String.valueOf(args.get("sync"));
    return sync.equals("incremental") ? "bitmap" : sync;
  }
}
