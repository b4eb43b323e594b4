#include "engine/core/request_queue.h"

namespace qsm {

void RequestQueue::Post(Request request) {
  bool was_empty;
  {
    std::lock_guard lock(mu_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(request));
    pending_.store(true, std::memory_order_release);
  }
  if (was_empty && waker_ != nullptr) waker_->Wake();
}

size_t RequestQueue::RunAll() {
  if (!HasPending()) return 0;
  {
    std::lock_guard lock(mu_);
    running_.swap(posted_);
    pending_.store(false, std::memory_order_release);
  }
  for (auto& request : running_) request();
  const size_t n = running_.size();
  running_.clear();
  return n;
}

}  // namespace qsm
