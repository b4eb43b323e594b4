// qsm::Node, the engine's public API: join and leave groups, send (or register a feed the node
// pulls from), receive deliveries, and take a stats snapshot. A node wires the parts together:
// the RegionMember (receiving, rings, recovery) and the RegionSender (sequence numbers, pending-ACK
// window, retransmission) of its region, and the pull stack that feeds the transport.
//
// The pull stack (PROTOCOL.md §6): nothing is queued between layers. When the transport can take
// data, the node's pump (an outbound I/O event, so inbound work always goes first) pulls, in
// order: recovery (forwards this node owes its peers, then retransmissions NAKs asked for; rate
// limited), then data (messages assigned but not yet transmitted, then new ones from the feed
// while the window has room and the send rate allows). Packets are built at that moment from
// what the node holds then, so nothing stale is sent.
//
// Delivery: exactly once per (sender, group, group sequence number), FIFO per sender and group;
// a group joined as unordered gets each message on first receipt instead, still exactly once.
// Threading: core thread only (drive it with RunLoop, or from the simulator).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/core/histogram.h"
#include "engine/core/random.h"
#include "engine/core/scheduler.h"
#include "engine/core/token_bucket.h"
#include "engine/node/dispatcher.h"
#include "engine/region/receive_window.h"
#include "engine/region/region_member.h"
#include "engine/sender/region_sender.h"
#include "engine/transport/transport.h"

namespace qsm {

struct NodeConfig {
  wire::NodeId id = 0;  // non-zero, unique in the cluster
  RegionConfig region;
  SenderWindow window;
  double send_rate = 0;        // messages/s this node sends; 0: as fast as it can
  bool adaptive_rate = false;  // cap the rate at the slowest receiver's rate x (1 + growth)
  double rate_growth = 0.1;
  double recovery_rate = 50000;  // recovery packets/s this node may send
  Duration ack_timeout = 1s;     // no ACK progress for this long: resend the highest message
  size_t max_payload_bytes = 8192;
};

// A message offered to the node by a feed.
struct OutgoingMessage {
  wire::GroupId group = 0;
  std::vector<std::byte> payload;
  // When the application meant to send it (for latency without coordinated omission); the epoch
  // of TimePoint{} means "now".
  TimePoint intended{};
};

// The application side of the pull stack: the node asks for a message whenever it can send one.
class MessageFeed {
 public:
  virtual ~MessageFeed() = default;
  // Fills `out` and returns true, or returns false if there is nothing to send now.
  virtual bool Next(OutgoingMessage& out) = 0;
  // After Next() returned false: when to ask again. nullopt: not until Node::Wake().
  virtual std::optional<TimePoint> NextReady() const { return std::nullopt; }
};

struct Delivery {
  wire::GroupId group;
  wire::NodeId sender;
  uint64_t group_seq;
  std::span<const std::byte> payload;  // valid during the callback only
  int64_t send_time_ns;                // intended send time, sender's clock
  TimePoint delivered_at;
};

struct NodeStats {
  std::array<uint64_t, kCounterCount> counters{};
  Histogram partition_rtt_ns;
  Histogram region_rtt_ns;
  Histogram delivery_latency_ns;
  Histogram timer_lateness_ns;  // the node's scheduler: how late alarms fired
  size_t pending_messages = 0;
  size_t pending_bytes = 0;
  size_t cache_bytes = 0;
  size_t cached_messages = 0;
  std::array<size_t, kIoClassCount> io_queue_depths{};  // the scheduler's queues, by I/O class
  size_t alarms_pending = 0;
  size_t groups_joined = 0;
  size_t regions = 0;  // regions this node is a member of
  uint64_t counter(Counter c) const { return counters[static_cast<size_t>(c)]; }
};

class Node final : public PacketHandler, public IoHandler, public RegionListener {
 public:
  // All references must outlive the node.
  Node(NodeConfig config, Scheduler& scheduler, Transport& transport, Random& random);
  ~Node() override;

  wire::NodeId id() const { return config_.id; }

  // Installs the region view this node belongs to (a static view, or one from the GMS). A new
  // view of the region re-sends, in the new view, every message the old one did not acknowledge.
  Status InstallView(const wire::RegionView& view);

  // Delivery interest. Messages of groups not joined are received and repaired, not delivered.
  Status Join(wire::GroupId group, bool unordered = false);
  void Leave(wire::GroupId group);

  // Sends now if the pending-ACK window has room; false is back-pressure (nothing was taken).
  bool Send(wire::GroupId group, std::span<const std::byte> payload);
  // `feed` (may be null) must outlive the node or be replaced; the node pulls from it.
  void SetFeed(MessageFeed* feed);
  // The feed has something again.
  void Wake() { PostPump(IoClass::kOutboundData); }
  void SetDeliveryHandler(std::function<void(const Delivery&)> handler) { on_deliver_ = std::move(handler); }

  NodeStats Snapshot() const;
  // The memory gauges alone: pending-ACK and cache sizes, without copying histograms. Cheap
  // enough to sample often.
  struct Memory {
    size_t pending_messages = 0;
    size_t pending_bytes = 0;
    size_t cache_bytes = 0;
    size_t cached_messages = 0;
  };
  Memory MemoryUse() const;
  bool idle() const;  // nothing pending, nothing to recover, nothing cached
  const RegionMember& region() const {
    return region_;
  }  // nothing pending, nothing to recover, nothing to send

  // PacketHandler, IoHandler, RegionListener: engine internals.
  void OnPacket(const wire::Packet& packet, const Endpoint& from, TimePoint at) override;
  void OnWritable() override;
  void HandleIo(IoClass io_class, IoEvent& event) override;
  void OnRegionMessage(wire::NodeId sender, const wire::DataPacket& message, TimePoint at) override;
  bool DeliversOnArrival(wire::GroupId group) const override;
  void OnAck(const wire::AckPacket& ack) override;
  void OnNak(const wire::RecoveryRequest& nak) override;
  uint64_t FirstOwnHeld() const override;
  bool OwnMessage(uint64_t seq, wire::DataPacket& out) const override;

 private:
  struct GroupDelivery {
    uint64_t last = 0;                    // ordered: highest group seq delivered
    std::unique_ptr<ReceiveWindow> seen;  // unordered groups: every group seq delivered
  };

  void PostPump(IoClass io_class);
  void PumpRecovery();
  void PumpData();
  // The data packet for pending message `seq` (payload borrowed from `m`).
  wire::DataPacket PacketOf(uint64_t seq, const PendingMessage& m) const;
  // Retransmits message `seq` (after a NAK, or as a tail probe).
  SendStatus Transmit(uint64_t seq, wire::PacketType type);
  bool PullFromFeed();
  void ArmPumpAlarm(TimePoint at, IoClass io_class);
  void OnAckTimer(TimePoint now);

  NodeConfig config_;
  Scheduler& scheduler_;
  Transport& transport_;
  Counters& counters_;
  RegionMember region_;
  std::optional<RegionSender> sender_;
  std::unordered_map<wire::GroupId, uint64_t> group_seqs_;  // next group seq per group sent to
  std::unordered_map<wire::GroupId, bool> joined_;          // group -> unordered
  std::unordered_map<uint64_t, GroupDelivery> delivered_;   // (sender << 32 | group)
  std::function<void(const Delivery&)> on_deliver_;
  MessageFeed* feed_ = nullptr;
  OutgoingMessage feed_message_;
  TokenBucket data_rate_;
  TokenBucket recovery_rate_;
  bool pump_posted_[2] = {false, false};  // recovery, data
  bool blocked_ = false;                  // the transport said kWouldBlock; wait for OnWritable
  AlarmId pump_alarm_[2];
  AlarmId ack_timer_;
  TimePoint last_ack_progress_{};
  Histogram delivery_latency_ns_;
  std::vector<std::byte> scratch_;
  // Packets sent per pump event; inbound I/O is handled between two events.
  static constexpr size_t kPumpBatch = 32;
  std::array<std::vector<std::byte>, kPumpBatch> batch_buffers_;
  std::array<OutgoingDatagram, kPumpBatch> batch_;
};

}  // namespace qsm
