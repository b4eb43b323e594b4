// Serving /metrics for a daemon's `--metrics [ADDRESS:]PORT` flag (qsm-node, qsm-gms): the one
// place that parses the flag, applies the network-safety rule to the address, and starts a
// prometheus-cpp Exposer (which serves from its own threads).
#pragma once

#include <prometheus/exposer.h>

#include <memory>
#include <string>

#include "engine/core/status.h"

namespace qsm::exporters {

// `flag`: "PORT" (on 127.0.0.1) or "ADDRESS:PORT". The address must be on 127.0.0.0/8 or
// 198.18.0.0/15 unless `allow_external`. Errors name the flag's value.
Result<std::unique_ptr<prometheus::Exposer>> StartExposer(const std::string& flag, bool allow_external);

}  // namespace qsm::exporters
