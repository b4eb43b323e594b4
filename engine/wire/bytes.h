// Fixed-width little-endian field access for the wire format. Writer and Reader never touch memory
// outside their span: a Writer that runs out of room, or a Reader asked for more bytes than remain,
// stops and remembers it (ok() == false), returning zeros from then on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace qsm::wire {

class Writer {
 public:
  explicit Writer(std::span<std::byte> out) : out_(out) {}

  void U8(uint8_t v) { Put(&v, 1); }
  void U16(uint16_t v) { PutLe(v, 2); }
  void U32(uint32_t v) { PutLe(v, 4); }
  void U64(uint64_t v) { PutLe(v, 8); }
  void I64(int64_t v) { PutLe(static_cast<uint64_t>(v), 8); }
  void Bytes(std::span<const std::byte> b) { Put(b.data(), b.size()); }

  bool ok() const { return ok_; }
  size_t size() const { return pos_; }

 private:
  void PutLe(uint64_t v, size_t n) {
    uint8_t b[8];
    for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    Put(b, n);
  }
  void Put(const void* p, size_t n) {
    if (!ok_ || n > out_.size() - pos_) {
      ok_ = false;
      return;
    }
    if (n > 0) std::memcpy(out_.data() + pos_, p, n);
    pos_ += n;
  }

  std::span<std::byte> out_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}

  uint8_t U8() { return static_cast<uint8_t>(GetLe(1)); }
  uint16_t U16() { return static_cast<uint16_t>(GetLe(2)); }
  uint32_t U32() { return static_cast<uint32_t>(GetLe(4)); }
  uint64_t U64() { return GetLe(8); }
  int64_t I64() { return static_cast<int64_t>(GetLe(8)); }
  // The next n bytes (a view into the input), or an empty span if fewer remain.
  std::span<const std::byte> Bytes(size_t n) {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return {};
    }
    auto out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  bool ok() const { return ok_; }
  size_t remaining() const { return in_.size() - pos_; }

 private:
  uint64_t GetLe(size_t n) {
    if (!ok_ || n > remaining()) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(in_[pos_ + i])} << (8 * i);
    pos_ += n;
    return v;
  }

  std::span<const std::byte> in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace qsm::wire
