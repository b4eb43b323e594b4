// Traffic: how urgent a kind of packet is. The wire format's packet table (engine/wire/packets.h)
// gives every packet type one; the scheduler (engine/core/scheduler.h) maps each to its I/O
// priority class, so the codec knows nothing of scheduling and the scheduler nothing of packets.
#pragma once

#include <cstdint>

namespace qsm {

// Highest priority first: control must never queue behind data (PROTOCOL.md §6).
enum class Traffic : uint8_t {
  kControl,   // tokens, ACKs, NAKs, pull requests, membership
  kRecovery,  // retransmissions and forwarded data
  kData,      // regular multicast
};

}  // namespace qsm
