// The only way other threads talk to the core thread: they Post() closures, the core thread runs
// them in its request phase. A mutex guards a vector that the core thread swaps out whole, so the
// core thread holds the lock for one swap per batch, never while running requests. (Measured in
// scheduler_bench: see BM_RequestQueuePost*.)
// Threading: Post() from any thread; RunAll() from the core thread only.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <vector>

namespace qsm {

using Request = std::move_only_function<void()>;

// Wakes a core thread that may be blocked waiting for I/O. Must be callable from any thread.
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void Wake() = 0;
};

class RequestQueue {
 public:
  // `waker` (may be null) must outlive the queue; it is called when the queue becomes non-empty.
  void SetWaker(Waker* waker) { waker_ = waker; }

  void Post(Request request);
  // Runs the requests posted before this call, in posting order. Returns how many ran.
  size_t RunAll();
  bool HasPending() const { return pending_.load(std::memory_order_acquire); }

 private:
  std::mutex mu_;
  std::vector<Request> posted_;   // guarded by mu_
  std::vector<Request> running_;  // core thread only
  std::atomic<bool> pending_{false};
  Waker* waker_ = nullptr;
};

}  // namespace qsm
