// Time for the engine: one TimePoint type for real and virtual time, and the Clock interface
// through which all protocol code reads it (STYLE: the engine sees time only through Clock).
// Threading: RealClock is safe from any thread; VirtualClock belongs to one simulation thread.
#pragma once

#include <chrono>
#include <cstdint>

namespace qsm {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

using namespace std::chrono_literals;

inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }
inline int64_t ToNanos(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromNanos(int64_t ns) { return TimePoint(Duration(ns)); }

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic: never returns a value smaller than an earlier call's.
  virtual TimePoint Now() const = 0;
};

// The machine's monotonic clock (CLOCK_MONOTONIC via steady_clock).
class RealClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

// Virtual time for simulation and tests: it moves only when told to.
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(TimePoint start = TimePoint{}) : now_(start) {}
  TimePoint Now() const override { return now_; }
  // Requires t >= Now(): virtual time never goes back.
  void AdvanceTo(TimePoint t);
  void Advance(Duration d) { AdvanceTo(now_ + d); }

 private:
  TimePoint now_;
};

}  // namespace qsm
