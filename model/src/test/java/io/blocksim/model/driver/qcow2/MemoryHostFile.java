package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A sparse in-memory host file for tests: 4 KiB pages, absent pages read as zeroes (holes).
 * It logs every mutating request and flush, so a test can rebuild the file as a crash would
 * leave it (everything before the last flush, plus any subset of what came after), and it can
 * copy itself to and from a real file for qemu-img and qemu-io.
 */
final class MemoryHostFile implements HostFile {
  static final int PAGE = 4096;

  private final TreeMap<Long, byte[]> pages = new TreeMap<>();
  private long length;
  private final List<Op> log = new ArrayList<>();
  private boolean logging;
  private int flushCount;

  /** One logged request; data is null for writeZeroes, discard, truncate and flush. */
  record Op(String kind, long offset, long length, byte[] data) {}

  void startLogging() {
    logging = true;
    log.clear();
  }

  List<Op> log() {
    return log;
  }

  int flushCount() {
    return flushCount;
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int len) {
    int done = 0;
    while (done < len) {
      long at = offset + done;
      long page = at / PAGE;
      int in = (int) (at % PAGE);
      int n = Math.min(len - done, PAGE - in);
      byte[] p = at < length ? pages.get(page) : null;
      if (p == null) {
        java.util.Arrays.fill(dst, dstOffset + done, dstOffset + done + n, (byte) 0);
      } else {
        System.arraycopy(p, in, dst, dstOffset + done, n);
      }
      done += n;
    }
  }

  @Override
  public void write(long offset, byte[] src, int srcOffset, int len) throws HostIoException {
    if (logging) {
      log.add(new Op("write", offset, len,
          java.util.Arrays.copyOfRange(src, srcOffset, srcOffset + len)));
    }
    int done = 0;
    while (done < len) {
      long at = offset + done;
      long page = at / PAGE;
      int in = (int) (at % PAGE);
      int n = Math.min(len - done, PAGE - in);
      byte[] p = pages.computeIfAbsent(page, k -> new byte[PAGE]);
      System.arraycopy(src, srcOffset + done, p, in, n);
      if (isZero(p)) {
        pages.remove(page);
      }
      done += n;
    }
    length = Math.max(length, offset + len);
  }

  @Override
  public void writeZeroes(long offset, long len) {
    if (logging) {
      log.add(new Op("writeZeroes", offset, len, null));
    }
    zeroRange(offset, len);
    length = Math.max(length, offset + len);
  }

  @Override
  public void discard(long offset, long len) {
    if (logging) {
      log.add(new Op("discard", offset, len, null));
    }
    zeroRange(offset, Math.min(len, Math.max(0, length - offset)));
  }

  private void zeroRange(long offset, long len) {
    long end = offset + len;
    long at = offset;
    while (at < end) {
      long page = at / PAGE;
      int in = (int) (at % PAGE);
      long n = Math.min(end - at, PAGE - in);
      if (in == 0 && n == PAGE) {
        pages.remove(page);
      } else {
        byte[] p = pages.get(page);
        if (p != null) {
          java.util.Arrays.fill(p, in, in + (int) n, (byte) 0);
        }
      }
      at += n;
    }
  }

  @Override
  public void truncate(long newLength) {
    if (logging) {
      log.add(new Op("truncate", newLength, 0, null));
    }
    if (newLength < length) {
      zeroRange(newLength, ((length + PAGE - 1) / PAGE) * PAGE - newLength);
    }
    length = newLength;
  }

  @Override
  public void flush() {
    flushCount++;
    if (logging) {
      log.add(new Op("flush", 0, 0, null));
    }
  }

  @Override
  public long allocationRun(long offset, long maxLength) {
    long page = offset / PAGE;
    boolean data = pages.containsKey(page);
    long run = Math.min(maxLength, (page + 1) * PAGE - offset);
    while (run < maxLength) {
      page++;
      if (pages.containsKey(page) != data) {
        break;
      }
      run = Math.min(maxLength, run + PAGE);
    }
    return data ? run : -run;
  }

  private static boolean isZero(byte[] p) {
    for (byte b : p) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  /** Returns the number of bytes held in pages (the memory this file costs). */
  long residentBytes() {
    return (long) pages.size() * PAGE;
  }

  /** Returns a copy of this file's current contents. */
  MemoryHostFile copy() {
    MemoryHostFile c = new MemoryHostFile();
    for (Map.Entry<Long, byte[]> e : pages.entrySet()) {
      c.pages.put(e.getKey(), e.getValue().clone());
    }
    c.length = length;
    return c;
  }

  /** Applies one logged request to this file. */
  void apply(Op op) throws HostIoException {
    switch (op.kind()) {
      case "write" -> write(op.offset(), op.data(), 0, op.data().length);
      case "writeZeroes" -> writeZeroes(op.offset(), op.length());
      case "discard" -> discard(op.offset(), op.length());
      case "truncate" -> truncate(op.offset());
      case "flush" -> flush();
      default -> throw new IllegalStateException(op.kind());
    }
  }

  /** Writes the contents to a real (sparse) file. */
  void saveTo(Path path) throws IOException {
    Files.deleteIfExists(path);
    try (RandomAccessFile f = new RandomAccessFile(path.toFile(), "rw")) {
      for (Map.Entry<Long, byte[]> e : pages.entrySet()) {
        long at = e.getKey() * PAGE;
        if (at >= length) {
          continue;
        }
        f.seek(at);
        f.write(e.getValue(), 0, (int) Math.min(PAGE, length - at));
      }
      f.setLength(length);
    }
  }

  /** Loads a real file, keeping all-zero pages as holes. */
  static MemoryHostFile loadFrom(Path path) throws IOException {
    MemoryHostFile m = new MemoryHostFile();
    byte[] all = Files.readAllBytes(path);
    for (int at = 0; at < all.length; at += PAGE) {
      int n = Math.min(PAGE, all.length - at);
      boolean zero = true;
      for (int i = 0; i < n && zero; i++) {
        zero = all[at + i] == 0;
      }
      if (!zero) {
        byte[] p = new byte[PAGE];
        System.arraycopy(all, at, p, 0, n);
        m.pages.put((long) at / PAGE, p);
      }
    }
    m.length = all.length;
    return m;
  }

  /** Returns all bytes (for small files). */
  byte[] bytes() {
    byte[] b = new byte[(int) length];
    read(0, b, 0, b.length);
    return b;
  }
}
