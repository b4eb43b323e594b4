// The raw UDP multicast driver: the baseline with no reliability at all. Each message is one kData
// datagram (the engine's wire format, so the cluster key and the in-process loss work as for QSM)
// multicast once to the region's address and never repaired; a receiver delivers what arrives,
// in arrival order (and its own messages as it sends them, as a QSM node does). Nothing is pending and nothing is cached; the load is paced by the plan's rate
// or, at maximum rate, by the socket alone, so a receiver that falls behind loses what its socket
// buffer cannot hold, and the delivery check reports the loss (EngineGuarantees{false, false}).
// It runs over any Transport, so on real sockets and in the simulator alike.
// Threading: core thread only.
#pragma once

#include <deque>
#include <set>
#include <vector>

#include "engine/core/scheduler.h"
#include "engine/transport/transport.h"
#include "engine/wire/packet_handler.h"
#include "harness/workload/engine_driver.h"

namespace qsm::harness {

class UdpDriver final : public EngineDriver, public PacketHandler {
 public:
  // All references must outlive the driver. Drive it with a Dispatcher (it is the PacketHandler).
  UdpDriver(wire::NodeId id, Scheduler& scheduler, Transport& transport);
  ~UdpDriver() override;

  Status InstallView(const wire::RegionView& view) override;
  Status Join(wire::GroupId group) override;
  std::vector<wire::NodeId> MembersOf(wire::GroupId group) const override;
  void SetFeed(MessageFeed* feed) override;
  void Wake() override;
  void SetDeliveryHandler(std::function<void(const Delivery&)> handler) override {
    on_deliver_ = std::move(handler);
  }
  NodeStats Snapshot() const override;
  Node::Memory MemoryUse() const override { return {}; }
  bool idle() const override { return outbox_.empty(); }

  void OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                TimePoint at) override;
  void OnWritable() override;

 private:
  // Sends what waits in the outbox, then pulls from the feed until it has nothing ready, the
  // socket is full, or kMaxPerPump messages went (then it goes on from an alarm, so that input
  // is read in between).
  void Pump();
  // Sends the outbox in batches; false if the socket is full (OnWritable() follows).
  bool Flush();

  static constexpr size_t kBatch = 32;  // datagrams per SendBatch
  void ArmPumpAlarm(TimePoint at);
  // To the application, if it joined the message's group.
  void Deliver(const wire::DataPacket& m, TimePoint at);

  wire::NodeId id_;
  Scheduler& scheduler_;
  Transport& transport_;
  MessageFeed* feed_ = nullptr;
  std::function<void(const Delivery&)> on_deliver_;
  std::optional<wire::RegionView> view_;
  std::set<wire::GroupId> joined_;
  std::map<wire::GroupId, uint64_t> group_seqs_;  // the last group_seq sent, per group
  uint64_t region_seq_ = 0;
  std::deque<std::vector<std::byte>> outbox_;  // encoded, not yet taken by the socket
  bool waiting_writable_ = false;
  AlarmId pump_alarm_;
  std::optional<TimePoint> pump_at_;
  Histogram delivery_latency_ns_;
  // Every group is ready while the socket takes datagrams (the outbox is a batch, not a queue).
  GroupReady ready_ = [this](wire::GroupId) { return view_.has_value() && !waiting_writable_ && outbox_.size() < kBatch; };
};

}  // namespace qsm::harness
