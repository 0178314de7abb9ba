package io.blocksim.model.job;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.bitmap.DirtyBitmap;
import io.blocksim.model.qapi.Json;
import io.blocksim.model.qapi.QmpEvent;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random guest writes, bitmap-sync backups, host read faults and cancels on a 4 MiB raw disk,
 * checked after every step against a reference model of the bitmap-mode outcome table
 * (docs/qemu-behaviour.md §6.6): on-success gives W on success and S ∪ W otherwise; always gives
 * W on success and (S − copied) ∪ W otherwise; never gives S ∪ W. While a job runs the bitmap is
 * frozen at S and its successor holds W. "Copied" is read from the target's data, not from the
 * engine's bitmaps, and every copied cluster must hold the source's data as of the job's start.
 */
class BackupOutcomePropertyTest {
  private static final long G = World.CLUSTER;
  private static final int CLUSTERS = 64;
  private static final List<String> MODES = List.of("on-success", "always", "never");

  sealed interface Op permits Write, Start, Step, Cancel, Fault, Drain {}

  record Write(int cluster, int sector, int pattern) implements Op {}

  record Start(int mode, int workers) implements Op {}

  record Step(int count) implements Op {}

  record Cancel() implements Op {}

  record Fault(int cluster) implements Op {}

  record Drain() implements Op {}

  @Provide
  Arbitrary<List<Op>> ops() {
    // Writes and faults keep to the first 16 clusters so that faults often hit the sync bitmap.
    Arbitrary<Op> write = net.jqwik.api.Combinators.combine(Arbitraries.integers().between(0,
        15), Arbitraries.integers().between(0, 127), Arbitraries.integers()
        .between(1, 255)).as((c, s, p) -> (Op) new Write(c, s, p));
    Arbitrary<Op> start = net.jqwik.api.Combinators.combine(Arbitraries.integers().between(0, 2),
        Arbitraries.of(1, 4)).as((m, w) -> (Op) new Start(m, w));
    Arbitrary<Op> step = Arbitraries.integers().between(1, 12).map(n -> (Op) new Step(n));
    Arbitrary<Op> fault = Arbitraries.integers().between(0, 15)
        .map(c -> (Op) new Fault(c));
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(6, write), net.jqwik.api.Tuple.of(2, start),
        net.jqwik.api.Tuple.of(5, step), net.jqwik.api.Tuple.of(2, Arbitraries.just(new Cancel())),
        net.jqwik.api.Tuple.of(3, fault), net.jqwik.api.Tuple.of(1, Arbitraries.just(new Drain())))
        .list().ofMinSize(1).ofMaxSize(40);
  }

  /** The reference model: the bitmap's bits, and while a job runs S, W and the snapshot. */
  private static final class Model {
    TreeSet<Long> bitmap = new TreeSet<>();
    String jobId;
    String mode;
    String target;
    TreeSet<Long> frozen;
    TreeSet<Long> written;
    Map<Long, byte[]> snapshot;
    int jobs;
  }

  @Property(tries = 300)
  void bitmapFollowsTheOutcomeTable(@ForAll("ops") List<Op> ops) throws Exception {
    World world = new World().image("img", CLUSTERS * G);
    world.addRaw("drive0", "img", null);
    world.qmp("block-dirty-bitmap-add", "node", "drive0", "name", "b0", "granularity", G);
    Model model = new Model();
    for (Op op : ops) {
      apply(world, model, op);
      settleIfEnded(world, model);
      check(world, model);
    }
    world.scheduler.runUntilIdle();
    settleIfEnded(world, model);
    check(world, model);
    // Every row of the outcome table must be exercised, or the property proves little.
    net.jqwik.api.statistics.Statistics.label("outcome").coverage(checker -> {
      for (String mode : MODES) {
        for (String outcome : List.of("success", "failure", "cancel")) {
          checker.check(outcome + " " + mode).count((Integer n) -> n > 0);
        }
      }
    });
  }

  private static void apply(World world, Model model, Op op) throws Exception {
    if (op instanceof Write w) {
        String node = model.jobId != null ? "cbw" : "drive0";
        long offset = w.cluster() * G + w.sector() * 512L;
        int errno = world.write(node, offset, 512, w.pattern());
        if (errno == 0) {
          (model.jobId != null ? model.written : model.bitmap).add((long) w.cluster());
        }
    } else if (op instanceof Start s) {
        if (model.jobId != null) {
          return;
        }
        model.jobs++;
        model.jobId = "j" + model.jobs;
        model.target = "target" + model.jobs;
        model.mode = MODES.get(s.mode());
        world.image("t" + model.jobs, CLUSTERS * G);
        world.addRaw(model.target, "t" + model.jobs, null);
        model.frozen = new TreeSet<>(model.bitmap);
        model.written = new TreeSet<>();
        model.snapshot = new TreeMap<>();
        for (long c : model.frozen) {
          model.snapshot.put(c, world.storage.file("img").peek(c * G, (int) G));
        }
        world.qmp("blockdev-backup", "job-id", model.jobId, "device", "drive0", "target",
            model.target, "sync", "bitmap", "bitmap", "b0", "bitmap-mode", model.mode,
            "filter-node-name", "cbw", "x-perf", Json.object("max-workers", s.workers(),
                "max-chunk", G));
    } else if (op instanceof Step st) {
        for (int i = 0; i < st.count(); i++) {
          world.scheduler.step();
        }
    } else if (op instanceof Cancel) {
        if (model.jobId != null) {
          world.engine.execute("job-cancel", Json.object("id", model.jobId));
        }
    } else if (op instanceof Fault f) {
      // The fault lands on a cluster of the bitmap (S while a job runs), when there is one.
      List<Long> candidates = new java.util.ArrayList<>(model.jobId != null ? model.frozen
          : model.bitmap);
      long cluster = candidates.isEmpty() ? f.cluster()
          : candidates.get(f.cluster() % candidates.size());
      world.storage.file("img").failReadAt = cluster * G;
    } else {
      world.scheduler.runUntilIdle();
    }
  }

  /** When the job has gone, applies the outcome table to the model. */
  private static void settleIfEnded(World world, Model model) throws Exception {
    if (model.jobId == null || world.engine.jobs().find(model.jobId) != null) {
      return;
    }
    String outcome = outcome(world, model.jobId);
    net.jqwik.api.statistics.Statistics.label("outcome").collect(outcome + " " + model.mode);
    TreeSet<Long> copied = new TreeSet<>();
    MemoryStorage.MemoryFile target = world.storage.file("t" + model.jobs);
    for (long c : model.frozen) {
      byte[] data = target.peek(c * G, (int) G);
      if (!Arrays.equals(data, new byte[(int) G])) {
        assertThat(data).as("cluster %d of the backup holds the data at job start", c)
            .isEqualTo(model.snapshot.get(c));
        copied.add(c);
      }
    }
    if (outcome.equals("success")) {
      assertThat(copied).as("a successful backup copied every cluster of S")
          .containsAll(model.frozen);
    }
    TreeSet<Long> result = new TreeSet<>(model.written);
    boolean abdicate = outcome.equals("success") && !model.mode.equals("never")
        || model.mode.equals("always");
    if (!abdicate) {
      result.addAll(model.frozen);
    } else if (!outcome.equals("success")) {
      TreeSet<Long> notCopied = new TreeSet<>(model.frozen);
      notCopied.removeAll(copied);
      result.addAll(notCopied);
    }
    model.bitmap = result;
    model.jobId = null;
  }

  private static String outcome(World world, String jobId) {
    String outcome = null;
    for (QmpEvent e : world.engine.events()) {
      if (!jobId.equals(e.data().get("device"))) {
        continue;
      }
      if (e.event().equals("BLOCK_JOB_CANCELLED")) {
        outcome = "cancel";
      } else if (e.event().equals("BLOCK_JOB_COMPLETED")) {
        outcome = e.data().containsKey("error") ? "failure" : "success";
      }
    }
    assertThat(outcome).as("job %s ended with an event", jobId).isNotNull();
    return outcome;
  }

  private static void check(World world, Model model) {
    DirtyBitmap b0 = world.bitmap("drive0", "b0");
    if (model.jobId == null) {
      assertThat(b0.busy()).isFalse();
      assertThat(b0.countBytes() / G).as("b0 after the jobs").isEqualTo(model.bitmap.size());
      for (long c : model.bitmap) {
        assertThat(b0.hbitmap().get(c * G)).as("cluster %d dirty", c).isTrue();
      }
      assertThat(world.node("drive0").bitmaps()).hasSize(1);
      return;
    }
    assertThat(b0.busy()).isTrue();
    assertThat(b0.countBytes() / G).as("frozen b0").isEqualTo(model.frozen.size());
    assertThat(b0.successor().countBytes() / G).as("successor").isEqualTo(model.written.size());
  }
}
