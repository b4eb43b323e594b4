#include "engine/core/buffer_pool.h"

#include <utility>

#include "engine/core/check.h"

namespace qsm {

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& other) noexcept {
  if (this != &other) {
    Reset();
    pool_ = std::exchange(other.pool_, nullptr);
    index_ = other.index_;
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

std::span<std::byte> PooledBuffer::space() const {
  if (pool_ == nullptr) return {};
  return {pool_->At(index_), pool_->buffer_bytes()};
}

void PooledBuffer::set_size(size_t n) {
  QSM_CHECK(pool_ != nullptr && n <= pool_->buffer_bytes(), "PooledBuffer::set_size out of range");
  size_ = static_cast<uint32_t>(n);
}

void PooledBuffer::Reset() {
  if (pool_ != nullptr) {
    pool_->Release(index_);
    pool_ = nullptr;
    size_ = 0;
  }
}

BufferPool::BufferPool(size_t buffer_bytes, size_t count)
    : buffer_bytes_(buffer_bytes), count_(count), storage_(new std::byte[buffer_bytes * count]) {
  QSM_CHECK(count > 0 && count <= UINT32_MAX && buffer_bytes > 0, "bad BufferPool size");
  free_.reserve(count);
  for (size_t i = count; i > 0; --i) free_.push_back(static_cast<uint32_t>(i - 1));
}

BufferPool::~BufferPool() {
  QSM_CHECK(free_.size() == count_, "BufferPool destroyed while buffers are still in use");
}

PooledBuffer BufferPool::Acquire() {
  if (free_.empty()) return {};
  uint32_t index = free_.back();
  free_.pop_back();
  return PooledBuffer(this, index);
}

}  // namespace qsm
