// A FIFO queue on a power-of-two ring that grows by doubling and never shrinks: after warm-up,
// push and pop allocate nothing. Threading: one owner.
#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include "engine/core/check.h"

namespace qsm {

template <typename T>
class RingQueue {
 public:
  explicit RingQueue(size_t initial_capacity = 64) {
    size_t cap = 1;
    while (cap < initial_capacity) cap <<= 1;
    slots_ = std::make_unique<T[]>(cap);
    mask_ = cap - 1;
  }

  bool empty() const { return head_ == tail_; }
  size_t size() const { return tail_ - head_; }

  void Push(T value) {
    if (size() == mask_ + 1) Grow();
    slots_[tail_++ & mask_] = std::move(value);
  }
  T& Front() {
    QSM_CHECK(!empty(), "Front() on empty RingQueue");
    return slots_[head_ & mask_];
  }
  // Moves the front element out.
  T Pop() {
    QSM_CHECK(!empty(), "Pop() on empty RingQueue");
    return std::move(slots_[head_++ & mask_]);
  }

 private:
  void Grow() {
    const size_t cap = (mask_ + 1) * 2;
    auto bigger = std::make_unique<T[]>(cap);
    const size_t n = size();
    for (size_t i = 0; i < n; ++i) bigger[i] = std::move(slots_[(head_ + i) & mask_]);
    slots_ = std::move(bigger);
    mask_ = cap - 1;
    head_ = 0;
    tail_ = n;
  }

  std::unique_ptr<T[]> slots_;
  size_t mask_ = 0;
  size_t head_ = 0;  // Invariant: head_ <= tail_, tail_ - head_ <= mask_ + 1.
  size_t tail_ = 0;
};

}  // namespace qsm
