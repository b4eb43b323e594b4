// PacketHandler: what a protocol (a node, the GMS, a probe) implements to receive decoded packets
// from the Dispatcher (engine/node/dispatcher.h), which has already dropped malformed input.
// Threading: core thread only.
#pragma once

#include "engine/core/endpoint.h"
#include "engine/core/time.h"
#include "engine/wire/packets.h"

namespace qsm {

// What a protocol implements to receive packets.
class PacketHandler {
 public:
  virtual ~PacketHandler() = default;
  // `packet` (and any payload span in it) is valid only during the call.
  virtual void OnPacket(const wire::Packet& packet, const Endpoint& from, TimePoint at) = 0;
  // The transport can take data again after a send found it full (and RequestWritable()).
  virtual void OnWritable() {}
};

}  // namespace qsm
