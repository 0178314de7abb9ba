package io.blocksim.model.port;

/** A failed host I/O request, carrying a POSIX errno (positive, e.g. 5 for EIO). */
public final class HostIoException extends Exception {
  public static final int EPERM = 1;
  public static final int ENOENT = 2;
  public static final int EIO = 5;
  public static final int EACCES = 13;
  public static final int EBUSY = 16;
  public static final int EINVAL = 22;
  public static final int EFBIG = 27;
  public static final int ENOSPC = 28;
  public static final int EROFS = 30;
  public static final int ENOTSUP = 95;
  public static final int ECANCELED = 125;

  private final int errno;

  public HostIoException(int errno, String message) {
    super(message);
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }

  /** Returns strerror(errno) as glibc spells it, which is what QEMU puts into error texts. */
  public static String strerror(int errno) {
    switch (errno) {
      case EPERM: return "Operation not permitted";
      case ENOENT: return "No such file or directory";
      case EIO: return "Input/output error";
      case EBUSY: return "Device or resource busy";
      case EINVAL: return "Invalid argument";
      case EFBIG: return "File too large";
      case ENOSPC: return "No space left on device";
      case EROFS: return "Read-only file system";
      case ENOTSUP: return "Operation not supported";
      case ECANCELED: return "Operation canceled";
      case 12: return "Cannot allocate memory";
      case EACCES: return "Permission denied";
      case 11: return "Resource temporarily unavailable";
      case 6: return "No such device or address";
      case 19: return "No such device";
      case 39: return "Directory not empty";
      case 110: return "Connection timed out";
      default: return "Unknown error " + errno;
    }
  }
}
