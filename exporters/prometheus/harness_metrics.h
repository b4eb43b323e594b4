// The harness's own metrics (DESIGN.md "Metrics"; qsm_-prefixed like every metric of ours):
// qsm_harness_fault_active{type} (how many fault windows of that type are active now),
// qsm_harness_fault_windows_total{type} (windows started so far: a 10 ms burst falls between two
// scrapes of the gauge, never of the counter) and qsm_harness_phase{phase} (1 for the current phase of the run, 0 for the others), so dashboards can
// draw fault windows and phases over the nodes' series.
// Threading: setters from the harness's thread; collection from the exposer's threads.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <span>
#include <string>

namespace qsm::exporters {

// PREFIX_active{type} (fault windows of that type active now) and PREFIX_windows_total{type}
// (windows started so far), for `types`. The harness exports qsm_harness_fault_* for every fault
// it applies; a node exports qsm_fault_* for the in-process faults of its plan (sleep, loss-burst,
// loss), so fault windows show on clusters whose harness is not scraped (Ansible's).
class FaultMetrics {
 public:
  // `registry` must outlive this object.
  FaultMetrics(prometheus::Registry& registry, const std::string& prefix, std::span<const char* const> types);
  // `active`: windows of `type` active now; `started`: windows of `type` started so far (never
  // less than before). Unknown types are ignored.
  void SetFaults(const std::string& type, size_t active, size_t started);

 private:
  std::map<std::string, prometheus::Gauge*> active_;
  std::map<std::string, std::pair<prometheus::Counter*, size_t>> windows_;  // counter, value so far
};

class HarnessMetrics {
 public:
  static constexpr const char* kPhases[] = {"start", "warmup", "load", "drain", "stop"};
  static constexpr const char* kFaultTypes[] = {"sleep", "loss-burst", "loss", "pause", "crash", "partition"};

  // `registry` must outlive this object.
  explicit HarnessMetrics(prometheus::Registry& registry);
  void SetPhase(const std::string& phase);
  void SetFaults(const std::string& type, size_t active, size_t started) { faults_.SetFaults(type, active, started); }

 private:
  std::map<std::string, prometheus::Gauge*> phases_;
  FaultMetrics faults_;
};

}  // namespace qsm::exporters
