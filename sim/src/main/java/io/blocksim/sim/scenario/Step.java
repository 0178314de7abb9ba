package io.blocksim.sim.scenario;

import java.util.List;
import java.util.Map;

/**
 * One step of a case, after {@code ${var}} substitution. {@code index} is the 1-based position in
 * the file's step list (steps skipped by {@code when} keep their numbers), {@code location} where
 * the step starts. QMP values are plain Java (null, Boolean, Long, String, List, Map).
 */
public sealed interface Step {
  int index();

  Location location();

  String comment();

  record Qmp(int index, Location location, String comment, String command,
      Map<String, Object> args, String expectedError) implements Step {}

  record Io(int index, Location location, String comment, String command, String node,
      String expectedError) implements Step {}

  record AwaitJob(int index, Location location, String comment, String job, String status,
      long timeoutNs) implements Step {}

  record AwaitEvent(int index, Location location, String comment, String event,
      Map<String, Object> data, long timeoutNs) implements Step {}

  record Advance(int index, Location location, String comment, long durationNs)
      implements Step {}

  record Observe(int index, Location location, String comment, String label,
      List<String> images) implements Step {}

  /** Any combination of the four checks; absent ones are null. */
  record Expect(int index, Location location, String comment, ExpectBitmap bitmap,
      ExpectJob job, List<String> imagesEqual, ExpectEvent event) implements Step {}

  record Crash(int index, Location location, String comment, CrashKind kind) implements Step {}

  /** A qemu-img run; {@code error} (or null) is text its output must contain when it fails. */
  record Img(int index, Location location, String comment, String command, String error)
      implements Step {
    public Img(int index, Location location, String comment, String command) {
      this(index, location, comment, command, null);
    }
  }

  /**
   * An NBD client reading an export's extents for one metadata context, as {@code nbdinfo
   * --map=CONTEXT} does: {@code base:allocation} or {@code qemu:dirty-bitmap:NAME}; {@code error}
   * (or null) is text the failure must contain.
   */
  record NbdMap(int index, Location location, String comment, String export, String context,
      String error) implements Step {}

  record Log(int index, Location location, String comment, String text) implements Step {}

  enum CrashKind { PROCESS, POWER }

  /** Fields left null are not checked. {@code name} is "" for an anonymous bitmap. */
  record ExpectBitmap(String node, String name, Long count, Long granularity, Boolean recording,
      Boolean busy, Boolean persistent, Boolean inconsistent, String sha256, boolean absent) {}

  record ExpectJob(String id, String status, String error) {}

  record ExpectEvent(String event, Map<String, Object> data) {}
}
