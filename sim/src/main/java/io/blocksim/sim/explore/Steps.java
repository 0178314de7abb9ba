package io.blocksim.sim.explore;

import io.blocksim.sim.scenario.Step;

/** Rebuilds steps with a new position or an expected outcome (records are immutable). */
final class Steps {
  private Steps() {}

  static Step withIndex(Step s, int index) {
    if (s instanceof Step.Qmp q) {
      return new Step.Qmp(index, q.location(), q.comment(), q.command(), q.args(),
          q.expectedError());
    }
    if (s instanceof Step.Io io) {
      return new Step.Io(index, io.location(), io.comment(), io.command(), io.node(),
          io.expectedError());
    }
    if (s instanceof Step.AwaitJob a) {
      return new Step.AwaitJob(index, a.location(), a.comment(), a.job(), a.status(),
          a.timeoutNs());
    }
    if (s instanceof Step.Advance a) {
      return new Step.Advance(index, a.location(), a.comment(), a.durationNs());
    }
    if (s instanceof Step.Crash c) {
      return new Step.Crash(index, c.location(), c.comment(), c.kind());
    }
    if (s instanceof Step.Img i) {
      return new Step.Img(index, i.location(), i.comment(), i.command(), i.error());
    }
    if (s instanceof Step.NbdMap m) {
      return new Step.NbdMap(index, m.location(), m.comment(), m.export(), m.context(),
          m.error());
    }
    throw new IllegalArgumentException("explore does not generate " + s);
  }
}
