// PacketHandler: what a protocol (a node, the GMS, a probe) implements to receive decoded packets
// from the Dispatcher (engine/runtime/dispatcher.h), which has already dropped malformed input.
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <span>

#include "engine/core/endpoint.h"
#include "engine/core/time.h"
#include "engine/wire/packets.h"

namespace qsm {

// What a protocol implements to receive packets.
class PacketHandler {
 public:
  virtual ~PacketHandler() = default;
  // `packet` was decoded from `datagram`; both (and any payload span) are valid only during the call.
  virtual void OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                        TimePoint at) = 0;
  // The transport can take data again after a send found it full (and RequestWritable()).
  virtual void OnWritable() {}
};

}  // namespace qsm
