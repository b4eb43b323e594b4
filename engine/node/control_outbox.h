// ControlOutbox: the Transport a node's control traffic goes through (tokens and their
// acknowledgements, ACKs, NAKs, pull requests, GMS traffic), on the socket the data path uses.
// A control datagram the socket cannot take now (kWouldBlock: its send buffer is full of data)
// waits here, in order, instead of being lost, and goes out before any more data once the socket
// drains: the node calls Flush() before it sends data or forwards, and from OnWritable. At most
// `max_queued` datagrams wait; beyond that the oldest is dropped (kControlDropped). The protocol
// repeats control anyway (token hops are re-sent, ACKs come every round); the outbox saves it the
// wait, a token hop's 10 ms or a whole round. Everything but Send goes to the transport below.
// Threading: as the transport below (core thread).
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "engine/core/counters.h"
#include "engine/transport/transport.h"

namespace qsm {

class ControlOutbox final : public Transport {
 public:
  // `below` and `counters` must outlive the outbox.
  ControlOutbox(Transport& below, Counters& counters, size_t max_queued = 256);

  // Sends what waits, in order. False if the socket filled again (below.RequestWritable() called).
  bool Flush();
  bool empty() const { return queue_.empty(); }
  size_t queued() const { return queue_.size(); }

  // Sends now, after what waits; a datagram the socket cannot take is queued and kSent returned.
  SendStatus Send(Endpoint to, std::span<const std::byte> datagram) override;
  size_t SendBatch(std::span<const OutgoingDatagram> batch) override;

  Endpoint local_endpoint() const override { return below_.local_endpoint(); }
  void SetHandler(TransportHandler* handler) override { below_.SetHandler(handler); }
  Status JoinGroup(Endpoint group) override { return below_.JoinGroup(group); }
  Status LeaveGroup(Endpoint group) override { return below_.LeaveGroup(group); }
  void RequestWritable() override { below_.RequestWritable(); }
  void WaitForInput(std::optional<TimePoint> deadline) override { below_.WaitForInput(deadline); }
  Waker& waker() override { return below_.waker(); }
  size_t PollInput() override { return below_.PollInput(); }

 private:
  struct Waiting {
    Endpoint to;
    std::vector<std::byte> bytes;
  };
  void Queue(Endpoint to, std::span<const std::byte> datagram);

  Transport& below_;
  Counters& counters_;
  size_t max_queued_;
  std::deque<Waiting> queue_;
};

}  // namespace qsm
