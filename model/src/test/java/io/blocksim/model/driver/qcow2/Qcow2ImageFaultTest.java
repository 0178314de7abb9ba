package io.blocksim.model.driver.qcow2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Goal: a failed host request (as blkdebug injects them) fails one guest request and leaves an
 * image that stays usable and consistent. Method: fail the k-th host request of a random
 * workload with EIO, for many k; the failing guest request must report EIO, every later one
 * must succeed, and after flush and close real qemu-img check must find no corruption (leaked
 * clusters are allowed, as QEMU leaks them too).
 */
class Qcow2ImageFaultTest {
  static final int SIZE = 4 << 20;

  @TempDir Path dir;

  @BeforeAll
  static void needQemu() {
    assumeTrue(QemuTools.available(), "qemu-img / qemu-io not installed");
  }

  /** Fails the request with the given ordinal (counting from 1) once. */
  static final class FaultyHostFile implements HostFile {
    final HostFile inner;
    long failAt;
    long count;

    FaultyHostFile(HostFile inner) {
      this.inner = inner;
    }

    private void maybeFail() throws HostIoException {
      if (++count == failAt) {
        throw new HostIoException(HostIoException.EIO, "injected");
      }
    }

    @Override
    public long length() {
      return inner.length();
    }

    @Override
    public void read(long offset, byte[] dst, int dstOffset, int length)
        throws HostIoException {
      maybeFail();
      inner.read(offset, dst, dstOffset, length);
    }

    @Override
    public void write(long offset, byte[] src, int srcOffset, int length)
        throws HostIoException {
      maybeFail();
      inner.write(offset, src, srcOffset, length);
    }

    @Override
    public void writeZeroes(long offset, long length) throws HostIoException {
      maybeFail();
      inner.writeZeroes(offset, length);
    }

    @Override
    public void discard(long offset, long length) throws HostIoException {
      maybeFail();
      inner.discard(offset, length);
    }

    @Override
    public void truncate(long length) throws HostIoException {
      inner.truncate(length);
    }

    @Override
    public void flush() throws HostIoException {
      maybeFail();
      inner.flush();
    }

    @Override
    public long allocationRun(long offset, long maxLength) {
      return inner.allocationRun(offset, maxLength);
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {512, 4096, 65536})
  void aFailedHostRequestFailsOneGuestRequestAndCorruptsNothing(long clusterSize)
      throws Exception {
    SplittableRandom r = new SplittableRandom(clusterSize * 31);
    for (int round = 0; round < 12; round++) {
      List<GuestOp> ops = Qcow2ImageQemuTest.randomOps(r, SIZE, 30);
      MemoryHostFile memory = new MemoryHostFile();
      Qcow2Image.create(memory, SIZE, Qcow2CreateOptions.defaults().withClusterSize(clusterSize));
      FaultyHostFile file = new FaultyHostFile(memory);
      Qcow2Image image = Qcow2Image.open(file, false);
      file.count = 0;
      file.failAt = 1 + r.nextInt(120);
      int failures = 0;
      for (GuestOp op : ops) {
        try {
          op.applyTo(image);
        } catch (HostIoException e) {
          assertThat(e.errno()).isEqualTo(HostIoException.EIO);
          failures++;
        }
      }
      try {
        image.flush();
      } catch (HostIoException e) {
        failures++;
        image.flush();
      }
      // Some failures are swallowed as in QEMU (freeing clusters, discards, the metadata
      // preallocation probe), so a fired fault may fail no request, but never two.
      assertThat(failures).isLessThanOrEqualTo(1);
      file.failAt = 0;
      byte[] all = new byte[SIZE];
      image.read(0, all, 0, SIZE);
      image.close();
      Path path = dir.resolve("fault.qcow2");
      memory.saveTo(path);
      QemuTools.Result check = QemuTools.check(path);
      assertThat(check.exitCode()).as("qemu-img check (fail at %d of %d): %s", file.failAt,
          file.count, check.output()).isIn(0, 3);
    }
  }
}
