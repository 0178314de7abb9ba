package io.blocksim.model.driver.qcow2;

import io.blocksim.model.port.HostFile;
import io.blocksim.model.port.HostIoException;
import java.util.ArrayList;
import java.util.List;

/**
 * Wraps a host file and records each request as one line ("read OFFSET BYTES", "write ...",
 * "zero ...", "discard ...", "flush"), interleaved with the qcow2 events raised before them
 * ("event NAME"), the way a blkdebug node under the image would see them.
 */
final class RecordingHostFile implements HostFile, Qcow2Events {
  private final HostFile inner;
  final List<String> lines = new ArrayList<>();
  boolean recording;

  RecordingHostFile(HostFile inner) {
    this.inner = inner;
  }

  private void record(String line) {
    if (recording) {
      lines.add(line);
    }
  }

  /** Returns the recorded host requests without events and flushes. */
  List<String> requests() {
    // "op" lines are markers a test inserts between guest requests.
    return lines.stream().filter(l -> !l.startsWith("event ") && !l.equals("flush")
        && !l.startsWith("discard")).toList();
  }

  @Override
  public void event(String name) {
    record("event " + name);
  }

  @Override
  public long length() {
    return inner.length();
  }

  @Override
  public void read(long offset, byte[] dst, int dstOffset, int length) throws HostIoException {
    record("read " + offset + " " + length);
    inner.read(offset, dst, dstOffset, length);
  }

  @Override
  public void write(long offset, byte[] src, int srcOffset, int length) throws HostIoException {
    record("write " + offset + " " + length);
    inner.write(offset, src, srcOffset, length);
  }

  @Override
  public void writeZeroes(long offset, long length) throws HostIoException {
    record("zero " + offset + " " + length);
    inner.writeZeroes(offset, length);
  }

  @Override
  public void discard(long offset, long length) throws HostIoException {
    record("discard " + offset + " " + length);
    inner.discard(offset, length);
  }

  @Override
  public void truncate(long length) throws HostIoException {
    record("truncate " + length);
    inner.truncate(length);
  }

  @Override
  public void flush() throws HostIoException {
    record("flush");
    inner.flush();
  }

  @Override
  public long allocationRun(long offset, long maxLength) {
    return inner.allocationRun(offset, maxLength);
  }
}
