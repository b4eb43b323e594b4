// Scenario files: what a run is (cluster, load, faults, engine parameters), read from YAML with
// errors that name the file, the line and the key. Reference: harness/scenarios/README.md.
// Also: command-line overrides (--set key=value, dotted keys for nested maps), sweeps (one run
// per value), and suites (a list of scenario files, or a directory of them).
// Threading: plain values and functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/core/time.h"
#include "faults/schedule.h"

namespace qsm::harness {

// key=value pairs from --set, in order.
using Overrides = std::vector<std::pair<std::string, std::string>>;

enum class FaultType { kSleep, kLossBurst, kLoss, kPause, kCrash, kPartition };
const char* FaultTypeName(FaultType type);

struct FaultSpec {
  FaultType type = FaultType::kSleep;
  std::vector<uint32_t> nodes;  // node ids (1-based); the parser expands "all"
  faults::Schedule schedule;
  double rate = 0;           // loss: probability per incoming datagram
  bool via_network = false;  // loss, loss-burst: nftables in the node's namespace (netns only)
  int line = 0;              // where it was defined, for messages
};

struct Membership {
  std::string pattern = "all";  // all | zipf
  double alpha = 1.5;
  double fraction = 0.1;
};

// With a GMS: the harness starts qsm-gms for the run; nodes register their groups there, the GMS
// computes regions (several, with membership: zipf) and detects crashes itself.
struct GmsParams {
  Duration failure_timeout = 2s;  // no heartbeat for this long: a node is removed
  Duration heartbeat = 200ms;
};

struct EngineParams {
  // The engine under test: qsm (this project's), norm (NORM from libnorm, ACK-based flow control)
  // or udp (raw multicast, no reliability). The parameters below are QSM's, except auth, which
  // applies to qsm and udp.
  std::string kind = "qsm";
  double token_rate = 5;       // rounds/s: with rounds "fixed" every round, with "adaptive" the idle pace
  std::string rounds = "adaptive";  // or "fixed" (RegionConfig::adaptive_rounds)
  size_t replication = 5;
  std::string window = "fixed";  // or "adaptive" (SenderWindow::adaptive)
  size_t window_mb = 20;         // the pending-ACK window, MiB held (SenderWindow::max_bytes)
  size_t window_messages = 0;    // also at most this many messages pending (0: no count limit)
  size_t datagram_bytes = 8972;  // small messages packed up to this datagram size; 0: one per datagram
  // Every packet carries a MAC with a cluster key made for the run (engine/transport/auth/); false
  // runs without, for comparison.
  bool auth = true;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string launcher = "local";  // local | netns | sim | inventory
  uint32_t nodes = 4;
  uint32_t groups = 1;
  Membership membership;
  uint32_t senders = 1;  // nodes 1..senders send
  size_t message_size = 1000;
  double rate = 0;          // msgs/s per sender; 0: max
  Duration duration = 10s;  // the load runs this long
  Duration warmup = 1s;     // excluded from throughput figures
  Duration drain = 20s;     // at most this long after the load for every message to be delivered
  uint64_t seed = 1;
  EngineParams engine;
  std::optional<GmsParams> gms;  // none: static views, crashes announced by the harness
  std::vector<FaultSpec> faults;
  // sweep: key -> values (YAML scalars, as text); one run per combination.
  std::map<std::string, std::vector<std::string>> sweep;
  uint32_t repeat = 1;  // runs of each sweep point (or of the scenario), seeds seed, seed+1, ...
  // Where it came from, for messages and the results.
  std::string source;
  std::string text;     // the file's text, to re-read with a sweep's values
  Overrides overrides;  // applied from --set or a sweep, in order
  // A run of a sweep: the scenario's own name, and this run's values of the swept keys.
  std::string sweep_of;
  Overrides sweep_point;  // key -> value applied from --set or a sweep
  uint32_t repetition = 0;  // a run of a repeated scenario: 1..repeat; else 0
};

Result<Overrides> ParseOverrides(const std::vector<std::string>& assignments);

// Reads a scenario file and applies `overrides`. Errors: "FILE:LINE: 'key': what is wrong".
Result<Scenario> LoadScenario(const std::string& path, const Overrides& overrides = {});
// The same from text (`source` names it in messages).
Result<Scenario> ParseScenario(const std::string& text, const std::string& source,
                               const Overrides& overrides = {});

// The runs of a scenario: one per combination of the sweep's values (the scenario itself if it has
// no sweep), each named NAME-key=value...; with repeat: N > 1, each of those N times, named
// ...-rep=K, with seed + K - 1.
Result<std::vector<Scenario>> ExpandRuns(const Scenario& scenario);

// A suite: the scenario files it lists (paths resolved against the suite's folder) with their
// per-run overrides, or every *.yaml scenario in a directory, in name order.
struct SuiteEntry {
  std::string path;
  Overrides overrides;
};
struct Suite {
  std::string name;
  std::vector<SuiteEntry> runs;
};
Result<Suite> LoadSuite(const std::string& path_or_dir);

// Finds a scenario or suite: an existing path, or a bundled name ("baseline", "default") looked
// up in `bundled_dir` and `bundled_dir`/suites.
std::optional<std::string> ResolveBundled(const std::string& name, const std::string& bundled_dir);

}  // namespace qsm::harness
