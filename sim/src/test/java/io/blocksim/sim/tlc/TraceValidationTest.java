package io.blocksim.sim.tlc;

import static org.assertj.core.api.Assertions.assertThat;

import io.blocksim.model.qapi.Json;
import io.blocksim.sim.backend.SimBackend;
import io.blocksim.sim.port.Backend;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The hooks behind {@code blocksim run --trace-tla DIR}. Goal: a wrapped simulator run is
 * written as a trace module that TLC accepts, and a run outside BitmapSync's vocabulary is
 * reported with its reason instead of a file. Method: a short run through {@link
 * TraceValidation#wrap}, then {@link TraceValidation#writeTrace} and TLC on the written module.
 */
@Tag("tlc")
class TraceValidationTest {
  private static final Path SPECS = TlcTestSupport.specsDir();
  private static final Path WORK = TlcTestSupport.workDir("trace-tla");

  private static Backend smallDisk() throws Exception {
    Backend backend = TraceValidation.wrap(new SimBackend(7, Set.of()));
    backend.createImage(new Backend.ImageSpec("d.raw", "raw", 4 * 65536, null, null, null,
        Map.of()));
    backend.qmp("blockdev-add", Json.object("node-name", "drive0", "driver", "raw",
        "file", Json.object("driver", "file", "filename", "d.raw")));
    backend.qmp("block-dirty-bitmap-add", Json.object("node", "drive0", "name", "b0",
        "granularity", 65536));
    return backend;
  }

  @Test
  void aWrappedRunIsWrittenAsATraceThatTlcAccepts() throws Exception {
    Backend backend = smallDisk();
    backend.io("drive0", "write -P 0x11 65536 131072");

    String line = TraceValidation.writeTrace(backend, WORK.resolve("out"), "case-a");

    assertThat(line).startsWith("case-a: ").contains("(7 states; spec BitmapSync)");
    TracingBackend tracing = (TracingBackend) backend;
    TraceVerdict verdict = TraceChecker.check(TraceTarget.BITMAP_SYNC,
        tracing.recorder().states(), 4, SPECS, WORK);
    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.ACCEPTED);
    assertThat(tracing.recorder().states().get(6).bitmaps()).containsEntry("b0",
        new java.util.TreeSet<>(java.util.List.of(1, 2)));
  }

  @Test
  void aDisabledBitmapMissesWritesAndTheTraceIsAccepted() throws Exception {
    Backend backend = smallDisk();
    backend.qmp("block-dirty-bitmap-disable", Json.object("node", "drive0", "name", "b0"));
    backend.io("drive0", "write -P 0x11 0 65536");
    backend.qmp("block-dirty-bitmap-enable", Json.object("node", "drive0", "name", "b0"));
    backend.io("drive0", "write -P 0x22 65536 65536");

    TracingBackend tracing = (TracingBackend) backend;
    List<AbstractState> states = tracing.recorder().states();
    TraceVerdict verdict = TraceChecker.check(TraceTarget.BITMAP_SYNC, states, 4, SPECS, WORK);

    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.ACCEPTED);
    assertThat(states.get(states.size() - 1).bitmaps()).containsEntry("b0",
        new java.util.TreeSet<>(List.of(1)));
  }

  @Test
  void aProcessCrashEndsTheTraceAndWhatCameBeforeIsValidated() throws Exception {
    Backend backend = smallDisk();
    backend.io("drive0", "write -P 0x11 0 65536");
    backend.crashProcess();

    String line = TraceValidation.writeTrace(backend, WORK.resolve("out"), "case-b");

    assertThat(line).startsWith("case-b: ")
        .endsWith("; the trace ends where the process crashed (BitmapSync has no crashes))");
    List<AbstractState> states = ((TracingBackend) backend).recorder().states();
    TraceVerdict verdict = TraceChecker.check(TraceTarget.BITMAP_SYNC, states, 4, SPECS, WORK);
    assertThat(verdict.kind()).as(verdict.tlc().output()).isEqualTo(TraceVerdict.Kind.ACCEPTED);
    assertThat(states.get(states.size() - 1).bitmaps()).containsEntry("b0",
        new java.util.TreeSet<>(List.of(0)));
  }
}
