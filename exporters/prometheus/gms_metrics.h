// GmsMetrics: qsm-gms's Prometheus metrics, fed from the GMS's state once a second on its core
// thread (the GMS never sees prometheus-cpp). Series:
//   qsm_gms_nodes, qsm_gms_regions, qsm_gms_groups, qsm_gms_epoch (gauges),
//   qsm_gms_commits_total, qsm_gms_registrations_total, qsm_gms_group_changes_total,
//   qsm_gms_failures_total, qsm_gms_departures_total, qsm_gms_view_updates_sent_total,
//   qsm_gms_snapshots_sent_total, qsm_gms_state_save_errors_total,
//   qsm_gms_packets_dropped_total{reason} (counters).
// Threading: Update() from the core thread; collection from the exposer's threads.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <vector>

#include "engine/membership/gms.h"

namespace qsm::exporters {

class GmsMetrics {
 public:
  // `registry` must outlive this object.
  explicit GmsMetrics(prometheus::Registry& registry);
  // `counters`: the GMS process's transport and dispatcher counters (dropped packets).
  void Update(const membership::Gms& gms, const Counters& counters);

 private:
  prometheus::Gauge* nodes_;
  prometheus::Gauge* regions_;
  prometheus::Gauge* groups_;
  prometheus::Gauge* epoch_;
  // Each counter with the GmsStats field it follows and the value at the previous update.
  struct Followed {
    prometheus::Counter* metric;
    uint64_t membership::GmsStats::*field;
    uint64_t last = 0;
  };
  std::vector<Followed> counters_;
  struct Dropped {
    prometheus::Counter* metric;
    Counter counter;
    uint64_t last = 0;
  };
  std::vector<Dropped> dropped_;
};

}  // namespace qsm::exporters
