package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * A read-only consistency check of a qcow2 file, as {@code qemu-img check} (qcow2_check_refcounts)
 * does it: every reference from the header, the L1 and L2 tables, the refcount structures and the
 * persistent-bitmap extension is counted, and the counts are compared with the stored refcounts.
 * A stored refcount above the count is a leak (harmless); below it, or a broken table, is a
 * corruption. The COPIED flags are checked against the refcounts. Internal snapshots are not
 * followed (blocksim never writes them): an image that has any is reported as a check error.
 */
public final class Qcow2Check {
  private final HostFile file;
  private final Qcow2Header header;
  private final long clusterSize;
  private final List<String> messages = new ArrayList<>();
  private long[] counted = new long[0];
  private long corruptions;
  private long leaks;
  private long checkErrors;
  private long allocatedClusters;
  private long fragmentedClusters;
  private long compressedClusters;
  private long nextContiguousOffset;
  /** Set when a check with repair finds a cluster with a stored refcount of 0 in use. */
  private boolean rebuild;
  private long leaksFixed;
  /** The errno text the check failed with (collect_image_check's ret), or null. */
  private String failure;

  /**
   * Drops {@code by} references from one cluster, as compare_refcounts repairs a leak with
   * update_refcount(..., QCOW2_DISCARD_ALWAYS); returns false when it failed.
   */
  interface LeakRepair {
    boolean decrease(long clusterIndex, long by);
  }

  /** What the check found; messages are the stderr lines qemu-img prints, in its order. */
  public record Result(long corruptions, long leaks, long checkErrors, long totalClusters,
      long allocatedClusters, long fragmentedClusters, long compressedClusters,
      long imageEndOffset, List<String> messages, long leaksFixed, String failure) {
    public Result(long corruptions, long leaks, long checkErrors, long totalClusters,
        long allocatedClusters, long fragmentedClusters, long compressedClusters,
        long imageEndOffset, List<String> messages) {
      this(corruptions, leaks, checkErrors, totalClusters, allocatedClusters, fragmentedClusters,
          compressedClusters, imageEndOffset, messages, 0, null);
    }

    /** qemu-img check's exit code: 0 clean, 1 check errors, 2 corruptions, 3 leaks only. */
    public int exitCode() {
      if (checkErrors > 0 || failure != null) {
        return 1;
      }
      if (corruptions > 0) {
        return 2;
      }
      return leaks > 0 ? 3 : 0;
    }

    /** The human output of qemu-img check (dump_human_image_check), after the messages. */
    public List<String> summary() {
      List<String> out = new ArrayList<>();
      if (corruptions == 0 && leaks == 0 && checkErrors == 0) {
        out.add("No errors were found on the image.");
      } else {
        if (corruptions > 0) {
          out.add("");
          out.add(corruptions + " errors were found on the image.");
          out.add("Data may be corrupted, or further writes to the image may corrupt it.");
        }
        if (leaks > 0) {
          out.add("");
          out.add(leaks + " leaked clusters were found on the image.");
          out.add("This means waste of disk space, but no harm to data.");
        }
        if (checkErrors > 0) {
          out.add("");
          out.add(checkErrors + " internal errors have occurred during the check.");
        }
      }
      if (totalClusters != 0 && allocatedClusters != 0) {
        out.add(allocatedClusters + "/" + totalClusters + " = "
            + percent(allocatedClusters * 100.0 / totalClusters) + "% allocated, "
            + percent(fragmentedClusters * 100.0 / allocatedClusters) + "% fragmented, "
            + percent(compressedClusters * 100.0 / allocatedClusters) + "% compressed clusters");
      }
      if (imageEndOffset != 0) {
        out.add("Image end offset: " + imageEndOffset);
      }
      return out;
    }
  }

  /**
   * printf's "%0.2f" as glibc rounds it: the exact binary value, ties to even (2/64 = 3.125 prints
   * 3.12), where Java's formatter rounds ties up.
   */
  static String percent(double value) {
    return new java.math.BigDecimal(value).setScale(2, java.math.RoundingMode.HALF_EVEN)
        .toPlainString();
  }

  private Qcow2Check(HostFile file, Qcow2Header header) {
    this.file = file;
    this.header = header;
    this.clusterSize = header.clusterSize();
  }

  /** Checks the qcow2 image in file. Throws only when the header itself cannot be read. */
  public static Result check(HostFile file) throws HostIoException {
    return check(file, null);
  }

  /**
   * Checks, and with {@code repair} given repairs the leaks as {@code qemu-img check -r leaks}
   * does (qcow2_check_refcounts with BDRV_FIX_LEAKS): the comparison runs once reporting
   * ("Leaked cluster ..."), then, if anything differs, once more repairing ("Repairing cluster
   * ..."). A cluster in use with a stored refcount of 0 needs the refcount structure rebuilt,
   * which only BDRV_FIX_ERRORS does: the check fails with EIO.
   */
  static Result check(HostFile file, LeakRepair repair) throws HostIoException {
    Qcow2Header h = Qcow2Open.readHeader(file, true);
    return new Qcow2Check(file, h).run(repair);
  }

  private Result run(LeakRepair repair) throws HostIoException {
    long fileClusters = ceilDiv(file.length(), clusterSize);
    count(0, clusterSize);
    if (header.nbSnapshots != 0) {
      messages.add("blocksim: internal snapshots are not checked");
      checkErrors++;
    }
    long[] l1 = countL1();
    count(header.refcountTableOffset, (long) header.refcountTableClusters * clusterSize);
    countBitmaps();
    long[] reftable = readTable(header.refcountTableOffset,
        (long) header.refcountTableClusters * clusterSize / 8);
    for (int i = 0; i < reftable.length; i++) {
      long offset = reftable[i] & Qcow2Refcounts.REFT_OFFSET_MASK;
      if (offset == 0) {
        continue;
      }
      if ((offset & (clusterSize - 1)) != 0) {
        messages.add("ERROR refcount block " + i + " is not cluster aligned; refcount table "
            + "entry corrupted");
        corruptions++;
        continue;
      }
      if (offset / clusterSize >= fileClusters) {
        messages.add(String.format(Locale.ROOT,
            "ERROR refcount block %d is outside image", i));
        corruptions++;
        continue;
      }
      count(offset, clusterSize);
    }
    long preCorruptions = corruptions;
    long preLeaks = leaks;
    long highest = compare(reftable, fileClusters, null);
    long totalClusters = ceilDiv(header.size, clusterSize);
    if (repair != null) {
      if (rebuild) {
        messages.add("ERROR need to rebuild refcount structures");
        checkErrors++;
        failure = "Input/output error";
        return result(totalClusters, 0);
      }
      if (leaks > 0 || corruptions > 0) {
        corruptions = preCorruptions;
        leaks = preLeaks;
        highest = compare(reftable, fileClusters, repair);
      }
    }
    checkCopiedFlags(l1, reftable);
    return result(totalClusters, (highest + 1) * clusterSize);
  }

  private Result result(long totalClusters, long end) {
    return new Result(corruptions, leaks, checkErrors, totalClusters, allocatedClusters,
        fragmentedClusters, compressedClusters, end, List.copyOf(messages), leaksFixed,
        failure);
  }

  private long[] countL1() throws HostIoException {
    long l1Bytes = 8L * header.l1Size;
    count(header.l1TableOffset, l1Bytes);
    long[] l1 = readTable(header.l1TableOffset, header.l1Size);
    for (int i = 0; i < l1.length; i++) {
      long l2Offset = l1[i] & Qcow2Image.L1E_OFFSET_MASK;
      if (l2Offset == 0) {
        continue;
      }
      count(l2Offset, clusterSize);
      if ((l2Offset & (clusterSize - 1)) != 0) {
        messages.add(String.format(Locale.ROOT, "ERROR l2_offset=%x: Table is not cluster "
            + "aligned; L1 entry corrupted", l2Offset));
        corruptions++;
        continue;
      }
      countL2(readTable(l2Offset, clusterSize / 8));
    }
    return l1;
  }

  private void countL2(long[] l2) {
    for (long entry : l2) {
      if ((entry & Qcow2Image.OFLAG_COMPRESSED) != 0) {
        int csizeShift = 62 - (header.clusterBits - 8);
        long offsetMask = (1L << csizeShift) - 1;
        long sectors = ((entry >>> csizeShift) & ((1L << (header.clusterBits - 8)) - 1)) + 1;
        long coffset = entry & offsetMask;
        long end = (coffset & ~511L) + sectors * 512;
        count(coffset & ~(clusterSize - 1), end - (coffset & ~(clusterSize - 1)));
        allocatedClusters++;
        compressedClusters++;
        nextContiguousOffset = 0;
        continue;
      }
      long offset = entry & Qcow2Image.L2E_OFFSET_MASK;
      if (offset == 0 && !isDataAtZero(entry)) {
        continue;
      }
      if ((entry & 0x3fe0000000000000L & ~Qcow2Image.OFLAG_COPIED & ~Qcow2Image.OFLAG_COMPRESSED)
          != 0) {
        messages.add(String.format(Locale.ROOT,
            "ERROR found l2 entry with reserved bits set: %x", entry));
        corruptions++;
      }
      allocatedClusters++;
      if (nextContiguousOffset != 0 && offset != nextContiguousOffset) {
        fragmentedClusters++;
      }
      nextContiguousOffset = offset + clusterSize;
      if ((offset & (clusterSize - 1)) != 0) {
        messages.add(String.format(Locale.ROOT,
            "ERROR offset=%x: Cluster is not properly aligned; L2 entry corrupted", offset));
        corruptions++;
        continue;
      }
      if (!header.hasDataFile()) {
        // Clusters in an external data file are not refcounted.
        count(offset, clusterSize);
      }
    }
  }

  /** With a data file, offset 0 with COPIED is a normal cluster (qcow2_get_cluster_type). */
  private boolean isDataAtZero(long entry) {
    return header.hasDataFile() && (entry & Qcow2Image.OFLAG_COPIED) != 0
        && (entry & Qcow2Image.OFLAG_ZERO) == 0;
  }

  /** qcow2_check_bitmaps_refcounts: the directory, each table, each data cluster. */
  private void countBitmaps() throws HostIoException {
    if (header.nbBitmaps == 0) {
      return;
    }
    count(header.bitmapDirectoryOffset, header.bitmapDirectorySize);
    List<Qcow2Bitmaps.Entry> list;
    try {
      list = loadDirectory();
    } catch (HostIoException e) {
      messages.add("ERROR bitmap directory: " + e.getMessage());
      corruptions++;
      return;
    }
    for (Qcow2Bitmaps.Entry e : list) {
      count(e.tableOffset, e.tableSize * 8L);
      long[] table = readTable(e.tableOffset, e.tableSize);
      for (long entry : table) {
        if (!Qcow2Bitmaps.tableEntryValid(entry, clusterSize)) {
          corruptions++;
          continue;
        }
        long offset = entry & Qcow2Bitmaps.TABLE_ENTRY_OFFSET_MASK;
        if (offset != 0) {
          count(offset, clusterSize);
        }
      }
    }
  }

  /** The directory without the constraints that need the disk length (tables checked here). */
  private List<Qcow2Bitmaps.Entry> loadDirectory() throws HostIoException {
    return Qcow2Bitmaps.parseDirectory(file, header, header.size);
  }

  /** compare_refcounts; with {@code repair}, leaks are repaired (BDRV_FIX_LEAKS). */
  private long compare(long[] reftable, long fileClusters, LeakRepair repair)
      throws HostIoException {
    int entriesPerBlock = (int) (clusterSize * 8 >> header.refcountOrder);
    long highest = 0;
    long limit = Math.max(fileClusters, counted.length);
    byte[] block = new byte[(int) clusterSize];
    long loadedBlock = -1;
    for (long i = 0; i < limit; i++) {
      long blockIndex = i / entriesPerBlock;
      long stored = 0;
      if (blockIndex < reftable.length) {
        long offset = reftable[(int) blockIndex] & Qcow2Refcounts.REFT_OFFSET_MASK;
        if (offset != 0 && (offset & (clusterSize - 1)) == 0 && offset < file.length()) {
          if (loadedBlock != offset) {
            Arrays.fill(block, (byte) 0);
            file.read(offset, block, 0, (int) Math.min(clusterSize, file.length() - offset));
            loadedBlock = offset;
          }
          stored = refcount(block, (int) (i % entriesPerBlock));
        }
      }
      long expected = i < counted.length ? counted[(int) i] : 0;
      if (i >= fileClusters) {
        if (expected > 0) {
          if (repair == null) {
            // Counted again, not printed again, when the repairing pass follows.
            messages.add("ERROR cluster " + i + " is referenced but lies beyond the end of the "
                + "file");
          }
          corruptions++;
        }
        continue;
      }
      if (stored > 0 || expected > 0) {
        highest = i;
      }
      if (stored != expected) {
        if (stored == 0) {
          rebuild = true;
        }
        boolean fixing = repair != null && stored > expected;
        messages.add((fixing ? "Repairing" : stored < expected ? "ERROR" : "Leaked")
            + " cluster " + i + " refcount=" + stored + " reference=" + expected);
        if (fixing && repair.decrease(i, stored - expected)) {
          leaksFixed++;
          continue;
        }
        if (stored < expected) {
          corruptions++;
        } else {
          leaks++;
        }
      }
    }
    return highest;
  }

  private long refcount(byte[] block, int index) {
    int bits = 1 << header.refcountOrder;
    if (bits >= 8) {
      int bytes = bits / 8;
      long v = 0;
      for (int k = 0; k < bytes; k++) {
        v = (v << 8) | (block[index * bytes + k] & 0xff);
      }
      return v;
    }
    int bitOffset = index * bits;
    int b = block[bitOffset / 8] & 0xff;
    return (b >> (bitOffset % 8)) & ((1 << bits) - 1);
  }

  /** check_oflag_copied: COPIED must be set exactly where the refcount is 1. */
  private void checkCopiedFlags(long[] l1, long[] reftable) throws HostIoException {
    lastBlockOffset = -1; // Repairs, which write refcounts, are done by now.
    for (int i = 0; i < l1.length; i++) {
      long l2Offset = l1[i] & Qcow2Image.L1E_OFFSET_MASK;
      if (l2Offset == 0 || (l2Offset & (clusterSize - 1)) != 0) {
        continue;
      }
      long refcount = storedRefcount(reftable, l2Offset / clusterSize);
      if ((refcount == 1) != ((l1[i] & Qcow2Image.OFLAG_COPIED) != 0)) {
        messages.add(String.format(Locale.ROOT,
            "ERROR OFLAG_COPIED L2 cluster: l1_index=%d l1_entry=%x refcount=%d", i, l1[i],
            refcount));
        corruptions++;
      }
      for (long entry : readTable(l2Offset, clusterSize / 8)) {
        long offset = entry & Qcow2Image.L2E_OFFSET_MASK;
        if ((entry & Qcow2Image.OFLAG_COMPRESSED) != 0 || (offset == 0 && !isDataAtZero(entry))
            || (offset & (clusterSize - 1)) != 0) {
          continue;
        }
        long rc = header.hasDataFile() ? 1 : storedRefcount(reftable, offset / clusterSize);
        if ((rc == 1) != ((entry & Qcow2Image.OFLAG_COPIED) != 0)) {
          messages.add(String.format(Locale.ROOT,
              "ERROR OFLAG_COPIED data cluster: l2_entry=%x refcount=%d", entry, rc));
          corruptions++;
        }
      }
    }
  }

  private long storedRefcount(long[] reftable, long clusterIndex) throws HostIoException {
    int entriesPerBlock = (int) (clusterSize * 8 >> header.refcountOrder);
    long blockIndex = clusterIndex / entriesPerBlock;
    if (blockIndex >= reftable.length) {
      return 0;
    }
    long offset = reftable[(int) blockIndex] & Qcow2Refcounts.REFT_OFFSET_MASK;
    if (offset == 0 || offset >= file.length()) {
      return 0;
    }
    if (offset != lastBlockOffset) {
      if (lastBlock == null) {
        lastBlock = new byte[(int) clusterSize];
      }
      Arrays.fill(lastBlock, (byte) 0);
      file.read(offset, lastBlock, 0, (int) Math.min(clusterSize, file.length() - offset));
      lastBlockOffset = offset;
    }
    return refcount(lastBlock, (int) (clusterIndex % entriesPerBlock));
  }

  /**
   * The refcount block read last by storedRefcount and its offset (-1: none), as QEMU's
   * qcow2_get_refcount finds it in the refcount block cache: check_oflag_copied asks for the
   * refcount of every data cluster, and a read of the whole block for each was a third of a
   * crash sweep. Nothing writes the file while it is kept.
   */
  private long lastBlockOffset = -1;
  private byte[] lastBlock;

  private void count(long offset, long length) {
    if (length <= 0) {
      return;
    }
    long first = offset / clusterSize;
    long last = (offset + length - 1) / clusterSize;
    if (last >= counted.length) {
      counted = Arrays.copyOf(counted, (int) Math.max(last + 1, counted.length * 2L));
    }
    for (long c = first; c <= last; c++) {
      counted[(int) c]++;
    }
  }

  /** Reads a table of big-endian u64 entries; the part beyond the end of the file reads 0. */
  private long[] readTable(long offset, long entries) throws HostIoException {
    long[] table = new long[(int) entries];
    int length = (int) entries * 8;
    if (raw == null || raw.length < length) {
      raw = new byte[length];
    }
    int readable = (int) Math.max(0, Math.min(length, file.length() - offset));
    if (readable > 0) {
      file.read(offset, raw, 0, readable);
    }
    Arrays.fill(raw, readable, length, (byte) 0);
    Bytes.getLongs(raw, table, table.length);
    return table;
  }

  /** readTable's buffer, kept for the next table (a check reads each L2 table twice). */
  private byte[] raw;

  private static long ceilDiv(long a, long b) {
    return (a + b - 1) / b;
  }
}
