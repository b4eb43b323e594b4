// A double-ended queue on a power-of-two ring, indexable from the front. It grows by doubling and
// shrinks only when asked (Compact): after warm-up, pushes and pops at either end allocate
// nothing, unlike std::deque, which allocates and frees a block whenever its ends cross one.
// Threading: one owner.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <utility>

#include "engine/core/check.h"

namespace qsm {

template <typename T>
class RingQueue {
 public:
  explicit RingQueue(size_t initial_capacity = 64) : min_capacity_(RoundUp(initial_capacity)) {
    slots_ = std::make_unique<T[]>(min_capacity_);
    mask_ = min_capacity_ - 1;
  }

  bool empty() const { return head_ == tail_; }
  size_t size() const { return tail_ - head_; }
  size_t capacity() const { return mask_ + 1; }

  // Element i from the front; requires i < size().
  T& operator[](size_t i) { return slots_[(head_ + i) & mask_]; }
  const T& operator[](size_t i) const { return slots_[(head_ + i) & mask_]; }

  void Push(T value) {
    if (size() == capacity()) Reallocate(capacity() * 2);
    slots_[tail_++ & mask_] = std::move(value);
    peak_ = std::max(peak_, size());
  }
  void PushFront(T value) {
    if (size() == capacity()) Reallocate(capacity() * 2);
    slots_[--head_ & mask_] = std::move(value);
    peak_ = std::max(peak_, size());
  }
  T& Front() {
    QSM_CHECK(!empty(), "Front() on empty RingQueue");
    return slots_[head_ & mask_];
  }
  T& Back() {
    QSM_CHECK(!empty(), "Back() on empty RingQueue");
    return slots_[(tail_ - 1) & mask_];
  }
  // Moves the front element out.
  T Pop() {
    QSM_CHECK(!empty(), "Pop() on empty RingQueue");
    return std::move(slots_[head_++ & mask_]);
  }
  // Moves the back element out.
  T PopBack() {
    QSM_CHECK(!empty(), "PopBack() on empty RingQueue");
    return std::move(slots_[--tail_ & mask_]);
  }
  // Grows to `n` elements by appending T{}, or drops elements from the back down to `n`.
  void Resize(size_t n) {
    if (n > capacity()) Reallocate(RoundUp(n));
    while (size() < n) slots_[tail_++ & mask_] = T{};
    while (size() > n) slots_[--tail_ & mask_] = T{};
    peak_ = std::max(peak_, size());
  }
  void Clear() { Resize(0); }
  // Shrinks to twice the largest size since the last Compact (not below the initial capacity)
  // if that largest size used at most a quarter of the capacity, and starts tracking afresh. For
  // owners whose size spikes: called at quiet moments (when it empties, say), the capacity
  // follows the recent peak without reallocating for every burst of a steady load.
  void Compact() {
    const size_t want = std::max(min_capacity_, RoundUp(std::max(size(), peak_) * 2));
    if (want * 2 <= capacity()) Reallocate(want);
    peak_ = size();
  }

 private:
  static size_t RoundUp(size_t n) {
    size_t cap = 1;
    while (cap < n) cap <<= 1;
    return cap;
  }
  // Out of line: it is the cold path (and inlined, g++ 12 -O3 crashes in VRP on it).
  [[gnu::noinline]] void Reallocate(size_t cap) {
    auto slots = std::make_unique<T[]>(cap);
    const size_t n = size();
    for (size_t i = 0; i < n; ++i) slots[i] = std::move(slots_[(head_ + i) & mask_]);
    slots_ = std::move(slots);
    mask_ = cap - 1;
    head_ = 0;
    tail_ = n;
  }

  size_t min_capacity_;
  size_t peak_ = 0;  // the largest size since the last Compact
  std::unique_ptr<T[]> slots_;
  size_t mask_ = 0;
  // Positions count up (wrapping as unsigned) and are masked on access.
  // Invariant: tail_ - head_ <= mask_ + 1.
  size_t head_ = 0;
  size_t tail_ = 0;
};

}  // namespace qsm
