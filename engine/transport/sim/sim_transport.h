// A host's Transport on a SimNetwork. Arriving datagrams wait in a bounded receive buffer (the
// "socket") until the node's scheduler polls; sends go through the host's egress queue.
// Threading: the simulation's thread.
#pragma once

#include <memory>
#include <utility>
#include <vector>

#include "engine/core/counters.h"
#include "engine/core/ring_queue.h"
#include "engine/transport/sim/sim_network.h"
#include "engine/transport/transport.h"

namespace qsm {

class SimTransport final : public Transport {
 public:
  SimTransport(SimNetwork& network, size_t index, Endpoint local, Counters& counters, HostModel model);
  ~SimTransport() override;

  Endpoint local_endpoint() const override { return local_; }
  void SetHandler(TransportHandler* handler) override { handler_ = handler; }
  Status JoinGroup(Endpoint group) override;
  Status LeaveGroup(Endpoint group) override;
  SendStatus Send(Endpoint to, std::span<const std::byte> datagram) override;
  size_t SendBatch(std::span<const OutgoingDatagram> batch) override;
  void RequestWritable() override { writable_requested_ = true; }
  void WaitForInput(std::optional<TimePoint>) override {}
  Waker& waker() override { return no_waker_; }
  size_t PollInput() override;

  // Datagrams waiting in the receive buffer.
  size_t pending_input() const { return inbox_.size(); }

 private:
  friend class SimNetwork;
  struct Arrived {
    Endpoint from;
    std::shared_ptr<const std::vector<std::byte>> bytes;
  };
  class NoWaker final : public Waker {
   public:
    void Wake() override {}
  };
  // Called by the network when a datagram reaches this host. False: receive buffer full.
  bool Enqueue(const Endpoint& from, const std::shared_ptr<const std::vector<std::byte>>& bytes);
  void EgressDone(size_t bytes);
  bool InLossWindow(TimePoint t) const;

  SimNetwork& network_;
  size_t index_;
  Endpoint local_;
  Counters& counters_;
  HostModel model_;
  BufferPool pool_;
  TransportHandler* handler_ = nullptr;
  RingQueue<Arrived> inbox_;
  size_t inbox_bytes_ = 0;
  TimePoint egress_free_at_{};
  size_t egress_queued_bytes_ = 0;
  bool writable_requested_ = false;
  bool down_ = false;
  std::vector<std::pair<TimePoint, TimePoint>> loss_windows_;
  double inbound_loss_ = 0;
  NoWaker no_waker_;
  std::vector<std::byte> joined_;  // SendBatch's scratch for datagrams with a trailer
};

}  // namespace qsm
