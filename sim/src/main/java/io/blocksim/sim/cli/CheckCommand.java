package io.blocksim.sim.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code blocksim check}: TLC on every spec, compared with specs/manifest.json. */
@Command(name = "check",
    description = "Model-check every TLA+ spec in specs/ with TLC and compare with the manifest.")
final class CheckCommand implements Callable<Integer> {
  @Option(names = "--specs", description = "The specs folder (default: specs).")
  Path specs = Path.of("specs");

  @Option(names = "--work", description = "TLC's working folder (default: target/tlc).")
  Path work = Path.of("target", "tlc");

  @Override
  public Integer call() throws Exception {
    return io.blocksim.sim.tlc.TlcRunner.checkAll(specs, work, Main.out);
  }
}
