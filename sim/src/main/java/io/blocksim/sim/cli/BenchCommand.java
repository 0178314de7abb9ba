package io.blocksim.sim.cli;

import io.blocksim.sim.bench.CorpusBench;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code blocksim bench}: HBitmap kernels, engine memory and speed, and the corpus figures
 * ({@link CorpusBench}) beside the memory bandwidth and real qemu-storage-daemon.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Benchmarks: HBitmap kernels, engine memory and speed, corpus speed vs QEMU.")
final class BenchCommand implements Callable<Integer> {
  @Option(names = "--scenarios", description = "The corpus to time (default: the repository's"
      + " scenarios).")
  Path scenarios = Main.repositoryRoot().resolve("scenarios");

  @Option(names = "--warmup", description = "Warm-up passes over the corpus (default 3).")
  int warmup = 3;

  @Option(names = "--passes", description = "Measured runs of each case (default 5).")
  int passes = 5;

  @Option(names = "--qemu-sample",
      description = "Cases run under qemu-storage-daemon for the ratios (default 10, 0: none).")
  int qemuSample = 10;

  @Option(names = "--no-whole-corpus", description = "Skip timing a ./blocksim run process.")
  boolean noWholeCorpus;

  @Option(names = "--backup-writes",
      description = "Guest writes in the 1 TiB full-backup case (default 1000000).")
  int backupWrites = 1_000_000;

  @Option(names = "--corpus-only", description = "Skip the bitmap and engine benchmarks.")
  boolean corpusOnly;

  @Override
  public Integer call() throws Exception {
    if (warmup < 0 || passes < 1 || qemuSample < 0 || backupWrites < 0) {
      Main.err.println("blocksim bench: error: --warmup must be >= 0, --passes >= 1,"
          + " --qemu-sample and --backup-writes >= 0");
      return Main.EXIT_BAD_INPUT;
    }
    if (!corpusOnly) {
      io.blocksim.sim.bench.BitmapBench.run(Main.out);
      io.blocksim.sim.bench.EngineBench.run(Main.out, backupWrites);
    }
    CorpusBench.run(Main.out, new CorpusBench.Options(scenarios, warmup, passes, qemuSample,
        !noWholeCorpus));
    return Main.EXIT_OK;
  }
}
