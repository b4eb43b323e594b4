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
#include <map>
#include <vector>

#include "engine/transport/transport.h"
#include "engine/wire/packet_handler.h"
#include "harness/drivers/static_view_driver.h"

namespace qsm::harness {

class UdpDriver final : public StaticViewDriver, public PacketHandler {
 public:
  // All references must outlive the driver. Drive it with a Dispatcher (it is the PacketHandler).
  UdpDriver(wire::NodeId id, Scheduler& scheduler, Transport& transport);

  Status InstallView(const wire::RegionView& view) override;
  Node::Memory MemoryUse() const override { return {}; }
  bool idle() const override { return outbox_.empty(); }

  void OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                TimePoint at) override;
  void OnWritable() override;

 private:
  static constexpr size_t kBatch = 32;  // datagrams per SendBatch

  // Sends what waits in the outbox, then pulls from the feed until it has nothing ready, the
  // socket is full, or kMaxPerPump messages went (then it goes on from an alarm, so that input
  // is read in between).
  void Pump() override;
  // Sends the outbox in batches; false if the socket is full (OnWritable() follows).
  bool Flush();

  wire::NodeId id_;
  Transport& transport_;
  std::map<wire::GroupId, uint64_t> group_seqs_;  // the last group_seq sent, per group
  uint64_t region_seq_ = 0;
  std::deque<std::vector<std::byte>> outbox_;  // encoded, not yet taken by the socket
  std::vector<std::vector<std::byte>> spare_;  // buffers of datagrams sent, for the next ones
  std::vector<OutgoingDatagram> batch_;       // Flush()'s, kept for its capacity
  bool waiting_writable_ = false;
  // Every group is ready while the socket takes datagrams (the outbox is a batch, not a queue).
  GroupReady ready_ = [this](wire::GroupId) {
    return view_.has_value() && !waiting_writable_ && outbox_.size() < kBatch;
  };
};

}  // namespace qsm::harness
