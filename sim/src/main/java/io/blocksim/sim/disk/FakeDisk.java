package io.blocksim.sim.disk;

import io.blocksim.model.check.Check;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.sim.prng.Prng;
import io.blocksim.sim.prng.Ratio;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The host directory of a simulated run: sparse in-memory files behind a volatile write cache.
 *
 * <p><b>Storage.</b> A file is a map of 4 KiB pages (the Linux block size); a missing page is a
 * hole, a page whose bytes are all equal is stored as that one value, so a 1 TiB file costs memory
 * only for what was written, and pattern writes cost almost nothing. Holes follow Linux: {@code
 * write} allocates (even zeroes); {@code writeZeroes} and {@code discard} free whole pages and
 * write zeroes into partial ones; {@code writeZeroes} may extend the file, {@code discard} never
 * does.
 *
 * <p><b>Fault model.</b> What may fail:
 *
 * <ul>
 *   <li>A process crash ({@link #crashProcess()}) loses nothing: the host page cache survives
 *       {@code kill -9}, so every completed request stays visible, and stays unflushed.
 *   <li>A power loss ({@link #crashPower(Prng)}) loses the volatile cache. For each file (in name
 *       order), each unflushed request (oldest first) is kept with probability {@code
 *       keepUnflushed}, independently of the others; a kept write, write-zeroes or discard that
 *       spans more than one 512-byte sector is torn with probability {@code tearKept}, keeping a
 *       uniformly drawn strict prefix of its sectors (possibly none). A truncate is atomic.
 *   <li>A request that would grow a file beyond its size limit fails with ENOSPC and changes
 *       nothing; after a power cut that has not been undone by {@link #powerOn()}, every request
 *       fails with EIO.
 * </ul>
 *
 * <p>What must still hold: a flushed request survives every crash; after a power loss every
 * sector holds the value some request or the durable image gave it, applied in request order, with
 * each request either absent, whole, or a sector prefix; reads always return what the last
 * completed requests wrote, hole or not; and the same seed gives the same outcome. File creation
 * and the set of files are durable at once (the directory is not modelled as a cache).
 *
 * <p>Kernel writeback is modelled only as a bound: when a file has more than {@code
 * unflushedOpsMax} unflushed requests, the oldest one becomes durable.
 */
public final class FakeDisk implements HostStorage {
  private final Config config;
  private final TreeMap<String, FakeFile> files = new TreeMap<>();
  private final TreeMap<String, Long> sizeLimitsBytes = new TreeMap<>();
  /** Backing names QEMU wrote from node names (absolute on QEMU's side), per image file. */
  private final TreeMap<String, String> backingNamesFromNodes = new TreeMap<>();
  private final List<DiskOpListener> listeners = new ArrayList<>();
  private long opCount;
  private long powerCutAfterOp = -1;
  private Prng powerCutPrng;
  private boolean poweredOff;
  private List<OpFate> lastPowerLoss = List.of();

  /**
   * The power-loss model. {@code keepUnflushed}: chance that an unflushed request reaches the disk;
   * {@code tearKept}: chance that a kept multi-sector request is torn; {@code unflushedOpsMax}:
   * unflushed requests per file before the oldest is written back.
   */
  public record Config(Ratio keepUnflushed, Ratio tearKept, int unflushedOpsMax) {
    /** Keep half the unflushed requests, tear a quarter of the kept, write back past 100,000. */
    public static final Config DEFAULT = new Config(new Ratio(1, 2), new Ratio(1, 4), 100_000);

    public Config {
      if (!(unflushedOpsMax > 0)) {
        throw Check.failure("disk: unflushedOpsMax (%d) must be positive", unflushedOpsMax);
      }
    }
  }

  /** Creates an empty disk with the default power-loss model. */
  public FakeDisk() {
    this(Config.DEFAULT);
  }

  /** Creates an empty disk with the given power-loss model. */
  public FakeDisk(Config config) {
    this.config = config;
  }

  @Override
  public HostFile open(String path) throws HostIoException {
    checkPath(path);
    FakeFile file = files.get(path);
    if (file == null) {
      throw new HostIoException(HostIoException.ENOENT, "'" + path + "': no such file");
    }
    return file;
  }

  /** Creates the file, or truncates an existing one to zero (an unflushed truncate request). */
  @Override
  public HostFile create(String path) throws HostIoException {
    checkPath(path);
    checkPowered(path);
    backingNamesFromNodes.remove(path);
    FakeFile file = files.get(path);
    if (file == null) {
      file = new FakeFile(this, path);
      files.put(path, file);
    } else {
      file.truncate(0);
    }
    return file;
  }

  @Override
  public void setBackingNameFromNode(String path, String name) {
    if (name == null) {
      backingNamesFromNodes.remove(path);
    } else {
      backingNamesFromNodes.put(path, name);
    }
  }

  @Override
  public boolean backingNameFromNode(String path, String name) {
    return name != null && name.equals(backingNamesFromNodes.get(path));
  }

  @Override
  public boolean exists(String path) {
    return files.containsKey(path);
  }

  @Override
  public List<String> list() {
    return List.copyOf(files.keySet());
  }

  /** Makes requests that would grow the file beyond maxBytes fail with ENOSPC. */
  public void setSizeLimit(String path, long maxBytes) {
    if (!(maxBytes >= 0)) {
      throw Check.failure("disk: size limit (%d) must not be negative", maxBytes);
    }
    sizeLimitsBytes.put(path, maxBytes);
  }

  /** Adds a listener that sees every write, write-zeroes, discard, truncate and flush. */
  public void addListener(DiskOpListener listener) {
    listeners.add(listener);
  }

  /** Returns the number of completed write, write-zeroes, discard, truncate and flush requests. */
  public long opCount() {
    return opCount;
  }

  /** Returns the number of such requests on one file (0 for a file that does not exist). */
  public long opCount(String path) {
    FakeFile file = files.get(path);
    return file == null ? 0 : file.opCount();
  }

  /** Kills the process: nothing is lost, and unflushed requests stay unflushed (fault model). */
  public void crashProcess() {
    // Deliberately empty: the host page cache outlives the process.
  }

  /**
   * Cuts the power and restores it at once: every file loses its volatile cache as the fault model
   * describes, with choices drawn from prng. Returns the fate of each unflushed request, files in
   * name order, requests oldest first.
   */
  public List<OpFate> crashPower(Prng prng) {
    List<OpFate> fates = new ArrayList<>();
    for (FakeFile file : files.values()) {
      fates.addAll(file.losePower(prng, config.keepUnflushed(), config.tearKept()));
    }
    lastPowerLoss = List.copyOf(fates);
    return lastPowerLoss;
  }

  /**
   * Arms a power cut right after request number opNumber (counted as {@link #opCount()} counts)
   * completes: the cache is lost as in {@link #crashPower(Prng)} and every later request fails
   * with EIO until {@link #powerOn()}. For crash-point sweeps: "run k requests, then cut power".
   */
  public void cutPowerAfterOp(long opNumber, Prng prng) {
    if (!(opNumber > opCount)) {
      throw Check.failure("disk: op %d is not after the current op %d", opNumber, opCount);
    }
    powerCutAfterOp = opNumber;
    powerCutPrng = prng;
  }

  /**
   * Returns a separate disk holding what a power cut right now would leave, power back on, with
   * choices drawn from prng exactly as {@link #crashPower(Prng)} draws them; this disk is
   * unchanged. Pages are immutable and shared, so the copy costs the page maps, not the data. A
   * crash sweep takes one after each request of a single run instead of re-running the case up
   * to each crash point: an armed cut changes nothing before it fires, and nothing after it.
   */
  public FakeDisk crashedCopy(Prng prng) {
    FakeDisk copy = new FakeDisk(config);
    copy.sizeLimitsBytes.putAll(sizeLimitsBytes);
    copy.opCount = opCount;
    for (Map.Entry<String, FakeFile> entry : files.entrySet()) {
      copy.files.put(entry.getKey(), entry.getValue().copyInto(copy));
    }
    copy.crashPower(prng);
    return copy;
  }

  /** Returns what the file holds now, unchanged by later requests; null if it does not exist. */
  public FileContent content(String path) {
    FakeFile file = files.get(path);
    return file == null ? null : new FileContent(file.current().copy());
  }

  /** Returns whether the file exists and holds what content holds (reads and allocation). */
  public boolean holds(String path, FileContent content) {
    FakeFile file = files.get(path);
    return file != null && content.sameAs(file.current());
  }

  /** Returns whether an armed power cut has happened and power is not yet back. */
  public boolean isPoweredOff() {
    return poweredOff;
  }

  /** Restores power after an armed cut; the files hold what survived it. */
  public void powerOn() {
    poweredOff = false;
  }

  /** Returns the fates of the last power loss (armed or not), or an empty list. */
  public List<OpFate> lastPowerLoss() {
    return lastPowerLoss;
  }

  /** Returns the number of pages (data, including uniform ones) a read of the file sees. */
  public int pageCount(String path) {
    FakeFile file = files.get(path);
    return file == null ? 0 : file.current().pageCount();
  }

  /** Returns the number of unflushed requests of the file. */
  public int unflushedCount(String path) {
    FakeFile file = files.get(path);
    return file == null ? 0 : file.unflushedCount();
  }

  /** Returns the bytes of file data the disk holds on the heap (each shared page once). */
  public long retainedBytes() {
    Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    long total = 0;
    for (FakeFile file : files.values()) {
      total += file.retainedBytes(seen);
    }
    return total;
  }

  /**
   * Writes every file's current contents (unflushed requests included) to a real file of the same
   * name under dir, byte for byte, leaving holes unwritten so that the result is sparse where the
   * host file system allows.
   */
  public void exportTo(Path dir) throws IOException {
    for (Map.Entry<String, FakeFile> entry : files.entrySet()) {
      Path target = dir.resolve(entry.getKey());
      // File names are plain relative paths (checkPath); a symbolic link on the way would still
      // lead out of the directory, so none is followed.
      for (Path p = target; p != null && p.startsWith(dir); p = p.getParent()) {
        if (Files.isSymbolicLink(p)) {
          throw new IOException("refusing to write through the symbolic link " + p);
        }
      }
      if (target.getParent() != null) {
        Files.createDirectories(target.getParent());
      }
      Files.deleteIfExists(target); // So no old data shows through the holes.
      exportFile(entry.getValue().current(), target);
    }
  }

  /**
   * Reads a real file in as name, durable at once (like an image made before the run). All-zero
   * pages become holes. Replaces a file of that name.
   */
  public void importFrom(Path file, String name) throws IOException {
    String problem = pathProblem(name);
    if (!(problem == null)) {
      throw Check.failure("disk: cannot import as '%s': %s", name, problem);
    }
    long lengthBytes = Files.size(file);
    PageImage image = new PageImage();
    image.adoptLength(lengthBytes);
    try (InputStream in = Files.newInputStream(file)) {
      byte[] buffer = new byte[Page.SIZE_BYTES];
      for (long index = 0; index * Page.SIZE_BYTES < lengthBytes; index++) {
        int count = in.readNBytes(buffer, 0, Page.SIZE_BYTES);
        Arrays.fill(buffer, count, Page.SIZE_BYTES, (byte) 0);
        Page page = Page.copyOf(buffer, 0);
        if (!(page.isUniform() && page.fill() == 0)) {
          image.putPage(index, page);
        }
      }
    }
    FakeFile imported = files.computeIfAbsent(name, path -> new FakeFile(this, path));
    imported.replaceDurably(image);
  }

  Config config() {
    return config;
  }

  long sizeLimitBytes(String path) {
    // Asked on every request that grows a file; most runs set no limit at all.
    return sizeLimitsBytes.isEmpty() ? Long.MAX_VALUE
        : sizeLimitsBytes.getOrDefault(path, Long.MAX_VALUE);
  }

  void checkPowered(String path) throws HostIoException {
    if (poweredOff) {
      throw new HostIoException(HostIoException.EIO, "'" + path + "': power is off");
    }
  }

  /** Returns the record of the request about to complete, numbering it. */
  DiskOp nextOp(String path, DiskOp.Kind kind, long offsetBytes, long lengthBytes) {
    return new DiskOp(opCount + 1, path, kind, offsetBytes, lengthBytes);
  }

  /** Counts a completed request, tells the listeners, and fires an armed power cut. */
  void opDone(DiskOp op) {
    if (!(op.sequence() == opCount + 1)) {
      throw Check.failure("disk: op %d completed out of order", op.sequence());
    }
    opCount = op.sequence();
    files.get(op.path()).countOp();
    for (DiskOpListener listener : listeners) {
      listener.onOp(op);
    }
    if (opCount == powerCutAfterOp) {
      powerCutAfterOp = -1;
      crashPower(powerCutPrng);
      poweredOff = true;
    }
  }

  private static void exportFile(PageImage image, Path target) throws IOException {
    try (RandomAccessFile out = new RandomAccessFile(target.toFile(), "rw")) {
      out.setLength(image.lengthBytes());
      FileChannel channel = out.getChannel();
      byte[] buffer = new byte[Page.SIZE_BYTES];
      IOException[] failure = {null};
      image.forEachPage((index, page) -> {
        if (failure[0] != null) {
          return;
        }
        long position = index * Page.SIZE_BYTES;
        int count = (int) Math.min(Page.SIZE_BYTES, image.lengthBytes() - position);
        page.copyTo(0, buffer, 0, count);
        ByteBuffer data = ByteBuffer.wrap(buffer, 0, count);
        try {
          while (data.hasRemaining()) {
            channel.write(data, position + data.position());
          }
        } catch (IOException e) {
          failure[0] = e;
        }
      });
      if (failure[0] != null) {
        throw failure[0];
      }
    }
  }

  private static void checkPath(String path) throws HostIoException {
    String problem = pathProblem(path);
    if (problem != null) {
      throw new HostIoException(HostIoException.EINVAL, "'" + path + "': " + problem);
    }
  }

  /** Returns why a file name is not a plain relative path, or null if it is one. */
  private static String pathProblem(String path) {
    if (path == null || path.isEmpty()) {
      return "empty file name";
    }
    if (path.startsWith("/")) {
      return "absolute paths are not allowed";
    }
    for (String part : path.split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        return "path component '" + part + "' is not allowed";
      }
    }
    return null;
  }
}
