package io.blocksim.sim.qemu;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.blocksim.model.qapi.QmpEvent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A QMP client over a UNIX socket: greeting, {@code qmp_capabilities}, commands and asynchronous
 * events. Values are plain Java (LinkedHashMap, ArrayList, Long, String, Boolean, null).
 *
 * <p>Fault model: the daemon may hang or die at any moment. Every read has a deadline, so a hung
 * daemon ends in a {@link QmpException} saying what was awaited, never in a hang; a closed
 * connection is reported as such, and the caller finds out from the process why it closed.
 *
 * <p>This talks to a real process, so it measures real time ({@link System#nanoTime()}); it is not
 * part of the deterministic simulator. It uses no threads: reads are non-blocking with a selector.
 */
public final class QmpClient implements AutoCloseable {
  private static final ObjectMapper MAPPER =
      new ObjectMapper().enable(DeserializationFeature.USE_LONG_FOR_INTS);
  private static final long CONNECT_RETRY_NS = 20_000_000L;

  private final SocketChannel channel;
  private final Selector selector;
  private final Consumer<QmpEvent> eventSink;
  private final long commandTimeoutNs;
  private final ByteBuffer readBuffer = ByteBuffer.allocate(1 << 16);
  private final ByteArrayOutputStream partialLine = new ByteArrayOutputStream();
  private final ArrayDeque<Map<String, Object>> pendingMessages = new ArrayDeque<>();
  private boolean closedByPeer;
  /** Every command carries an id, so a late reply to a timed-out command is recognised. */
  private long lastCommandId;
  private long eventsDelivered;

  /** A QMP transport failure: timeout, closed connection, or a message that is not QMP. */
  public static final class QmpException extends IOException {
    private final boolean connectionClosed;

    QmpException(String message, boolean connectionClosed) {
      super(message);
      this.connectionClosed = connectionClosed;
    }

    /** Returns whether the daemon closed the connection (it exited or crashed). */
    public boolean connectionClosed() {
      return connectionClosed;
    }
  }

  /**
   * Wraps a connected channel; call {@link #handshake()} next. Package-private so tests can hand
   * in a channel to a fake server.
   */
  QmpClient(SocketChannel channel, long commandTimeoutNs, Consumer<QmpEvent> eventSink)
      throws IOException {
    this.channel = channel;
    this.commandTimeoutNs = commandTimeoutNs;
    this.eventSink = eventSink;
    channel.configureBlocking(false);
    this.selector = Selector.open();
    channel.register(selector, SelectionKey.OP_READ);
  }

  /**
   * Connects to the socket (retrying while the daemon has not created it yet and {@code
   * stillStarting} says the daemon lives), reads the greeting and negotiates capabilities.
   */
  public static QmpClient connect(Path socket, long connectTimeoutNs, long commandTimeoutNs,
      BooleanSupplier stillStarting, Consumer<QmpEvent> eventSink)
      throws IOException {
    long deadline = System.nanoTime() + connectTimeoutNs; // determinism-ok: real QEMU
    UnixDomainSocketAddress address = UnixDomainSocketAddress.of(socket);
    while (true) {
      SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
      try {
        channel.connect(address);
        QmpClient client = new QmpClient(channel, commandTimeoutNs, eventSink);
        try {
          client.handshake();
        } catch (IOException e) {
          client.close();
          throw e;
        }
        return client;
      } catch (SocketException e) {
        channel.close();
        if (!stillStarting.getAsBoolean()) {
          throw new QmpException("daemon exited before its QMP socket accepted a connection",
              true);
        }
        if (System.nanoTime() - deadline > 0) { // determinism-ok: real QEMU
          throw new QmpException("QMP socket " + socket.getFileName() + " did not accept a"
              + " connection within " + connectTimeoutNs / 1_000_000 + " ms: " + e.getMessage(),
              false);
        }
        sleepNs(CONNECT_RETRY_NS);
      }
    }
  }

  /** Reads the greeting and sends {@code qmp_capabilities}. */
  void handshake() throws IOException {
    Map<String, Object> greeting =
        nextMessage(System.nanoTime() + commandTimeoutNs, "the greeting", false); // determinism-ok: real QEMU
    if (greeting == null) {
      throw new QmpException("no QMP greeting within " + commandTimeoutNs / 1_000_000 + " ms",
          false);
    }
    if (!greeting.containsKey("QMP")) {
      throw new QmpException("not a QMP greeting: " + greeting, false);
    }
    Map<String, Object> reply = execute("qmp_capabilities", Map.of());
    if (!reply.containsKey("return")) {
      throw new QmpException("qmp_capabilities refused: " + reply, false);
    }
  }

  /**
   * Executes a command and returns its reply, {@code {"return": ...}} or {@code {"error":
   * {...}}}. Events that arrive before the reply go to the event sink, in arrival order.
   */
  public Map<String, Object> execute(String command, Map<String, Object> args)
      throws IOException {
    long id = ++lastCommandId;
    Map<String, Object> request = new LinkedHashMap<>();
    request.put("execute", command);
    request.put("id", id);
    if (args != null && !args.isEmpty()) {
      request.put("arguments", args);
    }
    send(MAPPER.writeValueAsBytes(request));
    long deadline = System.nanoTime() + commandTimeoutNs; // determinism-ok: real QEMU
    while (true) {
      Map<String, Object> message = nextMessage(deadline, "the reply to '" + command + "'", false);
      if (message == null) {
        throw new QmpException("no reply to '" + command + "' within "
            + commandTimeoutNs / 1_000_000 + " ms (daemon hung?)", false);
      }
      if (message.containsKey("return") || message.containsKey("error")) {
        Object replyId = message.remove("id");
        if (replyId instanceof Number n && n.longValue() != id) {
          continue;  // The late reply to a command that timed out earlier.
        }
        return message;
      }
      throw new QmpException("unexpected QMP message: " + message, false);
    }
  }

  /**
   * Waits until at least one event has arrived or the time is up; returns whether one arrived.
   * Events go to the event sink.
   */
  public boolean awaitEvent(long timeoutNs) throws IOException {
    long deadline = System.nanoTime() + timeoutNs; // determinism-ok: real QEMU
    long deliveredBefore = eventsDelivered;
    while (true) {
      Map<String, Object> message = nextMessage(deadline, "an event", true);
      if (message == null) {
        return eventsDelivered > deliveredBefore;
      }
      if (!message.containsKey("return") && !message.containsKey("error")) {
        throw new QmpException("unexpected QMP message: " + message, false);
      }
      // Otherwise the late reply to a command that timed out: nobody waits for it any more.
    }
  }

  /** Delivers the events that have already arrived, without waiting. */
  public void pollEvents() throws IOException {
    awaitEvent(0);
  }

  /** Returns whether the daemon has closed the connection. */
  public boolean closedByPeer() {
    return closedByPeer;
  }

  @Override
  public void close() {
    try {
      selector.close();
    } catch (IOException ignored) {
      // Closing a selector of a dead connection has nothing left to report.
    }
    try {
      channel.close();
    } catch (IOException ignored) {
      // As above: the connection is gone either way.
    }
  }

  /**
   * Returns the next message that is not an event (events go to the sink on the way), or null if
   * the deadline passes first — or, for {@link #awaitEvent}, as soon as an event was delivered.
   */
  private Map<String, Object> nextMessage(long deadlineNs, String awaited,
      boolean returnAfterEvent) throws IOException {
    boolean deliveredEvent = false;
    while (true) {
      while (!pendingMessages.isEmpty()) {
        Map<String, Object> message = pendingMessages.removeFirst();
        if (message.containsKey("event")) {
          eventSink.accept(toEvent(message));
          eventsDelivered++;
          deliveredEvent = true;
        } else {
          return message;
        }
      }
      if (deliveredEvent && returnAfterEvent) {
        return null;
      }
      if (closedByPeer) {
        throw new QmpException("QMP connection closed while waiting for " + awaited, true);
      }
      long leftNs = deadlineNs - System.nanoTime(); // determinism-ok: real QEMU
      if (!readAvailable(Math.max(leftNs, 0)) && leftNs <= 0) {
        return null;
      }
    }
  }

  /** Reads what the socket has within the time given; returns whether anything was read. */
  private boolean readAvailable(long waitNs) throws IOException {
    long waitMs = waitNs <= 0 ? 0 : Math.max(1, waitNs / 1_000_000);
    int ready = waitMs == 0 ? selector.selectNow() : selector.select(waitMs);
    selector.selectedKeys().clear();
    if (ready == 0) {
      return false;
    }
    boolean any = false;
    while (true) {
      readBuffer.clear();
      int n;
      try {
        n = channel.read(readBuffer);
      } catch (IOException e) {
        // "Connection reset": the daemon died with unread input; same as an orderly close.
        closedByPeer = true;
        return true;
      }
      if (n < 0) {
        closedByPeer = true;
        return true;
      }
      if (n == 0) {
        return any;
      }
      any = true;
      splitLines(readBuffer.array(), n);
    }
  }

  private void splitLines(byte[] bytes, int length) throws QmpException {
    int start = 0;
    for (int i = 0; i < length; i++) {
      if (bytes[i] == '\n') {
        partialLine.write(bytes, start, i - start);
        parseLine(partialLine.toString(StandardCharsets.UTF_8));
        partialLine.reset();
        start = i + 1;
      }
    }
    partialLine.write(bytes, start, length - start);
  }

  @SuppressWarnings("unchecked")
  private void parseLine(String line) throws QmpException {
    if (line.isBlank()) {
      return;
    }
    try {
      pendingMessages.addLast(MAPPER.readValue(line, LinkedHashMap.class));
    } catch (JsonProcessingException e) {
      throw new QmpException("malformed QMP message: " + line, false);
    }
  }

  private void send(byte[] json) throws IOException {
    ByteBuffer out = ByteBuffer.allocate(json.length + 1);
    out.put(json).put((byte) '\n').flip();
    long deadline = System.nanoTime() + commandTimeoutNs; // determinism-ok: real QEMU
    while (out.hasRemaining()) {
      try {
        if (channel.write(out) == 0) {
          if (System.nanoTime() - deadline > 0) { // determinism-ok: real QEMU
            throw new QmpException("QMP socket not writable (daemon hung?)", false);
          }
          sleepNs(1_000_000L);
        }
      } catch (IOException e) {
        if (e instanceof QmpException) {
          throw e;
        }
        closedByPeer = true;
        throw new QmpException("QMP connection closed while sending: " + e.getMessage(), true);
      }
    }
  }

  @SuppressWarnings("unchecked")
  static QmpEvent toEvent(Map<String, Object> message) {
    Object data = message.get("data");
    Map<String, Object> dataMap =
        data instanceof Map<?, ?> m ? (Map<String, Object>) m : new LinkedHashMap<>();
    long timestampNs = 0;
    if (message.get("timestamp") instanceof Map<?, ?> stamp
        && stamp.get("seconds") instanceof Number seconds
        && stamp.get("microseconds") instanceof Number micros) {
      timestampNs = seconds.longValue() * 1_000_000_000L + micros.longValue() * 1_000L;
    }
    return new QmpEvent((String) message.get("event"), dataMap, timestampNs);
  }

  private static void sleepNs(long ns) {
    try {
      Thread.sleep(ns / 1_000_000L, (int) (ns % 1_000_000L));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
