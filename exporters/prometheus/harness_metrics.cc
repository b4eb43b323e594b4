#include "exporters/prometheus/harness_metrics.h"

namespace qsm::exporters {

FaultMetrics::FaultMetrics(prometheus::Registry& registry, const std::string& prefix,
                           std::span<const char* const> types) {
  auto& active = prometheus::BuildGauge()
                     .Name(prefix + "_active")
                     .Help("Fault windows of this type active now (0: none).")
                     .Register(registry);
  auto& windows = prometheus::BuildCounter()
                      .Name(prefix + "_windows_total")
                      .Help("Fault windows of this type started so far.")
                      .Register(registry);
  for (const char* t : types) {
    active_[t] = &active.Add({{"type", t}});
    windows_[t] = {&windows.Add({{"type", t}}), 0};
  }
}

void FaultMetrics::SetFaults(const std::string& type, size_t active, size_t started) {
  auto gauge = active_.find(type);
  if (gauge != active_.end()) gauge->second->Set(static_cast<double>(active));
  auto counter = windows_.find(type);
  if (counter != windows_.end() && started > counter->second.second) {
    counter->second.first->Increment(static_cast<double>(started - counter->second.second));
    counter->second.second = started;
  }
}

HarnessMetrics::HarnessMetrics(prometheus::Registry& registry)
    : faults_(registry, "qsm_harness_fault", kFaultTypes) {
  auto& phase =
      prometheus::BuildGauge()
          .Name("qsm_harness_phase")
          .Help("1 for the run's current phase (start, warmup, load, drain, stop), 0 for the others.")
          .Register(registry);
  for (const char* p : kPhases) phases_[p] = &phase.Add({{"phase", p}});
}

void HarnessMetrics::SetPhase(const std::string& phase) {
  for (auto& [name, gauge] : phases_) gauge->Set(name == phase ? 1 : 0);
}

}  // namespace qsm::exporters
