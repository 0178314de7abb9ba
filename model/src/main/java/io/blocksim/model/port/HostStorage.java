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
}
