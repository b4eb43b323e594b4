// A real Prometheus in the loop: the scrape configuration for the cluster a launcher started, and
// Debian's /usr/bin/prometheus run for the length of a run on 127.0.0.1, its data kept in the
// run's folder (RUN/prometheus/) so the run can be looked at afterwards.
// Threading: one thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/status.h"
#include "engine/core/time.h"

namespace qsm::harness {

struct ScrapeTarget {
  std::string address;  // host:port serving /metrics
  std::map<std::string, std::string> labels;
};

// prometheus.yml: job "qsm-node" (every node, with its labels as target labels: the nodes do not
// label their own series), job "harness", and with a `gms_address`, job "qsm-gms"; scraped every
// second, with `rules_file` loaded.
std::string PrometheusConfig(const std::vector<ScrapeTarget>& nodes, const std::string& harness_address,
                             const std::string& rules_file, const std::string& gms_address = "");

class PrometheusServer {
 public:
  // Starts prometheus with `config_file`, data in `data_dir`, listening on 127.0.0.1:`port`, and
  // waits until it is ready (at most `timeout`). Its output goes to `log_file`.
  static Result<std::unique_ptr<PrometheusServer>> Start(const std::string& config_file,
                                                         const std::string& data_dir, uint16_t port,
                                                         const std::string& log_file, Duration timeout = 30s);
  ~PrometheusServer();  // stops it (SIGTERM, then SIGKILL after 10 s)

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

 private:
  PrometheusServer(pid_t pid, uint16_t port) : pid_(pid), port_(port) {}
  pid_t pid_;
  uint16_t port_;
};

// GET http://127.0.0.1:port/PATH: the body, or an error if nothing answered or the status is not 200.
Result<std::string> HttpGet(uint16_t port, const std::string& path);

}  // namespace qsm::harness
