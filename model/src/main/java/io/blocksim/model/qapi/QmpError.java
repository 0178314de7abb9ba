package io.blocksim.model.qapi;

/**
 * A QMP command failure as QEMU reports it: an error class (GenericError, DeviceNotFound,
 * DeviceNotActive, ...) and the human-readable desc, which must match QEMU 7.2 to the letter.
 */
public final class QmpError extends Exception {
  public static final String GENERIC = "GenericError";
  public static final String DEVICE_NOT_FOUND = "DeviceNotFound";
  public static final String DEVICE_NOT_ACTIVE = "DeviceNotActive";
  public static final String COMMAND_NOT_FOUND = "CommandNotFound";

  private final String errorClass;

  public QmpError(String errorClass, String desc) {
    super(desc);
    this.errorClass = errorClass;
  }

  /** Returns a GenericError with that text. */
  public static QmpError generic(String desc) {
    return new QmpError(GENERIC, desc);
  }

  public String errorClass() {
    return errorClass;
  }

  public String desc() {
    return getMessage();
  }
}
