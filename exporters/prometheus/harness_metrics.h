// The harness's own metrics (DESIGN.md "Metrics"): harness_fault_active{type} (how many fault
// windows of that type are active now), harness_fault_windows_total{type} (windows started so far:
// a 10 ms burst falls between two scrapes of the gauge, never of the counter) and
// harness_phase{phase} (1 for the current phase of the run, 0 for the others), so dashboards can
// draw fault windows and phases over the nodes' series.
// Threading: setters from the harness's thread; collection from the exposer's threads.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

namespace qsm::exporters {

class HarnessMetrics {
 public:
  static constexpr const char* kPhases[] = {"start", "warmup", "load", "drain", "stop"};
  static constexpr const char* kFaultTypes[] = {"sleep", "loss-burst", "loss", "pause", "crash", "partition"};

  // `registry` must outlive this object.
  explicit HarnessMetrics(prometheus::Registry& registry);
  void SetPhase(const std::string& phase);
  // `active`: windows of `type` active now; `started`: windows of `type` started so far.
  void SetFaults(const std::string& type, size_t active, size_t started);

 private:
  std::map<std::string, prometheus::Gauge*> phases_;
  std::map<std::string, prometheus::Gauge*> faults_;
  std::map<std::string, std::pair<prometheus::Counter*, size_t>> windows_;  // counter, value so far
};

}  // namespace qsm::exporters
