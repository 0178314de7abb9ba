package io.blocksim.sim.cli;

import io.blocksim.sim.backend.QemuCommands;
import io.blocksim.sim.scenario.ScenarioParser;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code blocksim models}: what the simulator models, so a user knows before writing a step. */
@Command(name = "models", mixinStandardHelpOptions = true,
    description = "List the QMP commands, block drivers and step kinds the simulator models.")
final class ModelsCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    List<String> modelled = QemuCommands.modelled();
    List<String> missing = QemuCommands.names().stream().filter(n -> !modelled.contains(n))
        .toList();
    Main.out.println("QMP commands (" + modelled.size() + " of QEMU 7.2's "
        + QemuCommands.names().size() + "):");
    modelled.forEach(n -> Main.out.println("  " + n));
    Main.out.println("QEMU 7.2 commands not modelled:");
    missing.forEach(n -> Main.out.println("  " + n));
    Main.out.println("block drivers:");
    QemuCommands.drivers().forEach(n -> Main.out.println("  " + n));
    Main.out.println("step kinds:");
    ScenarioParser.stepKinds().forEach(n -> Main.out.println("  " + n));
    return Main.EXIT_OK;
  }
}
