package io.blocksim.sim.disk;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.port.HostFile;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Goal: {@link FakeDisk#holds} says a file holds a kept content exactly when reads, allocation
 * and length agree, whichever page objects hold the bytes. Method: the same bytes written by
 * different requests (different pages), and files that differ in one byte, in a hole against
 * written zeroes, in an unwritten range against written zeroes, or in length only.
 */
class FileContentTest {
  private static byte[] bytes(int length, int seed) {
    byte[] data = new byte[length];
    for (int i = 0; i < length; i++) {
      data[i] = (byte) (i * 31 + seed);
    }
    return data;
  }

  @Test
  void theSameBytesWrittenByOtherRequestsAreTheSameContent() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile a = disk.create("a");
    a.write(0, bytes(3 * 4096, 1), 0, 3 * 4096);
    FileContent kept = disk.content("a");
    // Written again page by page and in halves: new pages, the same bytes.
    byte[] again = bytes(3 * 4096, 1);
    a.write(4096, again, 4096, 4096);
    a.write(0, again, 0, 2048);
    a.write(2048, again, 2048, 2048);

    assertThat(disk.holds("a", kept)).isTrue();
    assertThat(disk.content("a").sameAs(kept)).isTrue();
    assertThat(disk.holds("b", kept)).isFalse();
  }

  @Test
  void oneByteALengthOrHowZeroesAreStoredMakesAnotherContent() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile a = disk.create("a");
    a.write(0, bytes(8192, 2), 0, 8192);
    a.write(65536, new byte[4096], 0, 4096); // Written zeroes: an allocated page.
    FileContent kept = disk.content("a");

    a.write(100, new byte[] {(byte) (bytes(8192, 2)[100] + 1)}, 0, 1);
    assertThat(disk.holds("a", kept)).isFalse();
    a.write(100, bytes(8192, 2), 100, 1);
    assertThat(disk.holds("a", kept)).isTrue();

    a.discard(65536, 4096); // The same zeroes, now a hole.
    assertThat(disk.holds("a", kept)).isFalse();
    a.write(65536, new byte[4096], 0, 4096);
    assertThat(disk.holds("a", kept)).isTrue();

    a.writeZeroes(65536, 4096); // Zeroes again, allocated but unwritten.
    assertThat(disk.holds("a", kept)).isFalse();
    a.write(65536, new byte[4096], 0, 4096);
    assertThat(disk.holds("a", kept)).isTrue();

    a.truncate(65536 + 4096 + 512); // Longer, reading zeroes there.
    assertThat(disk.holds("a", kept)).isFalse();
    byte[] read = new byte[512];
    a.read(65536 + 4096, read, 0, 512);
    assertThat(read).isEqualTo(new byte[512]);
    assertThat(Arrays.equals(read, new byte[512])).isTrue();
  }

  @Test
  void aKeptContentDoesNotChangeWithTheFile() throws Exception {
    FakeDisk disk = new FakeDisk();
    HostFile a = disk.create("a");
    a.write(0, bytes(4096, 3), 0, 4096);
    FileContent kept = disk.content("a");
    a.write(0, bytes(4096, 4), 0, 4096);
    FileContent changed = disk.content("a");

    assertThat(changed.sameAs(kept)).isFalse();
    a.write(0, bytes(4096, 3), 0, 4096);
    assertThat(disk.holds("a", kept)).isTrue();
    assertThat(disk.holds("a", changed)).isFalse();
  }
}
