// AuthenticatedTransport: a Transport decorator that seals every datagram it sends with the
// cluster key and drops every datagram it receives that does not open with one of its keys
// (counted as kDroppedAuth, before anything decodes it). Protocol code above it sees the packets
// without the trailer, exactly as without a key (Authenticator in cluster_key.h has the format).
//
// Sizes: a sealed datagram is kAuthTrailerBytes longer than the packet, so the inner transport
// must take datagrams that much larger than the protocol's largest (its max_datagram_bytes), and
// a node that sizes its datagrams to the MTU must leave that much room.
//
// Use: build the node's Dispatcher on the AuthenticatedTransport, and any fault decorator under it
// (faults act on the network, which carries sealed datagrams).
// Threading: core thread only, like the inner transport (waker() is the inner one's).
#pragma once

#include <array>
#include <memory>
#include <vector>

#include "engine/core/counters.h"
#include "engine/transport/auth/cluster_key.h"
#include "engine/transport/transport.h"

namespace qsm {

// Also the inner transport's handler: what it reads goes through OnReceive.
class AuthenticatedTransport final : public Transport, public TransportHandler {
 public:
  // `inner` and `counters` must outlive this object. `salt`: Authenticator's.
  AuthenticatedTransport(Transport& inner, Counters& counters, std::shared_ptr<const ClusterKeys> keys,
                         uint64_t salt = Authenticator::RandomSalt());
  ~AuthenticatedTransport() override;

  Endpoint local_endpoint() const override { return inner_.local_endpoint(); }
  void SetHandler(TransportHandler* handler) override { handler_ = handler; }
  Status JoinGroup(Endpoint group) override { return inner_.JoinGroup(group); }
  Status LeaveGroup(Endpoint group) override { return inner_.LeaveGroup(group); }
  SendStatus Send(Endpoint to, std::span<const std::byte> datagram) override;
  size_t SendBatch(std::span<const OutgoingDatagram> batch) override;
  void RequestWritable() override { inner_.RequestWritable(); }
  void WaitForInput(std::optional<TimePoint> deadline) override { inner_.WaitForInput(deadline); }
  Waker& waker() override { return inner_.waker(); }
  size_t PollInput() override { return inner_.PollInput(); }

 private:
  void OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) override;
  void OnWritable() override;

  Transport& inner_;
  Counters& counters_;
  Authenticator auth_;
  TransportHandler* handler_ = nullptr;
  std::vector<std::byte> sealed_;  // Send's datagram: packet and trailer
  // SendBatch's: each datagram's trailer is sent after it without copying it (OutgoingDatagram).
  std::vector<OutgoingDatagram> sealed_batch_;
  std::vector<std::array<std::byte, kAuthTrailerBytes>> trailers_;
};

}  // namespace qsm
