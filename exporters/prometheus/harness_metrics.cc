#include "exporters/prometheus/harness_metrics.h"

namespace qsm::exporters {

HarnessMetrics::HarnessMetrics(prometheus::Registry& registry) {
  auto& phase =
      prometheus::BuildGauge()
          .Name("harness_phase")
          .Help("1 for the run's current phase (start, warmup, load, drain, stop), 0 for the others.")
          .Register(registry);
  for (const char* p : kPhases) phases_[p] = &phase.Add({{"phase", p}});
  auto& fault = prometheus::BuildGauge()
                    .Name("harness_fault_active")
                    .Help("Fault windows of this type active now (0: none).")
                    .Register(registry);
  for (const char* t : kFaultTypes) faults_[t] = &fault.Add({{"type", t}});
  auto& windows = prometheus::BuildCounter()
                      .Name("harness_fault_windows_total")
                      .Help("Fault windows of this type started so far.")
                      .Register(registry);
  for (const char* t : kFaultTypes) windows_[t] = {&windows.Add({{"type", t}}), 0};
}

void HarnessMetrics::SetPhase(const std::string& phase) {
  for (auto& [name, gauge] : phases_) gauge->Set(name == phase ? 1 : 0);
}

void HarnessMetrics::SetFaults(const std::string& type, size_t active, size_t started) {
  auto gauge = faults_.find(type);
  if (gauge != faults_.end()) gauge->second->Set(static_cast<double>(active));
  auto counter = windows_.find(type);
  if (counter != windows_.end() && started > counter->second.second) {
    counter->second.first->Increment(static_cast<double>(started - counter->second.second));
    counter->second.second = started;
  }
}

}  // namespace qsm::exporters
