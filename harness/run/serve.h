// `qsm-harness serve RESULTS_ROOT`: the results root over HTTP on 127.0.0.1, for browsing with a
// browser, as Jepsen's results server does. `/` lists the results folders in the root (newest
// first, with their verdicts; report.h, RootListing) unless the root is itself a results folder
// with an index.html; any other path is a file under the root, or a folder's index.html. Only GET
// and HEAD; nothing outside the root is served (a path with "..", or one that resolves outside
// through a link, is 404). One connection at a time, closed after each response.
// Threading: Serve() blocks its thread until `stop` is set.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/core/status.h"

namespace qsm::harness {

struct ServeOptions {
  std::string root;
  uint16_t port = 8080;  // 0: any free port
};

// Listens on 127.0.0.1:port, calls `listening` with the port, and serves until `stop` (looked at
// every 200 ms). Errors: the root is not a folder, the port is taken.
Status Serve(const ServeOptions& options, const std::atomic<bool>& stop,
             const std::function<void(uint16_t port)>& listening);

// The response to one request head (exposed for tests): status line, headers and body.
std::string Respond(const std::string& root, const std::string& request_head);

}  // namespace qsm::harness
