package io.blocksim.sim.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.blocksim.model.qapi.QmpEvent;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * QmpClient against a fake QMP server on a UNIX socket, driven from the test's own thread: the
 * server's messages are written into the socket before the client reads them (a connected UNIX
 * socket buffers them), so no second thread is needed. Goal: framing, value types, event order,
 * and that a silent or vanished server ends in an exception rather than a hang.
 */
class QmpClientTest {
  private static final long SHORT_TIMEOUT_NS = 300_000_000L;
  private static final String GREETING =
      "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}},"
      + " \"capabilities\": [\"oob\"]}}\r\n";

  private Path dir;
  private ServerSocketChannel server;
  private SocketChannel clientSide;
  private SocketChannel serverSide;
  private final List<QmpEvent> events = new ArrayList<>();

  @BeforeEach
  void listen() throws IOException {
    dir = Files.createTempDirectory("qmp-test");
    UnixDomainSocketAddress address = UnixDomainSocketAddress.of(dir.resolve("s"));
    server = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(address);
    clientSide = SocketChannel.open(address);
    serverSide = server.accept();
  }

  @AfterEach
  void cleanUp() throws IOException {
    clientSide.close();
    serverSide.close();
    server.close();
    Files.deleteIfExists(dir.resolve("s"));
    Files.deleteIfExists(dir);
  }

  @Test
  void repliesAreMapsWithLongsAndEventsArriveInOrder() throws IOException {
    serve(GREETING, "{\"return\": {}}\r\n",
        "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 250},"
            + " \"event\": \"JOB_STATUS_CHANGE\","
            + " \"data\": {\"status\": \"created\", \"id\": \"j\"}}"
            + "\r\n{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 251},"
            + " \"event\": \"JOB_STATUS_CHANGE\","
            + " \"data\": {\"status\": \"running\", \"id\": \"j\"}}"
            + "\r\n{\"return\": [{\"count\": 327680, \"busy\": false, \"name\": null}]}\r\n");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);
    client.handshake();

    Map<String, Object> reply = client.execute("query-x", Map.of());

    assertThat(reply).containsOnlyKeys("return");
    List<?> list = (List<?>) reply.get("return");
    Map<?, ?> item = (Map<?, ?>) list.get(0);
    assertThat(item.get("count")).isEqualTo(327680L);
    assertThat(item.get("busy")).isEqualTo(Boolean.FALSE);
    assertThat(item.containsKey("name")).isTrue();
    assertThat(item.get("name")).isNull();
    assertThat(events).extracting(e -> e.data().get("status")).containsExactly("created",
        "running");
    assertThat(events.get(0).timestampNs()).isEqualTo(1_700_000_000_000_250_000L);
    assertThat(sentByClient()).contains("{\"execute\":\"qmp_capabilities\",\"id\":1}\n")
        .contains("{\"execute\":\"query-x\",\"id\":2}\n");
  }

  @Test
  void messagesSplitAcrossReadsAreReassembled() throws IOException {
    serve(GREETING, "{\"return\": {}}\r\n{\"ret");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);
    client.handshake();
    assertThat(client.awaitEvent(50_000_000L)).isFalse();
    serve("urn\": {\"a\": \"b\"}}\r\n");

    assertThat(client.execute("x", Map.of("k", 1L))).isEqualTo(Map.of("return", Map.of("a", "b")));
    assertThat(sentByClient())
        .contains("{\"execute\":\"x\",\"id\":2,\"arguments\":{\"k\":1}}\n");
  }

  @Test
  void errorRepliesComeBackAsReplies() throws IOException {
    serve(GREETING, "{\"return\": {}}\r\n",
        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Job not found\"}}\r\n");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);
    client.handshake();

    assertThat(client.execute("job-cancel", Map.of("id", "nope")))
        .isEqualTo(Map.of("error", Map.of("class", "GenericError", "desc", "Job not found")));
  }

  @Test
  void aSilentServerTimesOutInsteadOfHanging() throws IOException {
    serve(GREETING, "{\"return\": {}}\r\n");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);
    client.handshake();
    long start = System.nanoTime();

    assertThatThrownBy(() -> client.execute("query-jobs", null))
        .isInstanceOf(QmpClient.QmpException.class)
        .hasMessageContaining("no reply to 'query-jobs'")
        .hasMessageContaining("hung");
    assertThat(System.nanoTime() - start).isLessThan(5_000_000_000L);
  }

  @Test
  void aLateReplyToATimedOutCommandIsNotTakenForTheNextReply() throws IOException {
    serve(GREETING, "{\"return\": {}, \"id\": 1}\r\n");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);
    client.handshake();
    assertThatThrownBy(() -> client.execute("slow", null)).hasMessageContaining("no reply");
    serve("{\"return\": \"slow\", \"id\": 2}\r\n{\"return\": \"fast\", \"id\": 3}\r\n");

    assertThat(client.execute("fast", null)).isEqualTo(Map.of("return", "fast"));
  }

  @Test
  void waitingForEventsSkipsLateRepliesAndSaysWhetherAnEventCame() throws IOException {
    serve(GREETING, "{\"return\": {}, \"id\": 1}\r\n");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);
    client.handshake();
    assertThatThrownBy(() -> client.execute("slow", null)).hasMessageContaining("no reply");
    serve("{\"return\": \"slow\", \"id\": 2}\r\n");
    assertThat(client.awaitEvent(50_000_000L)).isFalse();
    serve("{\"event\": \"X\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n");

    assertThat(client.awaitEvent(SHORT_TIMEOUT_NS)).isTrue();
    assertThat(events).singleElement().satisfies(e -> {
      assertThat(e.event()).isEqualTo("X");
      assertThat(e.data()).isEmpty();
      assertThat(e.timestampNs()).isEqualTo(1_000_002_000L);
    });
  }

  @Test
  void aClosedConnectionIsReportedAsClosed() throws IOException {
    serve(GREETING, "{\"return\": {}}\r\n");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);
    client.handshake();
    serverSide.close();

    assertThatThrownBy(() -> client.execute("query-jobs", null))
        .isInstanceOfSatisfying(QmpClient.QmpException.class,
            e -> assertThat(e.connectionClosed()).isTrue());
    assertThat(client.closedByPeer()).isTrue();
  }

  @Test
  void aServerThatIsNotQmpIsRefused() throws IOException {
    serve("{\"hello\": 1}\r\n");
    QmpClient client = new QmpClient(clientSide, SHORT_TIMEOUT_NS, events::add);

    assertThatThrownBy(client::handshake).hasMessageContaining("not a QMP greeting");
  }

  @Test
  void connectGivesUpWhenTheDaemonHasExited() {
    Path missing = dir.resolve("never-created.sock");

    assertThatThrownBy(() -> QmpClient.connect(missing, 5_000_000_000L, SHORT_TIMEOUT_NS,
        () -> false, events::add)).hasMessageContaining("daemon exited");
  }

  private void serve(String... messages) throws IOException {
    for (String message : messages) {
      ByteBuffer bytes = ByteBuffer.wrap(message.getBytes(StandardCharsets.UTF_8));
      while (bytes.hasRemaining()) {
        serverSide.write(bytes);
      }
    }
  }

  private String sentByClient() throws IOException {
    serverSide.configureBlocking(false);
    ByteBuffer buffer = ByteBuffer.allocate(1 << 16);
    serverSide.read(buffer);
    return new String(buffer.array(), 0, buffer.position(), StandardCharsets.UTF_8);
  }
}
