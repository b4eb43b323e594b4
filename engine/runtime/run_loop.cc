#include "engine/runtime/run_loop.h"

#include <algorithm>

namespace qsm {

RunLoop::RunLoop(Scheduler& scheduler, Transport& transport) : scheduler_(scheduler), transport_(transport) {
  scheduler_.requests().SetWaker(&transport_.waker());
}

void RunLoop::RunUntil(TimePoint deadline) {
  while (!stop_.load(std::memory_order_acquire) && scheduler_.clock().Now() < deadline) {
    if (scheduler_.RunOnce()) continue;
    auto wake = scheduler_.WakeupTime();
    transport_.WaitForInput(wake ? std::min(*wake, deadline) : deadline);
  }
}

void RunLoop::Stop() {
  stop_.store(true, std::memory_order_release);
  transport_.waker().Wake();
}

}  // namespace qsm
