// Child processes for the harness: qsm-node, prometheus, gnuplot, ip and nft. One place forks
// and execs (no shell), so every child gets the same treatment: the given descriptors, every other
// descriptor closed (all of the harness's are O_CLOEXEC), signals unblocked, optionally its own
// process group (Ctrl-C then reaches the harness only, which stops its children in order).
// Threading: call from one thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "engine/core/status.h"

namespace qsm::harness {

struct ChildIo {
  int in = -1;   // -1: /dev/null
  int out = -1;  // -1: /dev/null
  int err = -1;  // -1: /dev/null
  bool own_process_group = false;
};

// Starts argv[0] (looked up in PATH) with `io`. The caller waits for it. If exec fails the child
// writes the reason to its stderr and exits 127.
Result<pid_t> StartProcess(const std::vector<std::string>& argv, const ChildIo& io);

struct Finished {
  int exit_code = -1;  // -1: killed by a signal
  std::string output;  // stdout and stderr, interleaved as written
};
// Runs argv to the end with `stdin_text` on its stdin; returns its exit code and output.
Result<Finished> RunToEnd(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// Opens `path` for a child's output (created or truncated; close-on-exec in the harness).
Result<int> OpenLog(const std::string& path);

}  // namespace qsm::harness
