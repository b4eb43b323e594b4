// NodeMetrics: a node's Prometheus metrics (DESIGN.md "Metrics"), fed from engine snapshots. The
// engine never sees prometheus-cpp: its owner takes a NodeStats snapshot on the core thread at a
// fixed interval (once a second) and calls Update(), which sets gauges, adds the counters' growth
// and the histograms' new observations. The registry's exposer serves them from its own thread;
// the only lock the core thread can meet is prometheus-cpp's per-histogram mutex, once per update,
// never per packet.
// Threading: Update() from one thread (the core thread); collection from the exposer's threads.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <string>
#include <vector>

#include "engine/node/node.h"

namespace qsm::exporters {

class NodeMetrics {
 public:
  // Registers this node's series in `registry` (which must outlive this object) with `labels`
  // (node, role) on every one.
  NodeMetrics(prometheus::Registry& registry, const std::map<std::string, std::string>& labels);

  // Brings every series up to `stats` (a snapshot of the node).
  void Update(const NodeStats& stats);

  // The bucket upper bounds of the latency-like histograms, in seconds.
  static const std::vector<double>& Buckets();

 private:
  struct Histo {
    prometheus::Histogram* metric;
    Histogram last;  // the engine histogram at the previous update
  };
  void Feed(Histo& h, const Histogram& now);

  std::vector<std::pair<Counter, prometheus::Counter*>> counters_;
  std::vector<uint64_t> last_counters_;
  prometheus::Gauge* pending_messages_;
  prometheus::Gauge* pending_bytes_;
  prometheus::Gauge* cache_bytes_;
  prometheus::Gauge* regions_;
  prometheus::Gauge* groups_;
  std::vector<prometheus::Gauge*> queue_depths_;  // by IoClass, then alarms
  Histo partition_rtt_, region_rtt_, latency_, timer_lateness_;
};

}  // namespace qsm::exporters
