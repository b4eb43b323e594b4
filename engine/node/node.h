// qsm::Node, the engine's public API: join and leave groups, send (or register a feed the node
// pulls from), receive deliveries, and take a stats snapshot. A node wires the parts together:
// the RegionMember of its region (receiving, rings, recovery), one RegionSender per region it
// sends to (sequence numbers, pending-ACK window, retransmission), the pull stack that feeds the
// transport, and, in a cluster with a GMS, the GmsClient that tells it its views.
//
// Membership: either static (InstallView with the node's region view; every group is sent to
// that region), or from a GMS (StartMembership): Join/Leave register the node's groups, the GMS
// computes its region and each group's regions, and the node follows every view change.
//
// Sending to a group: the message gets one sequence number per (sender, group) and, for each region
// the group spans, the next sequence number of that region; it is transmitted once per region, to
// the region's multicast address, and stays pending in each region's window until that region's
// leader acknowledges it. A region that lost it whole NAKs it and gets a retransmission (the
// inter-region level of PROTOCOL.md §5). The application is back-pressured per group: a group is
// ready when its regions are known and every window it needs has room; a feed is asked only for
// messages to ready groups, so a stuck region holds back its own groups, not the others.
//
// View changes: a new view of a region the node sends to re-sends, in the new view and in order,
// what the old view did not acknowledge; if the view adds members, new data to that region waits
// `view_change_suspend` so its rings can form. Packets for a region view this node has not
// installed yet are held (bounded in count, bytes and time) and replayed when the view arrives.
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
#include <deque>
#include <functional>
#include <map>
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
#include "engine/membership/gms_client.h"
#include "engine/node/control_outbox.h"
#include "engine/node/delivery_filter.h"
#include "engine/node/held_packets.h"
#include "engine/node/inbound_router.h"
#include "engine/region/region_member.h"
#include "engine/sender/send_targets.h"
#include "engine/transport/transport.h"
#include "engine/wire/packet_handler.h"

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
  // Messages of one region waiting to go out together are packed into one datagram of at most
  // this many bytes (wire::DataBatchPacket, at most wire::kMaxDataBatchBytes); 0: one message per
  // datagram. The daemon lowers it to what the multicast interface carries unfragmented.
  size_t datagram_bytes = 8972;
  Duration view_change_suspend = 200ms;  // after a view that adds members (orig: 0.2 s)
  HoldLimits hold;                       // packets for a region view not installed yet
};

// A message offered to the node by a feed.
struct OutgoingMessage {
  wire::GroupId group = 0;
  std::vector<std::byte> payload;
  // When the application meant to send it (for latency without coordinated omission); the epoch
  // of TimePoint{} means "now".
  TimePoint intended{};
};

// Whether the node can take a message to a group now (its regions are known and every window it
// needs has room for a message of the largest size).
using GroupReady = std::function<bool(wire::GroupId)>;

// The application side of the pull stack: the node asks for a message whenever it can send one.
class MessageFeed {
 public:
  virtual ~MessageFeed() = default;
  // Fills `out` with a message to a group `ready` accepts and returns true, or returns false if
  // there is no such message now. A message to a group that is not ready waits in the feed while
  // the other groups' messages go on (a feed that gives it anyway holds back every group).
  virtual bool Next(OutgoingMessage& out, const GroupReady& ready) = 0;
  // After Next() returned false: when a message to a group `ready` accepts is due. nullopt: not
  // until Node::Wake() (a group becoming ready wakes the node by itself).
  virtual std::optional<TimePoint> NextReady(const GroupReady& /*ready*/) const { return std::nullopt; }
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
  size_t regions = 0;         // regions this node is a member of
  size_t target_regions = 0;  // regions this node sends to
  uint64_t counter(Counter c) const { return counters[static_cast<size_t>(c)]; }
};

class Node final : public PacketHandler,
                   public IoHandler,
                   public RegionListener,
                   public membership::ViewListener {
 public:
  // All references must outlive the node.
  Node(NodeConfig config, Scheduler& scheduler, Transport& transport, Random& random);
  ~Node() override;

  wire::NodeId id() const { return config_.id; }

  // Installs the region view this node belongs to (a static view, or one from the GMS). A new
  // view of the region re-sends, in the new view, every message the old one did not acknowledge.
  // Errors: kInvalidArgument (not a multicast address; nothing installed); the transport's error
  // if the multicast group cannot be joined: the view is installed anyway (the rings must not
  // stall on this node; its data then comes only by repair) and kMulticastJoinFailures counts it.
  Status InstallView(const wire::RegionView& view);

  // Membership from a GMS from now on: registers with the groups joined so far, heartbeats, and
  // follows the views the GMS sends. `config.node` must be this node's id.
  Status StartMembership(membership::GmsClientConfig config);
  // Tells the GMS this node leaves the cluster (at shutdown).
  void LeaveCluster();
  const membership::GmsClient* gms() const { return gms_.get(); }

  // Group membership: delivery interest, and with a GMS, the node's groups there. Messages of
  // groups not joined are received and repaired for the region, not delivered.
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
  const RegionMember& region() const { return region_; }
  // The highest group seq g such that this node's messages 1..g to `group` were acknowledged by
  // every region they were sent to (so every member of those region views delivers them).
  uint64_t AcknowledgedThrough(wire::GroupId group) const;
  // The regions messages to `group` go to now (empty: not known yet).
  std::vector<uint32_t> RegionsOf(wire::GroupId group) const { return targets_.RegionsOf(group); }
  // The nodes a message to `group` sent now is for (sorted; empty before its views are known).
  std::vector<wire::NodeId> MembersOf(wire::GroupId group) const { return targets_.MembersOf(group); }

  // PacketHandler, IoHandler, RegionListener, ViewListener: engine internals.
  void OnPacket(const wire::Packet& packet, std::span<const std::byte> datagram, const Endpoint& from,
                TimePoint at) override;
  void OnWritable() override;
  void HandleIo(IoClass io_class, IoEvent& event) override;
  void OnRegionMessage(wire::NodeId sender, const wire::DataPacket& message, TimePoint at) override;
  bool DeliversOnArrival(wire::GroupId group) const override;
  uint64_t FirstOwnHeld() const override;
  bool OwnMessage(uint64_t seq, wire::DataPacket& out) const override;
  void OnOwnAck(const wire::AckPacket& ack) override;
  void OnRegionView(const wire::RegionView& view) override;
  void OnGroupView(const wire::GroupView& view) override;
  void OnUpdateComplete() override { targets_.ForgetDeparted(); }

 private:
  // The own region's view, if the node is in one.
  std::optional<wire::RegionViewId> own_view() const;
  std::optional<uint32_t> own_region() const {
    const auto view = own_view();
    return view ? std::optional<uint32_t>(view->region) : std::nullopt;
  }
  // Follows a view of a region this node sends to (creates the target if `create`).
  void FollowTarget(const wire::RegionView& view, bool create);
  void ReplayHeld();

  // The target an ACK or NAK for (`sender`, `rvid`) addresses: this node's, in its current view
  // (else nullptr, counted as kWrongView).
  SendTarget* TargetAddressed(wire::NodeId sender, const wire::RegionViewId& rvid);
  // From the network: an ACK counts only from the region leader of its view, a NAK only from a
  // member of it (kDroppedSource otherwise).
  void OnAckReceived(const wire::AckPacket& ack, const Endpoint& from);
  void OnNakReceived(const wire::RecoveryRequest& nak, const Endpoint& from);
  void ApplyAck(SendTarget& t, const wire::AckPacket& ack);
  void PostPump(IoClass io_class);
  void PumpRecovery();
  void PumpData();
  // The data packet for pending message `seq` of `target` (payload borrowed from `m`).
  wire::DataPacket PacketOf(const SendTarget& target, uint64_t seq, const PendingMessage& m) const;
  // Retransmits message `seq` to `target` (after a NAK, or as a tail probe).
  SendStatus Transmit(SendTarget& target, uint64_t seq, wire::PacketType type);
  // Takes the next message from the feed into the windows; false if none could be taken.
  bool PullFromFeed();
  // The next target with a message to transmit that is not suspended; the earliest end of a
  // suspension that held one back goes into `resume`.
  SendTarget* NextToTransmit(TimePoint now, std::optional<TimePoint>& resume);
  // After the pump found nothing to send: when to look at the feed again.
  void ArmFeedAlarm();
  // Encodes message `seq` of `target` into `buffer` (resized to the datagram), with the messages
  // that follow it if they fit in datagram_bytes; marks them transmitted and returns the last.
  uint64_t EncodeFrom(SendTarget& target, uint64_t seq, std::vector<std::byte>& buffer, TimePoint now);
  // The message after `seq` of `target` if it can join seq's datagram: packing is on, it is next
  // to transmit (taken from the feed if need be and no other region waits to transmit), its entry
  // fits in `room` bytes, and the send rate allows one more message (taken).
  const PendingMessage* NextToPack(SendTarget& target, uint64_t seq, size_t room, TimePoint now);
  // Own messages the transport took: the sender has them in its region from the first send on.
  void RecordOwnTransmitted(size_t sent);
  void ArmPumpAlarm(TimePoint at, IoClass io_class);
  void OnAckTimer(TimePoint now);
  // The ACK timer's period: ack_timeout / 2, jittered by +-25%, so that tail probes cannot stay in
  // phase with a periodic fault (a loss burst every 500 ms swallowed every probe, and a receiver
  // alone in its region never learned of the last messages).
  Duration AckCheckInterval() {
    return std::chrono::duration_cast<Duration>(config_.ack_timeout / 2 * (0.75 + 0.5 * random_.NextDouble()));
  }
  void RegisterGroups();

  NodeConfig config_;
  Scheduler& scheduler_;
  Transport& transport_;
  Counters& counters_;
  Random& random_;
  ControlOutbox control_{transport_, counters_};  // control waits for a full socket instead of being lost
  RegionMember region_;
  SendTargets targets_;
  std::unique_ptr<membership::GmsClient> gms_;
  InboundRouter router_;
  HeldPackets held_;
  DeliveryFilter delivery_;
  std::vector<SendTarget*> reserved_;  // the targets Reserve found for the next message
  std::function<void(const Delivery&)> on_deliver_;
  MessageFeed* feed_ = nullptr;
  OutgoingMessage feed_message_;
  bool feed_message_held_ = false;  // a feed broke its contract: a message to a group not ready waits
  GroupReady group_ready_ = [this](wire::GroupId g) { return targets_.CanTake(g, config_.max_payload_bytes); };
  TokenBucket data_rate_;
  TokenBucket recovery_rate_;
  bool pump_posted_[2] = {false, false};  // recovery, data
  bool blocked_ = false;                  // the transport said kWouldBlock; wait for OnWritable
  AlarmId pump_alarm_[2];
  AlarmId ack_timer_;
  Histogram delivery_latency_ns_;
  std::vector<std::byte> scratch_;
  // Packets sent per pump event; inbound I/O is handled between two events.
  static constexpr size_t kPumpBatch = 32;
  std::array<std::vector<std::byte>, kPumpBatch> batch_buffers_;
  std::array<OutgoingDatagram, kPumpBatch> batch_;
  struct Transmitted {
    SendTarget* target;
    uint64_t first, last;  // region seqs
  };
  std::array<Transmitted, kPumpBatch> batch_seqs_;  // each datagram's region and messages
};

}  // namespace qsm
