// Timers of the core thread: a binary heap of deadlines with O(1) cancellation by generation.
// Cancelling only marks the alarm's slot; its heap entry is skipped when it reaches the top, and
// the heap is rebuilt when stale entries outnumber live ones. Slots and their callbacks are reused,
// so scheduling an alarm whose callback fits std::move_only_function's small buffer allocates
// nothing after warm-up.
// Threading: core thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "engine/core/counters.h"
#include "engine/core/histogram.h"
#include "engine/core/time.h"

namespace qsm {

using AlarmCallback = std::move_only_function<void(TimePoint now)>;

// Names one scheduled alarm. A default AlarmId names none; cancelling it is a no-op.
struct AlarmId {
  uint32_t slot = 0;
  uint32_t generation = 0;  // 0: invalid
  explicit operator bool() const { return generation != 0; }
};

class AlarmQueue {
 public:
  explicit AlarmQueue(Counters* counters = nullptr) : counters_(counters) {}

  AlarmId Schedule(TimePoint deadline, AlarmCallback callback);
  // Returns true if the alarm was pending (it will not fire); false if it already fired, was
  // cancelled, or is invalid.
  bool Cancel(AlarmId id);
  bool IsPending(AlarmId id) const;

  // The earliest live deadline.
  std::optional<TimePoint> NextDeadline();
  // Fires alarms whose deadline is <= clock.Now(), earliest first (FIFO among equal deadlines),
  // until `quantum` of clock time has passed. Alarms scheduled by a callback during this call
  // wait for the next call even if already due, so a callback cannot starve the other sources.
  // Returns the number fired.
  size_t FireDue(const Clock& clock, Duration quantum);

  size_t size() const { return live_; }
  // How late each fired alarm ran: the time its callback started minus its deadline.
  const Histogram& lateness_ns() const { return lateness_ns_; }

 private:
  struct Entry {
    TimePoint deadline;
    uint64_t sequence;
    uint32_t slot;
    uint32_t generation;
  };
  struct Slot {
    uint32_t generation = 1;
    bool live = false;
    AlarmCallback callback;
  };
  static bool Later(const Entry& a, const Entry& b) {
    return a.deadline != b.deadline ? a.deadline > b.deadline : a.sequence > b.sequence;
  }
  bool IsStale(const Entry& e) const {
    const Slot& s = slots_[e.slot];
    return !s.live || s.generation != e.generation;
  }
  void DropStaleTop();
  void Free(uint32_t slot);
  void CompactIfMostlyStale();

  Counters* counters_;  // may be null; must outlive this queue
  Histogram lateness_ns_;
  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  uint64_t next_sequence_ = 0;
  size_t live_ = 0;
};

}  // namespace qsm
