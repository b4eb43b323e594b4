// Fault schedules: when a fault is active during a run. A schedule expands, from a seed, into a
// list of windows (offsets from the start of the run), so every injector - in a node process, in
// the harness, or in the simulator - applies exactly the same windows, and the results record them.
// Threading: plain values; no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/random.h"
#include "engine/core/status.h"
#include "engine/core/time.h"

namespace qsm::faults {

// A fault is active in [start, end). end == start + length; for faults without a length (a
// crash) end == start.
struct Window {
  Duration start{};
  Duration end{};
  bool operator==(const Window&) const = default;
};

struct Schedule {
  enum class Kind {
    kAlways,    // the whole run
    kAt,        // once, at `at`, for `length`
    kPeriodic,  // at every, 2 x every, ... for `length`
    kPoisson,   // gaps drawn from an exponential distribution with mean `every`, for `length`
  };
  Kind kind = Kind::kAlways;
  Duration at{};
  Duration every{};
  Duration length{};
  // Schedules of kPeriodic and kPoisson start after `from` and stop before `until` (0: run end).
  Duration from{};
  Duration until{};
};

// The windows of `schedule` within a run of `run_length`, in order, none overlapping. Poisson
// schedules draw from `random` (seed it per fault, so adding a fault does not move the others).
std::vector<Window> Expand(const Schedule& schedule, Duration run_length, Random& random);

// "500ms", "5s", "2m", "1.5s", "250us", "0" -> Duration. Errors name the text.
Result<Duration> ParseDuration(const std::string& text);
// Duration -> the shortest of those forms that is exact ("500ms", "5s").
std::string FormatDuration(Duration d);

}  // namespace qsm::faults
