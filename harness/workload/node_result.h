// What one node reports at the end of a run (its result file, `node-ID.json`), and the progress
// record it emits every tick. Written by qsm-node and by the simulation launcher, read by the
// harness's delivery check and summary. Format: harness/RESULTS.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/histogram.h"
#include "engine/core/status.h"
#include "harness/workload/range_set.h"

namespace qsm::harness {

// Deliveries from one sender in one group.
struct StreamDeliveries {
  RangeSet seqs;              // group sequence numbers delivered
  uint64_t duplicates = 0;    // deliveries of a sequence number already delivered
  uint64_t out_of_order = 0;  // deliveries of a number below one delivered before
  uint64_t last = 0;          // the highest sequence number delivered
};

struct NodeResult {
  uint32_t node_id = 0;
  std::string end;       // how the run ended: "completed", "stopped" (told to), "interrupted" (signal)
  double elapsed_s = 0;  // from the start to the end of the run
  double first_delivery_s = -1;  // seconds from the start; -1: nothing delivered
  double last_delivery_s = -1;
  // Senders: when the load began, in seconds from the start (-1: it did not). With a GMS it waits
  // for its groups' members (NodePlan::group_members); those still absent when it stopped waiting
  // are listed: they were not in the views the first messages were sent in.
  double load_start_s = -1;
  std::vector<uint32_t> absent_at_load_start;
  std::map<uint32_t, uint64_t> sent;  // group -> messages sent (group seqs 1..n)
  std::map<std::pair<uint32_t, uint32_t>, StreamDeliveries> delivered;  // (sender, group)
  Histogram latency_ns;  // delivery latency from the intended send time
  Histogram partition_rtt_ns;
  Histogram region_rtt_ns;
  Histogram timer_lateness_ns;
  size_t peak_pending_messages = 0;
  size_t peak_pending_bytes = 0;
  size_t peak_cache_bytes = 0;
  double cpu_seconds = -1;                   // -1: not measured (simulation)
  int64_t max_rss_bytes = -1;                // the process's peak resident memory; -1: not measured
  std::map<std::string, uint64_t> counters;  // every engine counter, by name
  // The node binary's build (engine/core/build_info.h): revision, build_type, sanitizers. Empty in
  // results of nodes from before it was recorded.
  std::map<std::string, std::string> build;
  uint64_t delivered_total() const;
  uint64_t sent_total() const;
};

std::string ResultToJson(const NodeResult& result);
Result<NodeResult> ResultFromJson(const std::string& text);
// Reads a result file; errors name the file.
Result<NodeResult> ReadResultFile(const std::string& path);

// One progress record (a JSON line on the node's stdout, a row of timeseries.csv).
struct Tick {
  uint32_t node_id = 0;
  double t_s = 0;  // seconds since the start
  uint64_t sent = 0;
  uint64_t delivered = 0;
  size_t pending_messages = 0;
  size_t pending_bytes = 0;
  size_t cache_bytes = 0;
  double token_rtt_p50_ms = 0;  // this tick's rounds, region level if this node leads the region
  double token_rtt_p99_ms = 0;
  double latency_p50_ms = 0;  // this tick's deliveries
  double latency_p99_ms = 0;
  bool sending = false;  // the load is still running
  bool idle = false;     // nothing pending ACK, nothing cached, nothing to recover
};

std::string TickToJson(const Tick& tick);
Result<Tick> TickFromJson(const std::string& line);

}  // namespace qsm::harness
