package io.blocksim.sim.scenario;

/** A place in a scenario file: 1-based line and column. */
public record Location(String path, int line, int column) {
  @Override
  public String toString() {
    return path + ":" + line + ":" + column;
  }
}
