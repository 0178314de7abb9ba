package io.blocksim.sim.explore;

import io.blocksim.sim.prng.Prng;
import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.scenario.Location;
import io.blocksim.sim.scenario.Step;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Generates random runs from the engine's vocabulary, as the scenario parser would produce them
 * (images and steps), so that a run can be written out as a scenario file. Swarm testing: each
 * run first draws which {@link Feature}s it uses and how often, then its steps. The generator
 * keeps a rough picture of what exists (chains, targets, bitmaps, jobs) to make most commands
 * meaningful; commands that fail are part of the exploration (their errors are recorded).
 */
final class RunGenerator {
  private static final Location WHERE = new Location("<explore>", 1, 1);
  private static final List<String> MODES = List.of("on-success", "always", "never");
  private static final List<String> POLICIES = List.of("report", "ignore", "stop", "enospc");

  private final Profile profile;
  private final Set<Feature> allowed;

  RunGenerator(Profile profile) {
    this(profile, EnumSet.allOf(Feature.class));
  }

  /** A generator limited to some features (fuzzing against QEMU: the timing-insensitive ones). */
  RunGenerator(Profile profile, Set<Feature> allowed) {
    this.profile = profile;
    this.allowed = allowed;
  }

  /**
   * One image chain: its images bottom-up and node names (the last is the active layer; overlays
   * that snapshots put on top are appended to the nodes, and dropped again after a crash).
   */
  private record Chain(List<ImageSpec> images, List<String> nodes) {
    String active() {
      return nodes.get(nodes.size() - 1);
    }

    /** Forgets the overlays (a restarted QEMU opens the original chain again). */
    void reset() {
      nodes.subList(images.size(), nodes.size()).clear();
    }
  }

  /** A fleecing setup: the temporary overlay, the filter, the snapshot-access node (or null). */
  private record Fleece(String source, String temp, String filter, String access) {}

  /** The step kinds and what each needs switched on. */
  private enum Kind {
    WRITE(Feature.WRITES), ZERO(Feature.ZEROES), DISCARD(Feature.DISCARDS), READ(Feature.READS),
    BITMAP_ADD(Feature.BITMAPS), BITMAP_REMOVE(Feature.BITMAPS),
    BITMAP_OP(Feature.BITMAP_OPS), TRANSACTION(Feature.TRANSACTIONS),
    BACKUP(Feature.BACKUP), MIRROR(Feature.MIRROR), STREAM(Feature.STREAM),
    COMMIT(Feature.COMMIT), VERB(Feature.VERBS), ADVANCE(Feature.TIME), AWAIT(Feature.AWAITS),
    CRASH_PROCESS(Feature.CRASH_PROCESS), CRASH_POWER(Feature.CRASH_POWER),
    RESIZE(Feature.RESIZE), SNAPSHOT(Feature.SNAPSHOTS), REOPEN(Feature.REOPEN),
    EXPORT(Feature.NBD), NBD_MAP(Feature.NBD), FLEECE(Feature.FLEECING), IMG(Feature.IMG);

    final Feature needs;

    Kind(Feature needs) {
      this.needs = needs;
    }
  }

  /** The state of one generation. */
  private final class Draft {
    final Prng prng;
    final Set<Feature> features;
    final Map<Kind, Integer> weights = new EnumMap<>(Kind.class);
    final List<ImageSpec> images = new ArrayList<>();
    final List<Step> steps = new ArrayList<>();
    final List<Chain> chains = new ArrayList<>();
    final List<String> targets = new ArrayList<>();
    final List<ImageSpec> targetImages = new ArrayList<>();
    final List<Step> setup = new ArrayList<>();
    final Map<String, String> bitmaps = new LinkedHashMap<>(); // "node/name" -> node
    final List<String> jobs = new ArrayList<>();
    int jobCount;
    int bitmapCount;
    /** Jobs a run starts at most: jobs on one chain mostly refuse each other. */
    int jobsMax;
    /** Each node's blockdev-add arguments (blockdev-reopen passes them again). */
    final Map<String, Map<String, Object>> added = new LinkedHashMap<>();
    /** Sizes of nodes that no image spec gives (qemu-img-created, overlays, filters, resized). */
    final Map<String, Long> sizes = new LinkedHashMap<>();
    /** Steps before the setup: qemu-img create of images with an external data file. */
    final List<Step> pre = new ArrayList<>();
    /** Exports by name, with the bitmaps each exports. */
    final Map<String, List<String>> exports = new LinkedHashMap<>();
    boolean nbdServer;
    int exportCount;
    int overlayCount;
    /** Fleecing setups: the snapshot-access node (or null) of each filter, by filter. */
    final Map<String, Fleece> fleeces = new LinkedHashMap<>();
    final List<String> qcow2Files = new ArrayList<>();
    /** Nodes a block_resize may have changed (their size is a guess from then on). */
    final Set<String> resized = new java.util.TreeSet<>();

    Draft(Prng prng, Set<Feature> features) {
      this.prng = prng;
      this.features = features;
    }

    boolean on(Feature f) {
      return features.contains(f);
    }

    boolean chance(int percent) {
      return prng.nextInt(100) < percent;
    }
  }

  GeneratedRun generate(long seed) {
    Prng prng = new Prng(seed);
    Set<Feature> features = EnumSet.noneOf(Feature.class);
    for (Feature f : Feature.values()) {
      if (prng.nextInt(2) == 0 && allowed.contains(f)) {
        features.add(f);
      }
    }
    if (!features.contains(Feature.WRITES) && !features.contains(Feature.ZEROES)
        && allowed.contains(Feature.WRITES)) {
      features.add(Feature.WRITES); // Without guest writes there is nothing to track.
    }
    Draft d = new Draft(prng, features);
    d.jobsMax = 1 + prng.nextInt(prng.nextInt(2) == 0 ? 2 : 6);
    for (Kind kind : Kind.values()) {
      if (kind.needs == null || d.on(kind.needs)) {
        d.weights.put(kind, 1 + prng.nextInt(10));
      }
    }
    images(d);
    d.steps.addAll(d.pre);
    d.steps.addAll(d.setup);
    prefill(d);
    if (d.on(Feature.BITMAPS)) {
      // Bitmaps from the start, so that the guest writes that follow are tracked.
      for (int i = 0, n = 1 + prng.nextInt(2); i < n; i++) {
        d.steps.add(qmp("block-dirty-bitmap-add", bitmapAdd(d)));
      }
    }
    int count = (int) prng.rangeInclusive(profile.stepsMin(), profile.stepsMax());
    for (int i = 0; i < count; i++) {
      step(d, pick(d));
    }
    ending(d);
    return new GeneratedRun(seed, features, List.copyOf(d.images), renumber(d.steps));
  }

  /** Gives steps their 1-based positions (a scenario's step numbers). */
  static List<Step> renumber(List<Step> steps) {
    List<Step> out = new ArrayList<>();
    for (Step s : steps) {
      out.add(Steps.withIndex(s, out.size() + 1));
    }
    return out;
  }

  // ------------------------------------------------------------------ images and nodes

  private void images(Draft d) {
    int chainCount = 1 + (d.chance(30) ? 1 : 0);
    for (int c = 0; c < chainCount; c++) {
      long size = imageSize(d);
      int depth = d.on(Feature.CHAINS) ? (int) d.prng.rangeInclusive(1, 4) : 1;
      List<ImageSpec> images = new ArrayList<>();
      List<String> nodes = new ArrayList<>();
      for (int l = 0; l < depth; l++) {
        String node = "c" + c + "l" + l;
        boolean raw = l == 0 && d.on(Feature.RAW) && d.chance(40);
        ImageSpec below = l == 0 ? null : images.get(l - 1);
        ImageSpec image = new ImageSpec(node + (raw ? ".raw" : ".qcow2"), raw ? "raw" : "qcow2",
            size, below == null ? null : below.path(), below == null ? null : below.format(),
            raw ? null : clusterSize(d), Map.of());
        images.add(image);
        nodes.add(node);
        // An image with a data file is made by a qemu-img step, after the images: only where no
        // image above names it as its backing file.
        if (depth > 1 || raw || !dataFile(d, node, image)) {
          d.images.add(image);
        }
      }
      d.chains.add(new Chain(images, nodes));
    }
    int targetCount = d.on(Feature.BACKUP) || d.on(Feature.MIRROR)
        ? (int) d.prng.rangeInclusive(1, 3) : 0;
    for (int t = 0; t < targetCount; t++) {
      Chain source = d.prng.pick(d.chains);
      long size = source.images().get(0).sizeBytes();
      boolean raw = d.on(Feature.RAW) && d.chance(40);
      String node = "t" + t;
      ImageSpec image = new ImageSpec(node + (raw ? ".raw" : ".qcow2"), raw ? "raw" : "qcow2",
          size, null, null, raw ? null : clusterSize(d), Map.of());
      d.targetImages.add(image);
      if (raw || !dataFile(d, node, image)) {
        d.images.add(image);
      }
      d.targets.add(node);
    }
    String faulty = null;
    if (d.on(Feature.BLKDEBUG)) {
      List<String> all = new ArrayList<>();
      for (Chain chain : d.chains) {
        all.addAll(chain.nodes());
      }
      all.addAll(d.targets);
      faulty = d.prng.pick(all);
    }
    Map<String, Object> faults = faulty == null ? null : blkdebugRules(d);
    for (Chain chain : d.chains) {
      for (int l = 0; l < chain.nodes().size(); l++) {
        String node = chain.nodes().get(l);
        d.setup.add(blockdevAdd(d, node, chain.images().get(l), l == 0 ? null
            : chain.nodes().get(l - 1), node.equals(faulty) ? faults : null));
      }
    }
    for (int t = 0; t < d.targets.size(); t++) {
      String node = d.targets.get(t);
      d.setup.add(blockdevAdd(d, node, d.targetImages.get(t), null,
          node.equals(faulty) ? faults : null));
    }
    for (ImageSpec image : d.images) {
      if (image.format().equals("qcow2")) {
        d.qcow2Files.add(image.path());
      }
    }
  }

  /**
   * Sometimes makes a qcow2 image with an external data file instead (qemu-img create -o
   * data_file=...): returns whether it did (the image is then not in the images list).
   */
  private static boolean dataFile(Draft d, String node, ImageSpec image) {
    if (!d.on(Feature.DATA_FILE) || !d.chance(50)) {
      return false;
    }
    boolean rawData = d.chance(50); // Such a node is never resized: see resize().
    String options = "data_file=" + node + ".data" + (rawData ? ",data_file_raw=on" : "")
        + (image.clusterSizeBytes() == null ? "" : ",cluster_size=" + image.clusterSizeBytes());
    d.pre.add(new Step.Img(0, WHERE, null, "create -f qcow2 -o " + options + " " + image.path()
        + " " + image.sizeBytes()));
    d.sizes.put(node, (image.sizeBytes() + 511) / 512 * 512);
    d.qcow2Files.add(image.path());
    return true;
  }

  private long imageSize(Draft d) {
    long units = d.prng.rangeInclusive(1, Math.max(1, profile.imageBytesMax() / 4096 / 4));
    long size = units * 4096;
    if (d.chance(50)) {
      size += 512 * d.prng.rangeInclusive(1, 7); // Not a multiple of any cluster size >= 4k.
    }
    if (d.chance(10)) {
      size = d.prng.rangeInclusive(1, profile.imageBytesMax() / 512) * 512;
    }
    return size;
  }

  private static Long clusterSize(Draft d) {
    // Small clusters keep small images cheap to open (the refcount table is one cluster);
    // QEMU's default (64k) still comes up in one run of four.
    return switch (d.prng.nextInt(4)) {
      case 0 -> 512L;
      case 1 -> 4096L;
      case 2 -> 16384L;
      default -> null;
    };
  }

  private static Map<String, Object> blkdebugRules(Draft d) {
    String event = d.prng.pick(List.of("read_aio", "write_aio", "flush_to_disk", "cor_write",
        "l2_load", "l2_update", "cluster_alloc", "refblock_update", "pwritev"));
    Map<String, Object> rule = new LinkedHashMap<>();
    rule.put("event", event);
    rule.put("errno", d.chance(70) ? 5L : 28L);
    rule.put("once", d.chance(60));
    if (d.chance(60)) {
      rule.put("state", 2L); // Armed only after the first flush, as iotest 257 does.
    }
    Map<String, Object> faults = new LinkedHashMap<>();
    if (rule.containsKey("state")) {
      faults.put("set-state", List.of(map("event", "flush_to_disk", "state", 1L,
          "new_state", 2L)));
    }
    faults.put("inject-error", List.of(rule));
    return faults;
  }

  private static Step blockdevAdd(Draft d, String node, ImageSpec image, String backing,
      Map<String, Object> faults) {
    Map<String, Object> file = map("driver", "file", "filename", image.path());
    if (faults != null) {
      Map<String, Object> debug = new LinkedHashMap<>();
      debug.put("driver", "blkdebug");
      debug.put("image", file);
      debug.putAll(faults);
      file = debug;
    }
    Map<String, Object> args = map("node-name", node, "driver", image.format(), "file", file);
    if (image.format().equals("qcow2")) {
      args.put("backing", backing);
    }
    d.added.put(node, args);
    return qmp("blockdev-add", args);
  }

  private void prefill(Draft d) {
    if (!d.on(Feature.PREFILLED_TARGETS)) {
      return;
    }
    for (String t : d.targets) {
      if (d.chance(50)) {
        long size = sizeOf(d, t);
        long length = Math.max(512, size / 512 / 2 * 512);
        d.steps.add(io("write -P 0xee 0 " + length, t));
      }
    }
  }

  // ------------------------------------------------------------------ body

  private Kind pick(Draft d) {
    int total = 0;
    for (int w : d.weights.values()) {
      total += w;
    }
    int at = d.prng.nextInt(total);
    for (Map.Entry<Kind, Integer> e : d.weights.entrySet()) {
      at -= e.getValue();
      if (at < 0) {
        return e.getKey();
      }
    }
    return Kind.WRITE;
  }

  private void step(Draft d, Kind kind) {
    boolean job = kind == Kind.BACKUP || kind == Kind.MIRROR || kind == Kind.STREAM
        || kind == Kind.COMMIT;
    if (job && d.jobCount >= d.jobsMax) {
      kind = d.on(Feature.WRITES) ? Kind.WRITE : Kind.ADVANCE;
    }
    switch (kind) {
      case WRITE -> guestIo(d, "write -P 0x" + Integer.toHexString(1 + d.prng.nextInt(0xed))
          + " ");
      case ZERO -> guestIo(d, "write -z ");
      case DISCARD -> guestIo(d, "discard ");
      case READ -> {
        if (d.chance(50)) {
          d.steps.add(io("flush", guestNode(d)));
        } else {
          guestIo(d, "read ");
        }
      }
      case BITMAP_ADD -> d.steps.add(qmp("block-dirty-bitmap-add", bitmapAdd(d)));
      case BITMAP_REMOVE -> d.steps.add(qmp("block-dirty-bitmap-remove", bitmapRef(d)));
      case BITMAP_OP -> {
        String op = d.prng.pick(List.of("clear", "enable", "disable", "merge"));
        d.steps.add(qmp("block-dirty-bitmap-" + op, op.equals("merge") ? merge(d)
            : bitmapRef(d)));
      }
      case TRANSACTION -> d.steps.add(transaction(d));
      case BACKUP -> jobStep(d, qmp("blockdev-backup", backup(d)));
      case MIRROR -> jobStep(d, qmp("blockdev-mirror", mirror(d)));
      case STREAM -> jobStep(d, qmp("block-stream", stream(d)));
      case COMMIT -> jobStep(d, qmp("block-commit", commit(d)));
      case VERB -> d.steps.add(verb(d));
      case ADVANCE -> d.steps.add(new Step.Advance(0, WHERE, null, advanceNs(d)));
      case AWAIT -> {
        if (!d.jobs.isEmpty()) {
          d.steps.add(new Step.AwaitJob(0, WHERE, null, d.prng.pick(d.jobs),
              d.prng.pick(List.of("running", "paused", "ready", "waiting", "pending",
                  "concluded", "null")), 1_000_000L * d.prng.rangeInclusive(10, 3000)));
        }
      }
      case CRASH_PROCESS, CRASH_POWER -> {
        d.steps.add(new Step.Crash(0, WHERE, null, kind == Kind.CRASH_POWER
            ? Step.CrashKind.POWER : Step.CrashKind.PROCESS));
        d.jobs.clear();
        d.bitmaps.clear();
        d.exports.clear();
        d.nbdServer = false;
        d.fleeces.clear();
        for (Chain chain : d.chains) {
          chain.reset();
        }
        if (d.on(Feature.IMG) && !d.qcow2Files.isEmpty() && d.chance(60)) {
          // The files as the crash left them, before QEMU opens them again.
          String file = d.prng.pick(d.qcow2Files);
          d.steps.add(img((d.chance(50) ? "check " : "info ") + file));
        }
        d.steps.addAll(d.setup); // The images reopened, as a restarted QEMU would.
      }
      case RESIZE -> resize(d);
      case SNAPSHOT -> snapshot(d);
      case REOPEN -> reopen(d);
      case EXPORT -> export(d);
      case NBD_MAP -> nbdMap(d);
      case FLEECE -> fleece(d);
      case IMG -> {
        if (!d.qcow2Files.isEmpty()) {
          d.steps.add(img("info -U " + d.prng.pick(d.qcow2Files)));
        }
      }
      default -> throw new IllegalStateException(kind.name());
    }
  }

  /**
   * A job's command, sometimes followed at once by a verb on it or a guest write: small jobs end
   * within a few virtual milliseconds, so a verb "at a random moment" must sometimes come early.
   */
  private void jobStep(Draft d, Step step) {
    d.steps.add(step);
    if (d.chance(40)) {
      // Guest writes racing the job from its first moment (writes, zeroes or discards).
      for (int i = 0, n = 1 + d.prng.nextInt(3); i < n; i++) {
        guestIo(d, d.on(Feature.ZEROES) && d.chance(20) ? "write -z "
            : d.on(Feature.DISCARDS) && d.chance(20) ? "discard "
            : "write -P 0x" + Integer.toHexString(1 + d.prng.nextInt(0xed)) + " ");
      }
    }
    if (d.on(Feature.VERBS) && d.chance(30)) {
      d.steps.add(verb(d, d.jobs.get(d.jobs.size() - 1)));
    }
  }

  private static long advanceNs(Draft d) {
    return switch (d.prng.nextInt(4)) {
      case 0 -> 1_000_000L * d.prng.rangeInclusive(0, 5);
      case 1 -> 1_000_000L * d.prng.rangeInclusive(5, 100);
      case 2 -> 1_000_000L * d.prng.rangeInclusive(100, 1000);
      default -> 1_000L * d.prng.rangeInclusive(1, 1000);
    };
  }

  /** A guest-writable node: mostly an active layer, sometimes a lower layer or a target. */
  private static String guestNode(Draft d) {
    if (!d.fleeces.isEmpty() && d.chance(50)) {
      Fleece f = d.prng.pick(new ArrayList<>(d.fleeces.values()));
      // Guest writes go through the filter; the snapshot is read (and refuses writes).
      return f.access() != null && d.chance(25) ? f.access() : f.filter();
    }
    Chain chain = d.prng.pick(d.chains);
    if (d.chance(10) && chain.nodes().size() > 1) {
      return d.prng.pick(chain.nodes());
    }
    if (d.chance(5) && !d.targets.isEmpty()) {
      return d.prng.pick(d.targets);
    }
    return chain.active();
  }

  private static void guestIo(Draft d, String prefix) {
    String node = guestNode(d);
    d.steps.add(io(guestRange(d, prefix, sizeOf(d, node)), node));
  }

  private static String guestRange(Draft d, String prefix, long size) {
    long sectors = size / 512;
    long offset = 512 * d.prng.nextLong(sectors);
    long length = 512 * d.prng.rangeInclusive(1, Math.max(1, Math.min(sectors - offset / 512,
        d.chance(70) ? 16 : 256)));
    return prefix + offset + " " + length;
  }

  private static long sizeOf(Draft d, String node) {
    Long known = d.sizes.get(node);
    if (known != null) {
      return known;
    }
    for (ImageSpec image : d.images) {
      if (image.path().startsWith(node + ".")) {
        return image.sizeBytes();
      }
    }
    return 512;
  }

  private static List<String> allNodes(Draft d) {
    List<String> nodes = new ArrayList<>();
    for (Chain chain : d.chains) {
      nodes.addAll(chain.nodes());
    }
    for (Fleece f : d.fleeces.values()) {
      nodes.add(f.temp());
    }
    nodes.addAll(d.targets);
    return nodes;
  }

  private Map<String, Object> bitmapAdd(Draft d) {
    String node = d.chance(85) ? d.prng.pick(d.chains).active() : d.prng.pick(allNodes(d));
    String name = "b" + d.bitmapCount++;
    Map<String, Object> args = map("node", node, "name", name);
    if (d.chance(70)) {
      int log2 = d.chance(80) ? (int) d.prng.rangeInclusive(9, 16)
          : (int) d.prng.rangeInclusive(17, 24);
      args.put("granularity", 1L << log2);
    }
    if (d.on(Feature.PERSISTENT) && d.chance(50)) {
      args.put("persistent", true);
    }
    if (d.on(Feature.BITMAP_OPS) && d.chance(10)) {
      args.put("disabled", true);
    }
    d.bitmaps.put(node + "/" + name, node);
    return args;
  }

  private Map<String, Object> bitmapRef(Draft d) {
    if (d.bitmaps.isEmpty() || d.chance(5)) {
      return map("node", d.prng.pick(d.chains).active(), "name", "b" + d.bitmapCount);
    }
    String key = d.prng.pick(new ArrayList<>(d.bitmaps.keySet()));
    return map("node", d.bitmaps.get(key), "name", key.substring(key.indexOf('/') + 1));
  }

  private Map<String, Object> merge(Draft d) {
    Map<String, Object> target = bitmapRef(d);
    List<Object> sources = new ArrayList<>();
    int count = 1 + d.prng.nextInt(2);
    for (int i = 0; i < count; i++) {
      Map<String, Object> source = bitmapRef(d);
      sources.add(source.get("node").equals(target.get("node")) && d.chance(60)
          ? source.get("name") : source);
    }
    return map("node", target.get("node"), "target", target.get("name"), "bitmaps", sources);
  }

  private Step transaction(Draft d) {
    List<Object> actions = new ArrayList<>();
    int count = 1 + d.prng.nextInt(3);
    boolean backups = false;
    for (int i = 0; i < count; i++) {
      int what = d.prng.nextInt(10);
      if (what < 3 && d.on(Feature.BACKUP) && !d.targets.isEmpty()) {
        actions.add(map("type", "blockdev-backup", "data", backup(d)));
        backups = true;
      } else if (what < 4 && d.on(Feature.SNAPSHOTS)) {
        actions.add(snapshotAction(d));
      } else if (what < 5) {
        actions.add(map("type", "block-dirty-bitmap-add", "data", bitmapAdd(d)));
      } else if (what < 9) {
        String op = d.prng.pick(List.of("clear", "enable", "disable", "merge", "remove"));
        actions.add(map("type", "block-dirty-bitmap-" + op, "data", op.equals("merge")
            ? merge(d) : bitmapRef(d)));
      } else {
        actions.add(map("type", "abort", "data", map()));
      }
    }
    if (d.chance(10)) {
      actions.add(d.prng.nextInt(actions.size() + 1), map("type", "abort", "data", map()));
    }
    Map<String, Object> args = map("actions", actions);
    if (backups && d.chance(40)) {
      args.put("properties", map("completion-mode", "grouped"));
    }
    return qmp("transaction", args);
  }

  private String newJob(Draft d) {
    String id = "j" + d.jobCount++;
    d.jobs.add(id);
    return id;
  }

  private void jobCommon(Draft d, Map<String, Object> args) {
    if (d.on(Feature.MANUAL_COMPLETION)) {
      if (d.chance(40)) {
        args.put("auto-finalize", false);
      }
      if (d.chance(40)) {
        args.put("auto-dismiss", false);
      }
    }
    if (d.on(Feature.SPEED) && d.chance(60)) {
      args.put("speed", 1024L * d.prng.rangeInclusive(16, 4096));
    }
  }

  private Map<String, Object> backup(Draft d) {
    Chain chain = d.prng.pick(d.chains);
    String device = d.chance(85) ? chain.active() : d.prng.pick(chain.nodes());
    Map<String, Object> args = map("job-id", newJob(d), "device", device, "target",
        d.targets.isEmpty() ? "t0" : d.prng.pick(d.targets));
    String sync = d.prng.pick(List.of("full", "full", "bitmap", "bitmap", "bitmap", "top",
        "none", "incremental"));
    args.put("sync", sync);
    List<String> onDevice = new ArrayList<>();
    for (Map.Entry<String, String> e : d.bitmaps.entrySet()) {
      if (e.getValue().equals(device)) {
        onDevice.add(e.getKey().substring(e.getKey().indexOf('/') + 1));
      }
    }
    boolean withBitmap = sync.equals("bitmap") || sync.equals("incremental")
        || (!sync.equals("none") && d.chance(40));
    if (withBitmap) {
      args.put("bitmap", onDevice.isEmpty() || d.chance(5) ? "b" + d.bitmapCount
          : d.prng.pick(onDevice));
      if (!sync.equals("incremental") && d.chance(90)) {
        args.put("bitmap-mode", d.prng.pick(MODES));
      }
    }
    jobCommon(d, args);
    if (d.on(Feature.ERROR_POLICIES) && d.chance(50)) {
      args.put(d.chance(50) ? "on-source-error" : "on-target-error", d.prng.pick(POLICIES));
    }
    if (d.chance(50)) {
      // Small chunks and few workers: a small image is copied in several requests, so guest
      // writes and verbs meet a backup half done (one 1 MiB chunk copies it all at once).
      args.put("x-perf", map("max-workers", d.prng.rangeInclusive(1, 4),
          "max-chunk", 65536L << d.prng.nextInt(3)));
    }
    return args;
  }

  private Map<String, Object> mirror(Draft d) {
    Chain chain = d.prng.pick(d.chains);
    Map<String, Object> args = map("job-id", newJob(d), "device", chain.active(), "target",
        d.targets.isEmpty() ? "t0" : d.prng.pick(d.targets));
    args.put("sync", d.prng.pick(List.of("full", "full", "top", "none")));
    if (d.chance(40)) {
      args.put("copy-mode", "write-blocking");
    }
    if (d.chance(40)) {
      args.put("granularity", 1L << d.prng.rangeInclusive(9, 20));
    }
    jobCommon(d, args);
    if (d.on(Feature.ERROR_POLICIES) && d.chance(50)) {
      args.put(d.chance(50) ? "on-source-error" : "on-target-error", d.prng.pick(POLICIES));
    }
    return args;
  }

  private Map<String, Object> stream(Draft d) {
    Chain chain = d.prng.pick(d.chains);
    Map<String, Object> args = map("job-id", newJob(d), "device", chain.active());
    if (chain.nodes().size() > 2 && d.chance(50)) {
      args.put("base-node", chain.nodes().get(d.prng.nextInt(chain.nodes().size() - 1)));
    }
    jobCommon(d, args);
    if (d.on(Feature.ERROR_POLICIES) && d.chance(30)) {
      args.put("on-error", d.prng.pick(POLICIES));
    }
    return args;
  }

  private Map<String, Object> commit(Draft d) {
    Chain chain = d.prng.pick(d.chains);
    List<String> nodes = chain.nodes();
    Map<String, Object> args = map("job-id", newJob(d), "device", chain.active());
    int top = nodes.size() - 1;
    if (nodes.size() > 2 && d.chance(50)) {
      top = 1 + d.prng.nextInt(nodes.size() - 2);
      args.put("top-node", nodes.get(top));
    }
    if (top > 1 && d.chance(50)) {
      args.put("base-node", nodes.get(d.prng.nextInt(top)));
    }
    jobCommon(d, args);
    return args;
  }

  private Step verb(Draft d) {
    return verb(d, d.jobs.isEmpty() || d.chance(3) ? "j" + d.jobCount : d.prng.pick(d.jobs));
  }

  private Step verb(Draft d, String id) {
    int what = d.prng.nextInt(9);
    return switch (what) {
      case 0 -> qmp("job-pause", map("id", id));
      case 1 -> qmp("job-resume", map("id", id));
      case 2 -> qmp("job-cancel", map("id", id));
      case 3 -> qmp("block-job-cancel", d.chance(50) ? map("device", id, "force", true)
          : map("device", id));
      case 4 -> qmp("job-complete", map("id", id));
      case 5 -> qmp("job-finalize", map("id", id));
      case 6 -> qmp("job-dismiss", map("id", id));
      case 7 -> qmp("block-job-set-speed", map("device", id, "speed",
          d.chance(30) ? 0L : 1024L * d.prng.rangeInclusive(16, 4096)));
      default -> qmp("block-job-complete", map("device", id));
    };
  }

  /**
   * Every job ends: sometimes first the natural way (speed limits lifted, ready jobs completed,
   * pending ones finalized), then by forced cancels, with time for them to finish; then the
   * concluded ones are dismissed.
   */
  private void ending(Draft d) {
    if (d.jobs.isEmpty()) {
      return;
    }
    if (d.chance(70)) {
      for (String id : d.jobs) {
        d.steps.add(qmp("block-job-set-speed", map("device", id, "speed", 0L)));
      }
      d.steps.add(new Step.Advance(0, WHERE, null, 2_000_000_000L));
      for (String id : d.jobs) {
        d.steps.add(qmp("job-complete", map("id", id)));
        d.steps.add(qmp("job-finalize", map("id", id)));
      }
      d.steps.add(new Step.Advance(0, WHERE, null, 1_000_000_000L));
    }
    for (String id : d.jobs) {
      d.steps.add(qmp("block-job-cancel", map("device", id, "force", true)));
    }
    d.steps.add(new Step.Advance(0, WHERE, null, JobBudget.ENDING_NS));
    for (String id : d.jobs) {
      d.steps.add(qmp("job-dismiss", map("id", id)));
    }
  }

  // ------------------------------------------------------------------ resize, snapshots, reopen

  /** block_resize: grow or shrink, sometimes to a size qcow2 refuses (not a multiple of 512). */
  private static void resize(Draft d) {
    List<String> nodes = allNodes(d);
    String node = d.chance(70) ? d.prng.pick(d.chains).active() : d.prng.pick(nodes);
    if (d.pre.stream().anyMatch(p -> p instanceof Step.Img i
        && i.command().contains("data_file_raw=on") && i.command().contains(" " + node
        + ".qcow2 "))) {
      return; // A qcow2 node with a raw data file: its resize aborts QEMU 7.2 (§22.4).
    }
    for (Fleece f : d.fleeces.values()) {
      if (f.source().equals(node)) {
        return; // blocksim refuses a fleecing source's resize as not modelled.
      }
    }
    long size = sizeOf(d, node);
    long sectors = size / 512;
    long newSize = d.chance(50) || sectors <= 1 ? size + 512 * d.prng.rangeInclusive(1, 64)
        : 512 * d.prng.rangeInclusive(1, sectors - 1);
    if (d.chance(10)) {
      newSize += d.prng.rangeInclusive(1, 511);
    }
    d.steps.add(qmp("block_resize", map("node-name", node, "size", newSize)));
    d.resized.add(node);
    if (newSize % 512 == 0) {
      d.sizes.put(node, newSize);
    }
  }

  /**
   * An external snapshot of a chain's top. blockdev-snapshot-sync creates the overlay image; the
   * storage daemon closes it again (nothing holds it, docs/qemu-behaviour.md), so it is mostly
   * added above the old top afterwards. blockdev-snapshot takes an overlay created beforehand
   * with the top's file as backing file name and added with backing null, as libvirt does.
   */
  private void snapshot(Draft d) {
    Chain chain = d.prng.pick(d.chains);
    String old = chain.active();
    String node = "o" + d.overlayCount++;
    long size = sizeOf(d, old);
    if (d.resized.contains(old)) {
      d.resized.add(node); // The overlay takes the old top's size, which is a guess.
    }
    ImageSpec below = chain.images().get(chain.images().size() - 1);
    // blockdev-snapshot's overlay is created with the images, so its backing file must be one
    // of them (not an overlay or an image a qemu-img step makes later).
    if (d.chance(50) || chain.nodes().size() != chain.images().size()
        || !d.images.contains(below)) {
      Map<String, Object> args = map("node-name", old, "snapshot-file", node + ".qcow2",
          "snapshot-node-name", node);
      if (d.chance(20)) {
        args.put("format", "qcow2");
      }
      d.steps.add(d.chance(25) ? qmp("transaction", map("actions", List.of(
          map("type", "blockdev-snapshot-sync", "data", args))))
          : qmp("blockdev-snapshot-sync", args));
      if (d.chance(80)) {
        Map<String, Object> add = map("node-name", node, "driver", "qcow2", "file",
            map("driver", "file", "filename", node + ".qcow2"), "backing", old);
        d.added.put(node, add);
        d.steps.add(qmp("blockdev-add", add));
        chain.nodes().add(node);
        d.sizes.put(node, size);
        d.qcow2Files.add(node + ".qcow2");
      }
      return;
    }
    ImageSpec overlay = new ImageSpec(node + ".qcow2", "qcow2", below.sizeBytes(), below.path(),
        below.format(), clusterSize(d), Map.of());
    d.images.add(overlay);
    d.qcow2Files.add(overlay.path());
    Map<String, Object> add = map("node-name", node, "driver", "qcow2", "file",
        map("driver", "file", "filename", overlay.path()), "backing", null);
    d.added.put(node, add);
    d.steps.add(qmp("blockdev-add", add));
    Map<String, Object> args = map("node", old, "overlay", node);
    d.steps.add(d.chance(25) ? qmp("transaction", map("actions", List.of(
        map("type", "blockdev-snapshot", "data", args))))
        : qmp("blockdev-snapshot", args));
    // From here on the overlay's backing is the old top: a reopen names it.
    Map<String, Object> reopened = new LinkedHashMap<>(add);
    reopened.put("backing", old);
    d.added.put(node, reopened);
    chain.nodes().add(node);
    d.sizes.put(node, size);
  }

  /** A snapshot action among others in a transaction (the chain's picture is left as it is). */
  private Map<String, Object> snapshotAction(Draft d) {
    String old = d.prng.pick(d.chains).active();
    String node = "o" + d.overlayCount++;
    return map("type", "blockdev-snapshot-sync", "data", map("node-name", old,
        "snapshot-file", node + ".qcow2", "snapshot-node-name", node));
  }

  /** blockdev-reopen of a node with the options it was added with, read-only or read-write. */
  private static void reopen(Draft d) {
    if (d.added.isEmpty()) {
      return;
    }
    String node = d.prng.pick(new ArrayList<>(d.added.keySet()));
    Map<String, Object> options = new LinkedHashMap<>(d.added.get(node));
    options.put("read-only", d.chance(50));
    d.steps.add(qmp("blockdev-reopen", map("options", List.of(options))));
  }

  // ------------------------------------------------------------------ NBD and fleecing

  /** An export (the server started first), sometimes with bitmaps; sometimes one deleted. */
  private static void export(Draft d) {
    if (!d.nbdServer) {
      d.steps.add(qmp("nbd-server-start", map("addr", map("type", "unix", "data",
          map("path", "nbd.sock")))));
      d.nbdServer = true;
    }
    if (!d.exports.isEmpty() && d.chance(20)) {
      String name = d.prng.pick(new ArrayList<>(d.exports.keySet()));
      d.steps.add(qmp("block-export-del", map("id", name)));
      d.exports.remove(name);
      return;
    }
    List<String> nodes = allNodes(d);
    for (Fleece f : d.fleeces.values()) {
      if (f.access() != null) {
        nodes.add(f.access());
      }
    }
    String node = d.prng.pick(nodes);
    String name = "e" + d.exportCount++;
    Map<String, Object> args = map("type", "nbd", "id", name, "node-name", node, "name", name);
    if (d.chance(40)) {
      args.put("writable", true);
    }
    List<String> bitmaps = new ArrayList<>();
    List<String> onNode = new ArrayList<>();
    for (Map.Entry<String, String> e : d.bitmaps.entrySet()) {
      if (e.getValue().equals(node) || d.chance(20)) {
        onNode.add(e.getKey().substring(e.getKey().indexOf('/') + 1));
      }
    }
    if (!onNode.isEmpty() && d.chance(80)) {
      for (int i = 0, n = 1 + d.prng.nextInt(2); i < n; i++) {
        String b = d.prng.pick(onNode);
        if (!bitmaps.contains(b)) {
          bitmaps.add(b);
        }
      }
      args.put("bitmaps", List.copyOf(bitmaps));
    }
    d.steps.add(qmp("block-export-add", args));
    d.exports.put(name, bitmaps);
  }

  /** An NBD client reading an export's allocation or one of its bitmaps. */
  private static void nbdMap(Draft d) {
    if (d.exports.isEmpty()) {
      export(d);
      return;
    }
    String name = d.prng.pick(new ArrayList<>(d.exports.keySet()));
    List<String> bitmaps = d.exports.get(name);
    String context = bitmaps.isEmpty() || d.chance(30) ? "base:allocation"
        : "qemu:dirty-bitmap:" + d.prng.pick(bitmaps);
    d.steps.add(new Step.NbdMap(0, WHERE, null, name, context, null));
  }

  /**
   * The fleecing setup of iotest image-fleecing and libvirt's pull-mode backup, or its teardown
   * in QEMU's order (snapshot-access, filter, overlay).
   */
  private void fleece(Draft d) {
    if (!d.fleeces.isEmpty() && d.chance(30)) {
      String filter = d.prng.pick(new ArrayList<>(d.fleeces.keySet()));
      Fleece f = d.fleeces.remove(filter);
      if (f.access() != null) {
        d.steps.add(qmp("blockdev-del", map("node-name", f.access())));
      }
      d.steps.add(qmp("blockdev-del", map("node-name", f.filter())));
      d.steps.add(qmp("blockdev-del", map("node-name", f.temp())));
      return;
    }
    Chain chain = d.prng.pick(d.chains);
    String source = chain.active();
    if (d.resized.contains(source)) {
      // The temporary target must be as long as the source (blocksim refuses another size as
      // not modelled), and a resize may or may not have happened.
      return;
    }
    int n = d.overlayCount++;
    long size = sizeOf(d, source);
    boolean raw = d.on(Feature.RAW) && d.chance(25);
    ImageSpec temp = new ImageSpec("f" + n + (raw ? ".raw" : ".qcow2"), raw ? "raw" : "qcow2",
        size, null, null, raw ? null : clusterSize(d), Map.of());
    d.images.add(temp);
    String tempNode = "f" + n;
    Map<String, Object> add = map("node-name", tempNode, "driver", temp.format(), "file",
        map("driver", "file", "filename", temp.path()));
    if (!raw) {
      add.put("backing", source);
      d.qcow2Files.add(temp.path());
    }
    d.added.put(tempNode, add);
    d.steps.add(qmp("blockdev-add", add));
    String filter = "f" + n + "-cbw";
    Map<String, Object> cbw = map("node-name", filter, "driver", "copy-before-write", "file",
        source, "target", tempNode);
    List<String> onSource = new ArrayList<>();
    for (Map.Entry<String, String> e : d.bitmaps.entrySet()) {
      if (e.getValue().equals(source)) {
        onSource.add(e.getKey().substring(e.getKey().indexOf('/') + 1));
      }
    }
    if (!onSource.isEmpty() && d.chance(30)) {
      cbw.put("bitmap", map("node", source, "name", d.prng.pick(onSource)));
    }
    if (d.chance(20)) {
      cbw.put("on-cbw-error", d.prng.pick(List.of("break-guest-write", "break-snapshot")));
    }
    d.steps.add(qmp("blockdev-add", cbw));
    String access = null;
    if (d.chance(80)) {
      access = "f" + n + "-access";
      d.steps.add(qmp("blockdev-add", map("node-name", access, "driver", "snapshot-access",
          "file", filter)));
      d.sizes.put(access, size);
    }
    d.sizes.put(filter, size);
    d.sizes.put(tempNode, size);
    d.fleeces.put(filter, new Fleece(source, tempNode, filter, access));
  }

  // ------------------------------------------------------------------ helpers

  static Step img(String command) {
    return new Step.Img(0, WHERE, null, command);
  }

  static Step qmp(String command, Map<String, Object> args) {
    return new Step.Qmp(0, WHERE, null, command, args, null);
  }

  static Step io(String command, String node) {
    return new Step.Io(0, WHERE, null, command, node, null);
  }

  /** A mutable, insertion-ordered map from alternating keys and values. */
  static Map<String, Object> map(Object... keysAndValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keysAndValues.length; i += 2) {
      m.put((String) keysAndValues[i], keysAndValues[i + 1]);
    }
    return m;
  }
}
