#include "engine/core/alarm_queue.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

AlarmId AlarmQueue::Schedule(TimePoint deadline, AlarmCallback callback) {
  QSM_CHECK(callback != nullptr, "Schedule() needs a callback");
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.live = true;
  s.callback = std::move(callback);
  heap_.push_back(Entry{deadline, next_sequence_++, slot, s.generation});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  ++live_;
  return AlarmId{slot, s.generation};
}

bool AlarmQueue::IsPending(AlarmId id) const {
  return id && id.slot < slots_.size() && slots_[id.slot].live && slots_[id.slot].generation == id.generation;
}

bool AlarmQueue::Cancel(AlarmId id) {
  if (!IsPending(id)) return false;
  slots_[id.slot].callback = nullptr;
  Free(id.slot);
  if (counters_) counters_->Add(Counter::kAlarmsCancelled);
  CompactIfMostlyStale();
  return true;
}

void AlarmQueue::Free(uint32_t slot) {
  Slot& s = slots_[slot];
  s.live = false;
  // Invariant: generation is never 0, so AlarmId{} stays invalid.
  if (++s.generation == 0) s.generation = 1;
  free_slots_.push_back(slot);
  --live_;
}

void AlarmQueue::CompactIfMostlyStale() {
  const size_t stale = heap_.size() - live_;
  if (stale < 1024 || stale < live_) return;
  std::erase_if(heap_, [this](const Entry& e) { return IsStale(e); });
  std::make_heap(heap_.begin(), heap_.end(), Later);
}

void AlarmQueue::DropStaleTop() {
  while (!heap_.empty() && IsStale(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    heap_.pop_back();
  }
}

std::optional<TimePoint> AlarmQueue::NextDeadline() {
  DropStaleTop();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().deadline;
}

size_t AlarmQueue::FireDue(const Clock& clock, Duration quantum) {
  const TimePoint start = clock.Now();
  const uint64_t sequence_limit = next_sequence_;
  size_t fired = 0;
  for (;;) {
    DropStaleTop();
    if (heap_.empty()) break;
    const Entry top = heap_.front();
    if (top.deadline > start || top.sequence >= sequence_limit) break;
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    heap_.pop_back();
    AlarmCallback callback = std::move(slots_[top.slot].callback);
    Free(top.slot);
    const TimePoint now = clock.Now();
    lateness_ns_.Record(static_cast<uint64_t>(std::max(Duration::zero(), now - top.deadline).count()));
    if (counters_) {
      counters_->Add(Counter::kAlarmsFired);
      counters_->Add(Counter::kTimerLatenessNanos, static_cast<uint64_t>((now - top.deadline).count()));
    }
    callback(now);
    ++fired;
    if ((fired & 15) == 0 && clock.Now() - start >= quantum) break;
  }
  return fired;
}

}  // namespace qsm
