package io.blocksim.sim.explore;

import io.blocksim.sim.port.Backend.ImageSpec;
import io.blocksim.sim.scenario.Step;
import java.util.List;
import java.util.Set;

/** One generated run: its seed, the features it switched on, its images and its steps. */
record GeneratedRun(long seed, Set<Feature> features, List<ImageSpec> images, List<Step> steps) {
  GeneratedRun withSteps(List<Step> newSteps) {
    return new GeneratedRun(seed, features, images, newSteps);
  }

  GeneratedRun withImages(List<ImageSpec> newImages) {
    return new GeneratedRun(seed, features, newImages, steps);
  }
}
