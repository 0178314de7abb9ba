package io.blocksim.sim.cli;

import io.blocksim.sim.scenario.Semantics;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code blocksim semantics}: the named engine variants. */
@Command(name = "semantics", mixinStandardHelpOptions = true, description = "List the named engine variants.")
final class SemanticsCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    for (Map.Entry<String, String> e : Semantics.known().entrySet()) {
      Main.out.println(e.getKey() + "  " + e.getValue());
    }
    return Main.EXIT_OK;
  }
}
