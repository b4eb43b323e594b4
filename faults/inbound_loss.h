// In-process network faults for a real node: InboundLoss is a Transport decorator that drops
// incoming datagrams - all of them inside loss-burst windows, and each one with a fixed
// probability otherwise (random loss). Dropped datagrams are counted as kDroppedFault. Outgoing
// traffic passes untouched. The simulator has its own equivalents in SimNetwork.
//
// Use: build the node's Dispatcher on the InboundLoss instead of the inner transport.
// Threading: core thread only, like the inner transport (waker() is the inner one's).
#pragma once

#include <vector>

#include "engine/core/counters.h"
#include "engine/core/random.h"
#include "engine/transport/transport.h"

namespace qsm::faults {

struct TimeWindow {
  TimePoint start;
  TimePoint end;  // exclusive
};

class InboundLoss final : public Transport, private TransportHandler {
 public:
  // `inner` and `counters` must outlive this object. `bursts` must be sorted by start.
  InboundLoss(Transport& inner, Counters& counters, std::vector<TimeWindow> bursts, double loss_rate,
              uint64_t seed);
  ~InboundLoss() override;

  Endpoint local_endpoint() const override { return inner_.local_endpoint(); }
  void SetHandler(TransportHandler* handler) override { handler_ = handler; }
  Status JoinGroup(Endpoint group) override { return inner_.JoinGroup(group); }
  Status LeaveGroup(Endpoint group) override { return inner_.LeaveGroup(group); }
  SendStatus Send(Endpoint to, std::span<const std::byte> datagram) override {
    return inner_.Send(to, datagram);
  }
  size_t SendBatch(std::span<const OutgoingDatagram> batch) override { return inner_.SendBatch(batch); }
  void RequestWritable() override { inner_.RequestWritable(); }
  void WaitForInput(std::optional<TimePoint> deadline) override { inner_.WaitForInput(deadline); }
  Waker& waker() override { return inner_.waker(); }
  size_t PollInput() override { return inner_.PollInput(); }

  // True if a datagram arriving at `at` is dropped by a burst window.
  bool InBurst(TimePoint at);

 private:
  void OnReceive(const Endpoint& from, PooledBuffer datagram, TimePoint at) override;
  void OnWritable() override;

  Transport& inner_;
  Counters& counters_;
  std::vector<TimeWindow> bursts_;
  size_t next_burst_ = 0;  // Invariant: every burst before it ended before the last datagram seen
  double loss_rate_;
  Random random_;
  TransportHandler* handler_ = nullptr;
};

}  // namespace qsm::faults
