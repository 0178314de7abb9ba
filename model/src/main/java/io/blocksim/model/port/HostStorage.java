package io.blocksim.model.port;

import java.util.List;

/** The host directory that holds a case's image files (relative paths only). */
public interface HostStorage {
  /** Opens an existing file, or throws with ENOENT. */
  HostFile open(String path) throws HostIoException;

  /** Creates (or truncates to zero) a file and opens it. */
  HostFile create(String path) throws HostIoException;

  /** Returns whether the file exists. */
  boolean exists(String path);

  /** Returns the names of all files, sorted. */
  List<String> list();

  /**
   * Records that QEMU wrote the backing name of the image at path from a node's file name
   * (absolute, as QEMU knows it) rather than from a user's string; null forgets it.
   */
  default void setBackingNameFromNode(String path, String name) {}

  /** Returns whether the image at path names its backing file with that name written by QEMU. */
  default boolean backingNameFromNode(String path, String name) {
    return false;
  }
}
