// Drives a node's core thread in real time: scheduler rounds back to back while there is work,
// and a sleep in the transport (woken by input, a request from another thread, or the next
// alarm) when there is none.
// Threading: Run*() on the core thread; Stop() from any thread.
#pragma once

#include <atomic>

#include "engine/core/scheduler.h"
#include "engine/transport/transport.h"

namespace qsm {

class RunLoop {
 public:
  // Both must outlive the loop. Connects the scheduler's request queue to the transport's waker.
  RunLoop(Scheduler& scheduler, Transport& transport);

  // Runs until Stop() or until the clock passes `deadline`.
  void RunUntil(TimePoint deadline);
  void Run() { RunUntil(TimePoint::max()); }
  void Stop();
  bool stopped() const { return stop_.load(std::memory_order_acquire); }

 private:
  Scheduler& scheduler_;
  Transport& transport_;
  std::atomic<bool> stop_{false};
};

}  // namespace qsm
