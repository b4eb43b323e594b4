// A running 64-bit hash of a sequence of values, for event-trace fingerprints: two simulation runs
// with the same seed must produce the same fingerprint. Not for security.
#pragma once

#include <cstdint>
#include <span>

namespace qsm {

class Hasher {
 public:
  void Add(uint64_t v) {
    // splitmix64-style mixing of each value into the state; order-sensitive.
    uint64_t z = state_ ^ (v + 0x9e3779b97f4a7c15ULL + (state_ << 6) + (state_ >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    state_ = z ^ (z >> 31);
  }
  void AddBytes(std::span<const std::byte> bytes) {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
    for (std::byte b : bytes) h = (h ^ static_cast<uint8_t>(b)) * 0x100000001b3ULL;
    Add(h);
  }
  uint64_t value() const { return state_; }

 private:
  uint64_t state_ = 0x6a09e667f3bcc908ULL;
};

}  // namespace qsm
