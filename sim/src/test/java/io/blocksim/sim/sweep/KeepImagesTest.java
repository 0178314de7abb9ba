package io.blocksim.sim.sweep;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.driver.qcow2.Qcow2Check;
import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.sim.disk.FakeDisk;
import io.blocksim.sim.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: {@code blocksim run --keep-images DIR} leaves each case's image files as the final quit
 * left them. Method: run a scenario that ends with its node open and a persistent bitmap
 * dirtied; the kept image must hold that bitmap stored (not in use), pass the check, and import
 * back byte for byte.
 */
class KeepImagesTest {
  @TempDir Path temp;

  @Test
  void keptImagesHoldTheBitmapsTheQuitStored() throws Exception {
    Path kept = temp.resolve("kept");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = Main.execute(new String[] {"run", "--keep-images", kept.toString(),
        Path.of("..", "scenarios", "persistence", "sweep-store-reopen.yaml").toString()},
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertThat(code).as(out.toString(StandardCharsets.UTF_8)).isZero();

    Path image = kept.resolve("sweep-store-reopen").resolve("img.qcow2");
    assertThat(image).exists();
    FakeDisk disk = new FakeDisk();
    disk.importFrom(image, "img.qcow2");
    Qcow2Image opened = Qcow2Image.open(disk.open("img.qcow2"), true);
    assertThat(opened.bitmapDirectory()).extracting(Qcow2Image.BitmapEntry::name,
        Qcow2Image.BitmapEntry::flags).containsExactly(
            // The first store appended them in the node's order, newest (frozen) first.
            org.assertj.core.groups.Tuple.tuple("frozen", 0),
            org.assertj.core.groups.Tuple.tuple("inc", Qcow2Image.BitmapEntry.AUTO));
    assertThat(Qcow2Check.check(disk.open("img.qcow2")).exitCode()).isZero();
    Path again = temp.resolve("again");
    Files.createDirectories(again);
    disk.exportTo(again);
    assertThat(Files.readAllBytes(again.resolve("img.qcow2")))
        .isEqualTo(Files.readAllBytes(image));
  }
}
