package io.blocksim.sim.files;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes every output file (goldens, {@code --json}, {@code --junit}, reports, recordings) whole
 * or not at all: to a temporary file beside it, then renamed over it, so an interrupted run never
 * leaves a half-written or empty file, and a symbolic link at the name is replaced rather than
 * followed. The temporary file is deleted if the process ends before the rename.
 */
public final class OutputFiles {
  private OutputFiles() {}

  /** A file that could not be written: one line for the user, exit 2. */
  public static final class Unwritable extends IOException {
    public Unwritable(Path file, IOException cause) {
      super("cannot write " + file + ": " + reason(cause), cause);
    }
  }

  /** Writes the text (UTF-8) to the file, atomically; creates missing parent folders. */
  public static void write(Path file, String text) throws Unwritable {
    Path target = file.toAbsolutePath().normalize();
    Path tmp = null;
    try {
      Path dir = target.getParent();
      Files.createDirectories(dir);
      try (Cleanup.TempFile pending =
          Cleanup.createTempFile(dir, "." + target.getFileName() + ".", ".tmp")) {
        tmp = pending.path();
        // No CREATE: if the shutdown hook has deleted the file, writing fails instead of
        // leaving a new one behind.
        Files.write(tmp, text.getBytes(StandardCharsets.UTF_8), StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING);
        keepPermissions(tmp, target);
        try {
          Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE,
              StandardCopyOption.REPLACE_EXISTING);
        } catch (java.nio.file.AtomicMoveNotSupportedException e) {
          Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
      }
    } catch (IOException e) {
      deleteQuietly(tmp);
      throw new Unwritable(file, e);
    }
  }

  /**
   * Gives the new file the old one's permissions, or rw-r--r-- for a new file (a temporary file
   * starts as rw-------, which a golden file checked into git must not keep).
   */
  private static void keepPermissions(Path tmp, Path target) throws IOException {
    if (!tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      return;
    }
    java.util.Set<java.nio.file.attribute.PosixFilePermission> permissions =
        Files.exists(target) ? Files.getPosixFilePermissions(target)
            : java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--");
    Files.setPosixFilePermissions(tmp, permissions);
  }

  private static void deleteQuietly(Path file) {
    if (file == null) {
      return;
    }
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      // Nothing more to do.
    }
  }

  private static String reason(IOException e) {
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof NoSuchFileException) {
      return "no such file or directory";
    }
    if (e instanceof java.nio.file.FileAlreadyExistsException) {
      return "a file is in the way";
    }
    if (e instanceof FileSystemException fs && fs.getReason() != null) {
      return fs.getReason();
    }
    return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
  }
}
