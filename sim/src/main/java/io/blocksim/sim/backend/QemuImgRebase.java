package io.blocksim.sim.backend;

import io.blocksim.model.driver.qcow2.Qcow2Image;
import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import io.blocksim.model.port.HostStorage;
import io.blocksim.sim.port.Backend.ImgOutcome;
import io.blocksim.sim.port.StepException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code qemu-img rebase -u -b BACKING [-F FMT] FILE}: the unsafe rebase, which only rewrites the
 * backing file name (and format) in the qcow2 header; the safe rebase is not simulated.
 */
final class QemuImgRebase {
  private QemuImgRebase() {}

  static ImgOutcome run(HostStorage storage, List<String> words)
      throws StepException, HostIoException {
    boolean unsafe = false;
    String backing = null;
    String backingFormat = null;
    List<String> files = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      switch (w) {
        case "-u" -> unsafe = true;
        case "-b" -> backing = value(words, ++i, w);
        case "-F" -> backingFormat = value(words, ++i, w);
        case "-f" -> value(words, ++i, w);
        default -> files.add(w);
      }
    }
    if (!unsafe) {
      throw new StepException("img rebase: only the unsafe mode (-u) is simulated");
    }
    if (files.size() != 1) {
      throw new StepException("img rebase takes one image file");
    }
    if (backing != null && backing.isEmpty()) {
      backing = null;
    }
    if (backing != null && backingFormat == null) {
      backingFormat = Images.probeFormat(storage, backing);
    }
    HostFile file = storage.open(files.get(0));
    Qcow2Image image = Qcow2Image.open(file, false);
    image.changeBackingFile(backing, backing == null ? null : backingFormat);
    image.close();
    file.flush();
    return new ImgOutcome(List.of(), 0);
  }

  private static String value(List<String> words, int i, String option) throws StepException {
    if (i >= words.size()) {
      throw new StepException("img rebase: option " + option + " needs a value");
    }
    return words.get(i);
  }
}
