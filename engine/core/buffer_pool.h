// Fixed-size packet buffers from one preallocated block. Receive paths take a buffer per datagram
// and give it back when the packet has been handled, so nothing is allocated per packet.
// Threading: a pool and its buffers belong to one thread (the core thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace qsm {

class BufferPool;

// Owns one buffer of a pool until destroyed or moved from. An empty handle owns nothing.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(PooledBuffer&& other) noexcept { *this = std::move(other); }
  PooledBuffer& operator=(PooledBuffer&& other) noexcept;
  ~PooledBuffer() { Reset(); }

  explicit operator bool() const { return pool_ != nullptr; }
  // The whole buffer, to receive into.
  std::span<std::byte> space() const;
  // The first size() bytes: the datagram.
  std::span<const std::byte> bytes() const { return space().first(size_); }
  size_t size() const { return size_; }
  // Requires n <= space().size().
  void set_size(size_t n);
  // Returns the buffer to its pool.
  void Reset();

 private:
  friend class BufferPool;
  PooledBuffer(BufferPool* pool, uint32_t index) : pool_(pool), index_(index) {}

  BufferPool* pool_ = nullptr;
  uint32_t index_ = 0;
  uint32_t size_ = 0;
};

class BufferPool {
 public:
  BufferPool(size_t buffer_bytes, size_t count);
  // Invariant (checked): every buffer has been returned before the pool is destroyed.
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An empty handle when all buffers are in use.
  PooledBuffer Acquire();
  size_t available() const { return free_.size(); }
  size_t capacity() const { return count_; }
  size_t buffer_bytes() const { return buffer_bytes_; }

 private:
  friend class PooledBuffer;
  std::byte* At(uint32_t index) const { return storage_.get() + size_t{index} * buffer_bytes_; }
  void Release(uint32_t index) { free_.push_back(index); }

  size_t buffer_bytes_;
  size_t count_;
  std::unique_ptr<std::byte[]> storage_;
  std::vector<uint32_t> free_;
};

}  // namespace qsm
