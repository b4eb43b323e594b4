// Real UDP for a node: one unicast socket (bound to the node's endpoint; every datagram, unicast
// or multicast, is sent from it, so receivers see the sender's unicast endpoint as the source),
// plus one receive socket per joined multicast group. Receiving drains each readable socket with
// recvmmsg into pooled buffers; SendBatch uses sendmmsg. Sockets are non-blocking; the core thread
// sleeps in Boost.Asio's reactor (WaitForInput) only when the scheduler has nothing to do.
//
// Network safety (DESIGN.md): the outgoing multicast interface is always set explicitly
// (IP_MULTICAST_IF), and unless allow_external_networks is set, the bind address, the multicast
// interface and every destination must be on 127.0.0.0/8 or 198.18.0.0/15 (or multicast).
//
// This file and asio_transport.cc are the only places in the engine that include Boost.Asio.
// Threading: core thread only, except waker().Wake().
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "engine/core/counters.h"
#include "engine/transport/transport.h"

namespace qsm {

struct AsioTransportConfig {
  Endpoint bind;                        // unicast address and port (port 0: any free port)
  uint32_t multicast_interface = 0;     // IPv4 address of the interface for multicast; required
  int receive_buffer_bytes = 32 << 20;  // SO_RCVBUF (SO_RCVBUFFORCE first, when root)
  int send_buffer_bytes = 16 << 20;     // SO_SNDBUF (SO_SNDBUFFORCE first, when root)
  size_t max_datagram_bytes = 9216;     // larger datagrams are dropped (counted)
  size_t pool_buffers = 4096;
  size_t batch = 64;                     // datagrams per recvmmsg / sendmmsg call
  int multicast_ttl = 1;                 // 1: never beyond the local link
  bool allow_external_networks = false;  // lift the 127/8 + 198.18/15 restriction (real clusters)
};

// The largest UDP payload the interface with IPv4 address `interface_address` (host order)
// carries without IP fragmentation (its MTU - 28), or nullopt if no interface has that address.
std::optional<size_t> UnfragmentedUdpPayload(uint32_t interface_address);
// The name of the interface with IPv4 address `interface_address` (host order), or nullopt.
std::optional<std::string> InterfaceName(uint32_t interface_address);

class AsioTransport : public Transport {
 public:
  // Opens and configures the unicast socket. Errors: kInvalidArgument for a bad or unsafe
  // configuration, kIo when the OS refuses (address in use, no such interface).
  // `clock` and `counters` must outlive the transport.
  static Result<std::unique_ptr<AsioTransport>> Create(const Clock& clock, Counters& counters,
                                                       const AsioTransportConfig& config);
  ~AsioTransport() override;

 protected:
  AsioTransport() = default;
};

}  // namespace qsm
