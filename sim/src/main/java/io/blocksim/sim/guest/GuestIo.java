package io.blocksim.sim.guest;

import io.blocksim.model.graph.BlockStatus;
import io.blocksim.model.graph.BlockNode;
import io.blocksim.model.graph.BlockIo;
import io.blocksim.model.graph.RequestFlags;
import io.blocksim.model.port.HostIoException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * Guest I/O as the {@code io:} step defines it: qemu-io connected to a short-lived NBD export of
 * the node (docs/qemu-behaviour.md §10.3). Reads are answered sparsely, as QEMU's NBD server does with
 * structured replies: ranges the whole chain reports as zero are not read at all (so no
 * {@code read_aio} and no blkdebug rule fires for them). Writes carry FUA: qemu-io's BlockBackend is
 * writethrough by default (blk_co_pwritev_part adds BDRV_REQ_FUA) and the NBD server passes
 * NBD_CMD_FLAG_FUA on, so each write ends with a flush of the node ({@link RequestFlags#FUA}). When qemu-io disconnects it flushes the export, so
 * every session ends with a flush of the node.
 */
public final class GuestIo {
  /** Largest request the NBD client sends in one piece (32 MiB, NBD_MAX_BUFFER_SIZE). */
  private static final int MAX_REQUEST_BYTES = 32 << 20;

  private GuestIo() {}

  /** The output lines and, when a request failed, qemu-io's error text. */
  public record Result(List<String> lines, String error) {}

  /**
   * Runs one command on the node. {@code elapse} is called with each request's byte count, so the
   * caller can let virtual time pass (and jobs interleave) while the request is in flight.
   */
  public static Result run(BlockNode node, QemuIoCommand command, LongConsumer elapse) {
    List<String> lines = new ArrayList<>();
    String error = null;
    long length = node.length();
    try {
      switch (command.kind()) {
        case WRITE -> {
          checkRange(command, length);
          write(node, command, elapse);
          lines.addAll(QemuIoCommand.report("wrote", command.offset(), command.length()));
        }
        case READ -> {
          checkRange(command, length);
          boolean matches = read(node, command, elapse);
          if (!matches) {
            lines.add("Pattern verification failed at offset " + command.offset() + ", "
                + command.length() + " bytes");
            error = "Pattern verification failed";
          }
          lines.addAll(QemuIoCommand.report("read", command.offset(), command.length()));
        }
        case DISCARD -> {
          checkRange(command, length);
          BlockIo.discard(node, command.offset(), command.length());
          elapse.accept(0);
          lines.addAll(QemuIoCommand.report("discard", command.offset(), command.length()));
        }
        case FLUSH -> {
          BlockIo.flush(node);
          elapse.accept(0);
        }
        default -> throw new IllegalStateException();
      }
    } catch (HostIoException e) {
      if (command.kind() == QemuIoCommand.Kind.FLUSH) {
        // qemu-io's flush_f returns blk_flush's error without printing it: qemu-io exits 1.
        error = "qemu-io exited with status 1";
        return finish(node, lines, error);
      }
      String verb = switch (command.kind()) {
        case WRITE -> "write";
        case READ -> "read";
        case DISCARD -> "discard";
        case FLUSH -> "flush";
      };
      error = verb + " failed: " + HostIoException.strerror(overNbd(e.errno()));
      lines.add(error);
    }
    return finish(node, lines, error);
  }

  private static Result finish(BlockNode node, List<String> lines, String error) {
    // qemu-io's disconnect flushes the export; a failure there is not reported by qemu-io.
    try {
      BlockIo.flush(node);
    } catch (HostIoException e) {
      // Ignored, as qemu-io ignores it.
    }
    return new Result(lines, error);
  }

  /**
   * The errno qemu-io sees for a request the server failed with that errno: the NBD protocol
   * carries only a few (nbd/server.c system_errno_to_nbd_errno, nbd/common.c
   * nbd_errno_to_system_errno), every other one arrives as EINVAL (a snapshot-access read that
   * fails with EACCES reads as "Invalid argument").
   */
  public static int overNbd(int errno) {
    return switch (errno) {
      case HostIoException.EPERM, HostIoException.EROFS -> HostIoException.EPERM;
      case HostIoException.EFBIG, HostIoException.ENOSPC, 122 /* EDQUOT */ ->
          HostIoException.ENOSPC;
      case HostIoException.EIO, HostIoException.ENOTSUP, 12 /* ENOMEM */, 75 /* EOVERFLOW */,
          108 /* ESHUTDOWN */ -> errno;
      default -> HostIoException.EINVAL;
    };
  }

  private static void checkRange(QemuIoCommand command, long length) throws HostIoException {
    if (command.offset() < 0 || command.length() < 0 || command.offset() > length
        || command.length() > length - command.offset()) {
      throw new HostIoException(HostIoException.EIO, "request beyond the end of the export");
    }
  }

  private static void write(BlockNode node, QemuIoCommand command, LongConsumer elapse)
      throws HostIoException {
    long done = 0;
    while (done < command.length()) {
      int chunk = (int) Math.min(MAX_REQUEST_BYTES, command.length() - done);
      long offset = command.offset() + done;
      if (command.zeroes()) {
        BlockIo.blkWriteZeroes(node, offset, chunk, RequestFlags.FUA
            | (command.mayUnmap() ? RequestFlags.MAY_UNMAP : RequestFlags.NONE));
      } else {
        byte[] data = patternBuffer((byte) (command.pattern() == null ? 0xcd
            : command.pattern()), chunk);
        BlockIo.write(node, offset, data, 0, chunk, RequestFlags.FUA);
      }
      elapse.accept(chunk);
      done += chunk;
    }
  }

  /** This thread's pattern buffer (cases run in parallel, each on one thread). */
  private static final ThreadLocal<PatternBuffer> PATTERN =
      ThreadLocal.withInitial(PatternBuffer::new);

  /** A buffer whose first {@code valid} bytes all have the value {@code value}. */
  private static final class PatternBuffer {
    byte[] bytes = new byte[0];
    byte value;
    int valid;
  }

  /**
   * Returns a buffer of at least length bytes, the first length of them value, for a pattern
   * write. Writers never change the buffer they are given and copy what they keep, so one buffer
   * per thread serves every pattern write: a new array of up to 32 MiB per request was a tenth of
   * the corpus profile.
   */
  private static byte[] patternBuffer(byte value, int length) {
    PatternBuffer p = PATTERN.get();
    if (p.bytes.length < length) {
      p.bytes = new byte[Math.max(length, Math.min(MAX_REQUEST_BYTES, 2 * p.bytes.length))];
      p.valid = 0;
    }
    if (p.value != value) {
      p.value = value;
      p.valid = 0;
    }
    if (p.valid < length) {
      Arrays.fill(p.bytes, p.valid, length, value);
      p.valid = length;
    }
    return p.bytes;
  }

  /** Reads sparsely; returns whether the data matched the pattern (true without -P). */
  private static boolean read(BlockNode node, QemuIoCommand command, LongConsumer elapse)
      throws HostIoException {
    boolean matches = true;
    long done = 0;
    while (done < command.length()) {
      int chunk = (int) Math.min(MAX_REQUEST_BYTES, command.length() - done);
      byte[] data = readSparse(node, command.offset() + done, chunk);
      elapse.accept(chunk);
      if (command.pattern() != null) {
        byte expected = (byte) (int) command.pattern();
        // Every byte the pattern: the first is, and each equals the next (a comparison the JDK
        // vectorizes; a byte loop here was 4% of the corpus profile).
        if (data.length > 0 && (data[0] != expected
            || !Arrays.equals(data, 0, data.length - 1, data, 1, data.length))) {
          matches = false;
        }
      }
      done += chunk;
    }
    return matches;
  }

  /** Reads a range as the NBD server does: zero runs from block status, data runs from the node. */
  public static byte[] readSparse(BlockNode node, long offset, int length)
      throws HostIoException {
    return readSparse(node, offset, length, new byte[length]);
  }

  /** As above, into the first length bytes of into (zero runs are zeroed); returns into. */
  public static byte[] readSparse(BlockNode node, long offset, int length, byte[] into)
      throws HostIoException {
    long done = 0;
    while (done < length) {
      BlockStatus status = BlockIo.blockStatusAbove(node, offset + done, length - done);
      int run = (int) Math.min(status.lengthBytes(), length - done);
      if (!status.zero()) {
        BlockIo.read(node, offset + done, into, (int) done, run);
      } else {
        Arrays.fill(into, (int) done, (int) done + run, (byte) 0);
      }
      done += run;
    }
    return into;
  }

  /** The digests of contents seen before, by a digest of their sparse form (see digest). */
  private static final Map<String, byte[]> DIGESTS = Collections.synchronizedMap(
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, byte[]> eldest) {
          return size() > 1024;
        }
      });

  private static final byte[] ZEROES = new byte[1 << 20];

  /**
   * Returns the SHA-256 of the node's guest-visible contents, read as {@link #readSparse} reads
   * them 1 MiB at a time (the same requests, in the same order). Hashing every zero of a large
   * mostly empty disk would cost its size, so the contents are first described sparsely (zero
   * runs by length, data runs by their bytes) and that description's own SHA-256 looks up the
   * digest of contents already hashed once; only new contents are hashed in full. The cache is a
   * pure function's memo, shared by cases running in parallel: it changes no result.
   */
  public static byte[] digest(BlockNode node) throws HostIoException {
    MessageDigest key = sha256();
    // Data runs as read, or as their length if every byte is zero (a raw or preallocated data
    // file reads as data): kept only for a full hash, and 16 MiB of zeroes kept alive across
    // a young collection was most of a crash sweep's GC pauses.
    List<Object> dataRuns = new ArrayList<>();
    List<Long> zeroRuns = new ArrayList<>(); // Per run: its length if zero, -1 if data.
    long length = node.length();
    byte[] lengthBytes = new byte[8];
    byte[] scratch = null; // Data runs are read here; only those not all zero are copied.
    for (long chunkStart = 0; chunkStart < length; chunkStart += 1 << 20) {
      int chunk = (int) Math.min(1 << 20, length - chunkStart);
      long done = 0;
      while (done < chunk) {
        BlockStatus status = BlockIo.blockStatusAbove(node, chunkStart + done, chunk - done);
        int run = (int) Math.min(status.lengthBytes(), chunk - done);
        if (status.zero()) {
          zeroRuns.add((long) run);
          describe(key, lengthBytes, null, 0, run);
        } else {
          if (scratch == null) {
            scratch = new byte[1 << 20];
          }
          BlockIo.read(node, chunkStart + done, scratch, 0, run);
          byte[] data = scratch[0] == 0 && allZero(scratch, run) ? null
              : Arrays.copyOf(scratch, run);
          dataRuns.add(data == null ? (Object) run : data);
          zeroRuns.add(-1L);
          describeData(key, lengthBytes, data == null ? scratch : data, run);
        }
        done += run;
      }
    }
    String sparse = HexFormat.of().formatHex(key.digest());
    byte[] known = DIGESTS.get(sparse);
    if (known != null) {
      return known.clone();
    }
    MessageDigest sha = sha256();
    int data = 0;
    for (long zero : zeroRuns) {
      if (zero < 0) {
        Object run = dataRuns.get(data++);
        if (run instanceof byte[] bytes) {
          sha.update(bytes);
          continue;
        }
        zero = (Integer) run; // A data run of zeroes: hashed as the zeroes it read.
      }
      for (long left = zero; left > 0; left -= ZEROES.length) {
        sha.update(ZEROES, 0, (int) Math.min(left, ZEROES.length));
      }
    }
    byte[] digest = sha.digest();
    DIGESTS.put(sparse, digest.clone());
    return digest;
  }

  /** Whether the first length bytes are zero (compared with {@link #ZEROES}, which the JDK vectorizes). */
  private static boolean allZero(byte[] data, int length) {
    for (int at = 0; at < length; at += ZEROES.length) {
      int end = Math.min(length, at + ZEROES.length);
      if (!Arrays.equals(data, at, end, ZEROES, 0, end - at)) {
        return false;
      }
    }
    return true;
  }

  /** The granule in which data runs are described as zero or not (see describeData). */
  private static final int DESCRIBE_BYTES = 4096;

  /**
   * Adds a data run (the first length bytes of data) to the sparse description: its zero 4 KiB pieces (a preallocated or raw data
   * file reads as data but is mostly zeroes) as zero runs, the rest by their bytes. The
   * description stays a function of the contents alone that determines them, so it keys the memo
   * as before; hashing the zeroes of a data run as well cost a fifth of a crash sweep.
   */
  private static void describeData(MessageDigest key, byte[] lengthBytes, byte[] data,
      int length) {
    int runStart = 0;
    boolean runZero = false;
    for (int at = 0; at < length; at += DESCRIBE_BYTES) {
      int end = Math.min(length, at + DESCRIBE_BYTES);
      boolean zero = Arrays.equals(data, at, end, ZEROES, 0, end - at);
      if (at > runStart && zero != runZero) {
        describe(key, lengthBytes, runZero ? null : data, runStart, at - runStart);
        runStart = at;
      }
      runZero = zero;
    }
    if (length > runStart) {
      describe(key, lengthBytes, runZero ? null : data, runStart, length - runStart);
    }
  }

  /** One run of the description: a tag (0 zero, 1 data), its length, its bytes if data. */
  private static void describe(MessageDigest key, byte[] lengthBytes, byte[] data, int from,
      int length) {
    key.update((byte) (data == null ? 0 : 1));
    for (int b = 0; b < 8; b++) {
      lengthBytes[b] = (byte) (length >>> (8 * b));
    }
    key.update(lengthBytes);
    if (data != null) {
      key.update(data, from, length);
    }
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
