#include "faults/schedule.h"

#include <cmath>
#include <cstdlib>

namespace qsm::faults {

std::vector<Window> Expand(const Schedule& s, Duration run_length, Random& random) {
  std::vector<Window> windows;
  const Duration until = s.until > Duration::zero() ? std::min(s.until, run_length) : run_length;
  switch (s.kind) {
    case Schedule::Kind::kAlways:
      windows.push_back({Duration::zero(), run_length});
      break;
    case Schedule::Kind::kAt:
      if (s.at <= run_length) windows.push_back({s.at, std::min(s.at + s.length, run_length)});
      break;
    case Schedule::Kind::kPeriodic:
      if (s.every <= Duration::zero()) break;
      for (Duration t = s.from + s.every; t < until; t += s.every) {
        windows.push_back({t, std::min(t + s.length, until)});
      }
      break;
    case Schedule::Kind::kPoisson: {
      if (s.every <= Duration::zero()) break;
      Duration t = s.from;
      while (true) {
        t += Duration(static_cast<int64_t>(random.Exponential(static_cast<double>(s.every.count()))));
        if (!windows.empty() && t < windows.back().end) t = windows.back().end;  // no overlap
        if (t >= until) break;
        windows.push_back({t, std::min(t + s.length, until)});
      }
      break;
    }
  }
  return windows;
}

Result<Duration> ParseDuration(const std::string& text) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(value) || value < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + text + "' is not a duration (examples: 500ms, 5s, 1.5s, 2m)");
  }
  const std::string unit(end);
  double ns_per_unit = 0;
  if (unit == "ns")
    ns_per_unit = 1;
  else if (unit == "us")
    ns_per_unit = 1e3;
  else if (unit == "ms")
    ns_per_unit = 1e6;
  else if (unit == "s")
    ns_per_unit = 1e9;
  else if (unit == "m" || unit == "min")
    ns_per_unit = 60e9;
  else if (unit == "h")
    ns_per_unit = 3600e9;
  else if (unit.empty() && value == 0)
    ns_per_unit = 1;
  else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + text + "' needs a unit: ns, us, ms, s, m or h (for example 500ms)");
  }
  const double ns = value * ns_per_unit;
  if (ns > 1e18) return MakeError(ErrorCode::kInvalidArgument, "'" + text + "' is too long");
  return Duration(static_cast<int64_t>(std::llround(ns)));
}

std::string FormatDuration(Duration d) {
  const int64_t ns = d.count();
  if (ns == 0) return "0s";
  struct Unit {
    int64_t ns;
    const char* name;
  };
  for (const Unit u : {Unit{3600'000'000'000, "h"}, Unit{60'000'000'000, "m"}, Unit{1'000'000'000, "s"},
                       Unit{1'000'000, "ms"}, Unit{1'000, "us"}}) {
    if (ns % u.ns == 0) return std::to_string(ns / u.ns) + u.name;
  }
  return std::to_string(ns) + "ns";
}

}  // namespace qsm::faults
