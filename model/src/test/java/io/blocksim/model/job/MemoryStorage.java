package io.blocksim.model.job;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * In-memory host files for engine tests: sparse, in 4 KiB chunks (a chunk never written is a
 * hole), with a switch that fails the next read touching a given byte (a host read error).
 */
final class MemoryStorage implements HostStorage {
  static final int CHUNK = 4096;
  private final Map<String, MemoryFile> files = new TreeMap<>();

  @Override
  public HostFile open(String path) throws HostIoException {
    MemoryFile file = files.get(path);
    if (file == null) {
      throw new HostIoException(HostIoException.ENOENT, "no such file: " + path);
    }
    return file;
  }

  @Override
  public HostFile create(String path) {
    MemoryFile file = new MemoryFile();
    files.put(path, file);
    return file;
  }

  @Override
  public boolean exists(String path) {
    return files.containsKey(path);
  }

  @Override
  public List<String> list() {
    return new ArrayList<>(files.keySet());
  }

  MemoryFile file(String path) {
    return files.get(path);
  }

  static final class MemoryFile implements HostFile {
    private final TreeMap<Long, byte[]> chunks = new TreeMap<>();
    private long length;
    /** A byte offset whose next read fails with EIO, or -1. */
    long failReadAt = -1;

    @Override
    public long length() {
      return length;
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int len) throws HostIoException {
      if (failReadAt >= 0 && failReadAt >= offset && failReadAt < offset + len) {
        failReadAt = -1;
        throw new HostIoException(HostIoException.EIO, "injected host read error");
      }
      int done = 0;
      while (done < len) {
        long at = offset + done;
        int within = (int) (at % CHUNK);
        int n = Math.min(len - done, CHUNK - within);
        byte[] chunk = chunks.get(at / CHUNK);
        if (chunk == null) {
          java.util.Arrays.fill(dst, dstOffset + done, dstOffset + done + n, (byte) 0);
        } else {
          System.arraycopy(chunk, within, dst, dstOffset + done, n);
        }
        done += n;
      }
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int len) {
      int done = 0;
      while (done < len) {
        long at = offset + done;
        int within = (int) (at % CHUNK);
        int n = Math.min(len - done, CHUNK - within);
        System.arraycopy(src, srcOffset + done,
            chunks.computeIfAbsent(at / CHUNK, k -> new byte[CHUNK]), within, n);
        done += n;
      }
      length = Math.max(length, offset + len);
    }

    @Override
    public void writeZeroes(long offset, long len) {
      long at = offset;
      while (at < offset + len) {
        int within = (int) (at % CHUNK);
        int n = (int) Math.min(offset + len - at, CHUNK - within);
        byte[] chunk = chunks.get(at / CHUNK);
        if (chunk != null) {
          java.util.Arrays.fill(chunk, within, within + n, (byte) 0);
        }
        at += n;
      }
      for (long c = (offset + CHUNK - 1) / CHUNK; (c + 1) * CHUNK <= offset + len; c++) {
        chunks.remove(c);
      }
      length = Math.max(length, offset + len);
    }

    @Override
    public void discard(long offset, long len) {
      writeZeroes(offset, len);
    }

    @Override
    public void truncate(long newLength) {
      chunks.tailMap((newLength + CHUNK - 1) / CHUNK, true).clear();
      length = newLength;
    }

    @Override
    public void flush() {}

    @Override
    public long allocationRun(long offset, long maxLength) {
      boolean data = chunks.containsKey(offset / CHUNK);
      long at = offset / CHUNK * CHUNK + CHUNK;
      while (at < offset + maxLength && chunks.containsKey(at / CHUNK) == data) {
        at += CHUNK;
      }
      long run = Math.min(at, offset + maxLength) - offset;
      return data ? run : -run;
    }

    /** Returns a copy of the range without consulting the fault switch. */
    byte[] peek(long offset, int len) throws HostIoException {
      long armed = failReadAt;
      failReadAt = -1;
      byte[] buf = new byte[len];
      read(offset, buf, 0, len);
      failReadAt = armed;
      return buf;
    }

    /** Returns whether any byte of [offset, offset + len) is non-zero. */
    boolean nonZero(long offset, long len) throws HostIoException {
      byte[] buf = new byte[(int) len];
      read(offset, buf, 0, (int) len);
      for (byte b : buf) {
        if (b != 0) {
          return true;
        }
      }
      return false;
    }
  }
}
