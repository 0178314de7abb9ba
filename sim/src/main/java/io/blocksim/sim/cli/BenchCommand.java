package io.blocksim.sim.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code blocksim bench}: HBitmap kernels, engine memory and speed. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks: HBitmap kernels, engine memory and speed.")
final class BenchCommand implements Callable<Integer> {
  @Override
  public Integer call() throws Exception {
    io.blocksim.sim.bench.BitmapBench.run(Main.out);
    io.blocksim.sim.bench.EngineBench.run(Main.out);
    return Main.EXIT_OK;
  }
}
