// Seeded pseudo-random numbers (xoshiro256**). Every random choice in the engine, the simulator and
// the fault injectors comes from a Random seeded from the run's seed, so a run replays exactly.
// Threading: one owner; not thread-safe.
#pragma once

#include <cstdint>

namespace qsm {

class Random {
 public:
  explicit Random(uint64_t seed);

  uint64_t Next();
  // Uniform in [0, n). Requires n > 0.
  uint64_t Uniform(uint64_t n);
  // Uniform in [0, 1).
  double NextDouble();
  // True with probability p (p <= 0: never; p >= 1: always).
  bool Bernoulli(double p);
  // Exponentially distributed with the given mean.
  double Exponential(double mean);
  // An independent generator derived from this one's stream (for per-node generators).
  Random Fork();

 private:
  uint64_t s_[4];
};

}  // namespace qsm
