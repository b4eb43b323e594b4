// An IPv4 address and UDP port, as a plain value. The engine names every peer, region multicast
// address and GMS by an Endpoint; the real and simulated transports map it to their own sockets.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/core/status.h"

namespace qsm {

struct Endpoint {
  uint32_t address = 0;  // host byte order: 127.0.0.1 is 0x7f000001
  uint16_t port = 0;

  static constexpr Endpoint FromOctets(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port) {
    return Endpoint{(uint32_t{a} << 24) | (uint32_t{b} << 16) | (uint32_t{c} << 8) | d, port};
  }
  // Parses "a.b.c.d:port" (or "a.b.c.d" when default_port is given, i.e. non-zero).
  static Result<Endpoint> Parse(std::string_view text, uint16_t default_port = 0);

  bool is_multicast() const { return (address >> 28) == 0xE; }  // 224.0.0.0/4
  bool is_loopback() const { return (address >> 24) == 127; }   // 127.0.0.0/8
  // 198.18.0.0/15, the range this project's own test hosts use (DESIGN: network safety).
  bool is_benchmark_net() const { return (address >> 17) == (0xC612u >> 1); }

  std::string AddressString() const;
  std::string ToString() const;

  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

}  // namespace qsm

template <>
struct std::hash<qsm::Endpoint> {
  size_t operator()(const qsm::Endpoint& e) const noexcept {
    return std::hash<uint64_t>{}((uint64_t{e.address} << 16) | e.port);
  }
};
