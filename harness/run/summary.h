// What a run leaves behind: the record the launchers fill in, and the results folder written from
// it - summary.json, timeseries.csv, faults.csv and the node files (format: harness/RESULTS.md).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "harness/run/check.h"
#include "harness/run/resolve.h"
#include "harness/workload/node_result.h"

namespace qsm::harness {

struct RunRecord {
  ResolvedRun run;
  std::string started_at;  // UTC, ISO 8601
  double wall_seconds = 0;
  std::map<uint32_t, NodeResult> results;  // node id -> result (crashed nodes have none)
  std::vector<Tick> ticks;
  std::set<uint32_t> crashed;          // killed by the harness on purpose
  std::vector<std::string> incidents;  // what went wrong outside the protocol (a node died...)
  bool interrupted = false;            // stopped by Ctrl-C
  bool simulated = false;              // virtual time: wall-clock and CPU fields are not comparable
  std::string prometheus_url;          // the Prometheus that scraped the run ("" = none)
};

CheckInput CheckInputOf(const RunRecord& record);

// summary.json's content. Its check.ok is true iff the delivery check passed, nothing went wrong
// outside the protocol (no incident) and the run was not interrupted.
nlohmann::json BuildSummary(const RunRecord& record, const CheckReport& check);

// Writes summary.json, timeseries.csv, cluster.csv, latency_percentiles.csv, faults.csv,
// scenario.yaml and nodes/node-ID.json (those a node has not written itself) into `dir`; returns
// the summary it wrote.
Result<nlohmann::json> WriteRunFolder(const std::string& dir, const RunRecord& record,
                                      const CheckReport& check);

// For every sweep among `summaries` (runs with the same "sweep.of"), writes DIR/sweep-NAME.csv:
// one row per run, the swept value in column `x` (format: harness/RESULTS.md). Returns the files.
Result<std::vector<std::string>> WriteSweepTables(const std::string& dir,
                                                  const std::vector<nlohmann::json>& summaries);

// `h` (nanoseconds) as HdrHistogram's percentile distribution text, values in milliseconds: the
// `.hgrm` form that HdrHistogram's plotters read (rows at its percentile ticks, 5 per halving
// distance to 100%, then the footer with mean, standard deviation, max and count). The values are
// those of our buckets' midpoints (within 3%); the footer's Buckets/SubBuckets describe our
// histogram, not an HdrHistogram's.
std::string PercentileDistribution(const Histogram& h);

// The run folders of `dir`: `dir` itself if it holds a summary.json, else its subfolders that do,
// in run order (by their "N-" position, then by name). Errors (kInvalidArgument) name `dir`: it
// cannot be read, or it holds no run.
Result<std::vector<std::string>> RunFolders(const std::string& dir);

// The format summary.json is written in; readers refuse any other.
inline constexpr const char* kSummaryFormat = "qsm-run-summary/1";
// RUN/summary.json, parsed. Errors (kInvalidArgument) name the file: missing, not a JSON
// object, or of a format other than kSummaryFormat.
Result<nlohmann::json> ReadSummary(const std::string& run_dir);

// The engine a run ran (scenario.engine.kind); "qsm" for runs from before engine drivers.
std::string EngineKindOf(const nlohmann::json& summary);

// Reads a results folder back (summary.json + node files) for `qsm-harness check`.
Result<RunRecord> ReadRunFolder(const std::string& dir);

// One line per run for the terminal: throughput, delivered/sent, latency, token RTT, pending.
std::string TableHeader();
std::string TableRow(const nlohmann::json& summary);
// When the summaries ran more than one engine (scenario.engine.kind): one row per scenario, with
// each engine's slowest receiver's msgs/s, latency p99, share of expected messages delivered and
// verdict side by side, engines in order of appearance. Runs pair up by name without a trailing
// "-KIND" (baseline-qsm, baseline-norm: baseline). Empty when every run used one engine.
std::vector<std::string> EnginesTable(const std::vector<nlohmann::json>& summaries);

}  // namespace qsm::harness
