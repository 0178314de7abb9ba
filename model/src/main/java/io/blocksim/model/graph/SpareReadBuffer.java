package io.blocksim.model.graph;

import io.blocksim.model.port.HostIoException;

/**
 * The buffer of a job's read whose data is handed on only when the read succeeds. A failed read
 * leaves it as the spare for the next read of the same length, so a job that retries a failing
 * read (on-source-error ignore) costs no allocation per attempt; a successful read gives its buffer
 * away, since the write that follows may keep it. Reads fill every byte of their range (holes
 * included), so a spare's old contents never show.
 */
public final class SpareReadBuffer {
  private byte[] spare;

  /** BlockIo.read into a fresh or spare buffer that the caller then owns. */
  public byte[] read(BlockNode node, long offset, int length) throws HostIoException {
    byte[] buf = spare != null && spare.length == length ? spare : new byte[length];
    spare = null;
    try {
      BlockIo.read(node, offset, buf, 0, length);
    } catch (HostIoException e) {
      spare = buf;
      throw e;
    }
    return buf;
  }
}
