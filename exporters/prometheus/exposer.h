// Serving /metrics for a daemon's `--metrics [ADDRESS:]PORT` flag (qsm-node, qsm-gms): the one
// place that parses the flag, applies the network-safety rule to the address, and starts a
// prometheus-cpp Exposer (which serves from its own threads).
#pragma once

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

#include "engine/core/status.h"

namespace qsm::exporters {

// `flag`: "PORT" (on 127.0.0.1) or "ADDRESS:PORT". The address must be on 127.0.0.0/8 or
// 198.18.0.0/15 unless `allow_external`. Errors name the flag's value.
Result<std::unique_ptr<prometheus::Exposer>> StartExposer(const std::string& flag, bool allow_external);

// qsm_build_info{program, revision, build_type, sanitizers} 1: what the serving binary is (the
// convention of Prometheus's own *_build_info), so a dashboard or a query can tell a release
// build's figures from a debug or sanitizer build's.
void RegisterBuildInfo(prometheus::Registry& registry, std::string_view program);

}  // namespace qsm::exporters
