// One node's part in one region view (PROTOCOL.md §4-§5): receive windows per sender, in-order
// delivery, cooperative caching, the partition and region token rings, push/pull recovery between
// ring neighbours and across partitions, NAKs to senders, ACKs and cleanup.
//
// The token round, as this implementation runs it:
//   1. The region leader (member 0) starts round r at the token rate (next round after
//      max(1/rate - last RTT, 0.5/rate)); a round that has not returned within the token timeout
//      (max(min_token_timeout, 3 periods, 10 x smoothed RTT up to 5 s)) is started again as r+1
//      (a lost token is regenerated; older tokens are then dropped).
//   2. Each partition leader, holding the region token, runs its partition's ring: the partition
//      token visits the members in position order and returns to the leader. Every member folds
//      its state into each sender record (max highest seen, min contiguous prefix, intersection
//      of missing ranges, receive rates), and compares itself with its ring predecessor, whose
//      prefix and missing ranges the token carries: it pushes what the predecessor lacks and
//      pulls from it what it lacks. Messages cached by another partition are pulled from a random
//      member of that partition once the partition's prefix (from the region token) covers them.
//   3. Back at its leader, the partition's result goes into the region token; what no member of
//      the partition has, among the messages it caches, is NAKed to the sender. The region token
//      goes on to the next partition leader.
//   4. When the region token returns, the region-wide prefix is stable: the leader ACKs it to each
//      sender, and the next round carries it as the cleanup point (cached data up to it is freed).
// Every token hop is acknowledged by its receiver (kTokenAck) and re-sent with backoff until it is:
// under random loss a ring of N members would otherwise lose most rounds once N x loss nears 1.
// A hop that stays unanswered skips its member (ring_skip_after): whoever holds the region token
// for a partition leads that partition's round (its leader, or the next member standing in for a
// leader that does not answer), and a partition token that has visited (or skipped) every member
// of the partition is back at the member leading the round.
// Records are created conservatively: a record that appears mid-round claims nothing (prefix 0,
// no NAK), so a partial view of the region can never release or NAK anything.
//
// Sans-I/O: time comes with every event; packets go out through Transport (control, at once) and
// through the recovery queue (forwards, built lazily by the node's pump at send time).
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include <boost/unordered/unordered_flat_set.hpp>

#include "engine/core/counters.h"
#include "engine/core/histogram.h"
#include "engine/core/random.h"
#include "engine/core/scheduler.h"
#include "engine/region/layout.h"
#include "engine/region/message_store.h"
#include "engine/region/receive_window.h"
#include "engine/region/token_hops.h"
#include "engine/transport/transport.h"
#include "engine/wire/packets.h"

namespace qsm {

struct RegionConfig {
  size_t replication = 5;               // R: members per partition between R and 2R-1
  double token_rate = 5;                // rounds per second (paper: 1 to 5); adaptive: the idle pace
  // Adaptive rounds (the default): a round comes every time pending_target messages have arrived
  // at the region's current rate (measured between round ends), at most every 1/token_rate and at
  // least every min_round_period. The ACK clock then keeps up with the load (what waits for an
  // ACK stays near pending_target messages plus one round's worth, so the sender's window does not
  // cap throughput), and an idle region still goes at token_rate and quiets. Fixed (false): every
  // round at token_rate, as in the paper's token-rate experiments (Fig 17-20).
  bool adaptive_rounds = true;
  size_t pending_target = 1024;
  Duration min_round_period = 1ms;
  Duration min_token_timeout = 200ms;   // a round is regenerated after max(this, 3/rate, 10 x smoothed RTT <= 5 s)
  int idle_rounds_to_drop = 3;          // a sender whose records stay unchanged this long leaves the token
  Duration token_hop_timeout = 10ms;    // a token hop not acknowledged is re-sent, backing off x2...
  Duration token_hop_give_up = 2s;      // ...until this much time has passed (then the round regenerates)
  // A token hop unanswered this long skips its member. Partition ring: the token goes to the next
  // member as if the skipped one had visited, claiming nothing (the round acknowledges no
  // progress: the skipped member may lack it), so the others' repair goes on while it is
  // suspected. Region ring: the next member of the skipped partition leader's partition leads
  // that partition's round in its place (the partition ring then skips the leader like any
  // member); a partition none of whose members answers is left out of the round, claiming
  // nothing. The hop back to the member leading a round is never skipped. Counted as
  // ring_members_skipped. Zero: never skip.
  Duration ring_skip_after = 200ms;
  // A member skipped once stays suspected, and later hops to it are skipped after this, until it
  // acknowledges a hop again.
  Duration suspect_skip_after = 10ms;
  size_t max_recovery_per_token = 512;  // forwards queued per sender record per token visit
  // Forwards waiting to go out, pushes and pulls of all members together; beyond it a forward is
  // not queued (recovery_refused) and the next round asks again. Bounds what requests can make a
  // member hold, whoever sends them.
  size_t max_recovery_queue = size_t{1} << 18;
  // A token is fitted to this many bytes (at most the transport's datagram size): range lists are
  // shortened, then sender records left for later rounds, which then come faster (see StartRound).
  size_t max_token_bytes = 8192;
  // While a round ends with some member still lacking messages that were already seen a round
  // earlier (loss that repair has not caught up with), rounds come this many times faster: repair
  // capacity grows with the loss. Also what wakes a stalled region: while a member sleeps, the
  // sender's window fills and no new data arrives, so rounds fall to the token rate; at 4 (200 ms
  // / 4) a receiver that woke waited up to 50 ms more for the round that releases the sender.
  double repair_speedup = 20;
};

// What a region member hands to the node above it.
class RegionListener {
 public:
  virtual ~RegionListener() = default;
  // A message from `sender`, in region sequence order (so FIFO per sender and group), once.
  virtual void OnRegionMessage(wire::NodeId sender, const wire::DataPacket& message, TimePoint at) = 0;
  // Whether messages of `group` go up on first receipt instead of in order.
  virtual bool DeliversOnArrival(wire::GroupId group) const = 0;
  // This node's own messages, which its sender holds until they are acknowledged: the region
  // member forwards them from there instead of keeping a second copy. The first seq still held
  // (every seq from it to the highest sent is held), and one message (false if not held).
  virtual uint64_t FirstOwnHeld() const = 0;
  virtual bool OwnMessage(uint64_t seq, wire::DataPacket& out) const = 0;
  // The region leader's ACK of this node's own messages: handed over here, not sent to itself over
  // the network (where its loss, a few rounds in a row, left the leader's own window undrained).
  virtual void OnOwnAck(const wire::AckPacket& ack) = 0;
};

struct RegionStats {
  Histogram partition_rtt_ns;  // partition leader: partition round duration
  Histogram region_rtt_ns;     // region leader: region round duration
  size_t cache_bytes = 0;      // payload bytes held: cached until stable, or waiting for delivery
  size_t cached_messages = 0;
};

class RegionMember {
 public:
  struct Env {
    Scheduler& scheduler;
    Transport& transport;
    Random& random;
    Counters& counters;
    Transport* control = nullptr;  // tokens, token acks, ACKs, NAKs, pulls (null: `transport`)
  };
  // All references must outlive the member.
  RegionMember(Env env, RegionConfig config, wire::NodeId self, RegionListener& listener);
  ~RegionMember();

  // Installs a region view. A different view resets every per-view structure (windows, caches,
  // rings); senders re-send what the old view did not acknowledge. A view without this node
  // leaves the region (has_view() is then false).
  void InstallView(const wire::RegionView& view);
  bool has_view() const { return layout_.has_value(); }
  const RegionLayout& layout() const { return *layout_; }

  // A packet whose scope is the region (data, data batch, retransmission, forward, tokens, token
  // ACK, pull request; already decoded, routed here by the node). Dispatches to the handlers below.
  void OnPacket(const wire::Packet& packet, const Endpoint& from, TimePoint at);
  // One message that came in a packet of `type` (a batch's messages come as kData) from `source`.
  void OnData(wire::PacketType type, wire::NodeId source, const wire::DataPacket& data, const Endpoint& from,
              TimePoint at);
  void OnToken(const wire::Packet& packet, const Endpoint& from, TimePoint at);
  void OnTokenAck(const wire::TokenAckPacket& ack, const Endpoint& from);
  void OnPullRequest(const wire::RecoveryRequest& request, const Endpoint& from);

  // This node's own multicast, recorded as received and delivered at once (the sender always has
  // its own messages; they stay in the sender's pending window, not in this member's store).
  void OnOwnMessage(const wire::DataPacket& message, TimePoint at);

  // Recovery feed for the node's pump: builds and sends the next queued forward that is still
  // possible (lazily: a forward whose message is gone is skipped). With datagram_bytes > 0, the
  // queued forwards that continue it (same member, same sender, next seqs, still held) go in the
  // same kForwardBatch datagram, up to that size. kWouldBlock keeps them queued.
  enum class RecoveryResult { kSent, kNothingQueued, kWouldBlock };
  RecoveryResult SendNextRecovery(std::vector<std::byte>& scratch, size_t datagram_bytes = 0);
  bool has_recovery() const { return !recovery_.empty(); }

  const RegionStats& stats() const { return stats_; }
  // Messages this node holds per sender: contiguous prefix and highest seen (for tests).
  std::optional<std::pair<uint64_t, uint64_t>> WindowOf(wire::NodeId sender) const;

 private:
  struct SenderState {
    ReceiveWindow window;
    uint64_t delivered = 0;             // region seqs delivered: 1..delivered
    uint64_t cleanup = 0;               // cached messages <= cleanup are freed
    MessageStore store;                 // held for delivery, or cached until stable
    uint64_t received_since_visit = 0;  // for the receive rate
    TimePoint last_visit{};
    uint64_t seen_by_region_at_visit = 0;  // the token's highest seen at this member's last visit
    // A new message came from the sender itself (data or retransmission, not a forward) since
    // this member's last visit: its stream is still flowing (RepairUpTo).
    bool heard_from_sender = false;
    bool active = false;  // received something since the last token visit
  };
  // Which message goes to whom.
  struct ForwardKey {
    Endpoint to;
    wire::NodeId sender = 0;
    uint64_t seq = 0;
    friend bool operator==(const ForwardKey&, const ForwardKey&) = default;
  };
  struct ForwardKeyHash {
    size_t operator()(const ForwardKey& k) const noexcept;
  };
  struct Forward : ForwardKey {
    Counter kind;  // kRecoveryPush or kRecoveryPull
  };
  // Region leader's memory of each sender across rounds.
  struct LeaderSender {
    uint64_t stable = 0;
    uint64_t highest = 0;  // highest seen anywhere in the region, as of the last round
    std::vector<uint64_t> partition_contiguous;
    int idle_rounds = 0;
    uint64_t last_round = 0;  // the last round that carried this sender's record back
  };

  // The state of `sender`, created on first use; null when too many senders are tracked.
  SenderState* State(wire::NodeId sender);
  // Region leader: `sender` is active; start rounds if the token is quiet.
  void NoteActivity(wire::NodeId sender, TimePoint at);
  // Calls f(seq) for the messages of `sender` in [first, last] this node can forward, ascending,
  // while f returns true: its own from the sender's window, others from the store.
  template <typename F>
  void ForEachHeld(wire::NodeId sender, SenderState& s, uint64_t first, uint64_t last, F&& f) {
    if (sender != self_) {
      s.store.ForEach(first, last, [&](uint64_t seq, StoredMessage&) { return f(seq); });
      return;
    }
    const uint64_t end = std::min(last, s.window.highest());
    for (uint64_t seq = std::max(first, listener_.FirstOwnHeld()); seq <= end; ++seq) {
      if (!f(seq)) return;
    }
  }
  // How far this member repairs (pulls, or asks others to push, or NAKs) what it lacks of a
  // sender whose highest seen in the region is `token_highest`: up to what it has seen itself (a
  // gap below that is lost: data arrives in order), and up to what the region had seen by its
  // last visit only if nothing came from the sender itself since (its tail was lost, or this
  // member is cut off; forwards do not count, so a cut-off member keeps repairing every visit).
  // While the sender's messages keep arriving, those above its own highest are most likely
  // still queued to it (a member a few rounds behind, waiting for a core, has them in its
  // socket buffer; the token is read before data): pulling them would only bring duplicates.
  static uint64_t RepairUpTo(const SenderState& s, uint64_t token_highest);
  void Store(SenderState& s, const wire::DataPacket& m);
  void DeliverReady(wire::NodeId sender, SenderState& s, TimePoint at);
  void Cleanup(SenderState& s, uint64_t upto);
  void EraseStored(SenderState& s, uint64_t seq);

  // Region leader: starts round `round_ + 1` now.
  void StartRound(TimePoint now);
  // Region leader: schedules the next round (after a completed one) or the first one.
  void ScheduleRound(TimePoint at);
  // Partition leader, on receiving the region token: starts its partition's round.
  void BeginPartitionRound(wire::TokenPacket region_token, TimePoint now);
  // Any member: folds its state into the partition token, recovers with its predecessor.
  void VisitPartitionToken(wire::TokenPacket& token, bool first, TimePoint now);
  // Any member, when the token comes from its ring predecessor: pushes what the predecessor lacks,
  // pulls from it what this node lacks.
  void CompareWithPredecessor(const wire::SenderRecord& record, size_t predecessor);
  // Any member, once per visit: pulls what it lacks from random members of the partitions that
  // cache it, as far as their prefixes (in the token's partition table) vouch for them.
  void PullAcrossPartitions(const wire::SenderRecord& record);
  // Partition leader, when its partition token returns: NAKs, then passes the region token on.
  void CompletePartitionRound(const wire::TokenPacket& token, TimePoint now);
  // Region leader, when the region token returns: ACKs, cleanup point, next round.
  void CompleteRegionRound(const wire::TokenPacket& token, TimePoint now);

  void SendControl(const Endpoint& to, const wire::Packet& packet);
  std::optional<Endpoint> SenderEndpoint(wire::NodeId sender) const;
  // Queues a forward unless the same one is queued, or the queue holds max_recovery_queue
  // (recovery_refused: the next round asks again).
  void QueueForward(const Endpoint& to, wire::NodeId sender, uint64_t seq, Counter kind);
  // Token acceptance, besides the view: a partition token only from a member of this partition,
  // a region token only from a member of an earlier partition (or, back at the region leader, from
  // any member); anything else is dropped as dropped_source.
  bool MayPassTokenHere(wire::PacketType type, const wire::TokenPacket& token, const Endpoint& from) const;
  // The highest round the leader can have started by `at`: one per min_round_period since this
  // member last saw a new round, plus kRoundAheadSlack's worth (dropped_token_round beyond it).
  uint64_t MaxPlausibleRound(TimePoint at) const;
  void PullFrom(const Endpoint& to, wire::NodeId sender, const std::vector<wire::SeqRange>& ranges);
  Duration TokenPeriod() const;
  // At the region leader, when a round ends: the next round's period, TokenPeriod or (adaptive
  // rounds) shorter with the rate messages arrive at since the previous round ended.
  Duration RoundPeriod(TimePoint now);
  // Fits `token` to a datagram and sends it as a hop (TokenHops; `skip_after` as there). Returns
  // the hop's acknowledgement key.
  wire::TokenAckPacket PassToken(const Endpoint& to, wire::PacketType type, wire::TokenPacket token,
                                 std::optional<Duration> skip_after = std::nullopt);
  // Passes a partition or region token to member `to` (by index), remembered for SkipUnanswered.
  void PassPartitionToken(size_t to, wire::TokenPacket token);
  void PassRegionToken(size_t to, wire::TokenPacket token);
  void PassRemembered(size_t to, wire::PacketType type, wire::TokenPacket token);
  // TokenHops' unanswered hop: if it is the token this node last passed, passes it on over the
  // member that does not answer (see ring_skip_after) and returns true.
  bool SkipUnanswered(const wire::TokenAckPacket& key, const Endpoint& to);
  // Partition ring: to the member after, claiming nothing; never the hop back to the round's leader.
  bool SkipInPartitionRing();
  // Region ring: to the next member of the same partition, which leads the partition's round in
  // its leader's place; if none answers, to the next partition, this one claiming nothing. Never
  // the hop back to the region leader.
  bool SkipInRegionRing();
  // Whether this node, leading its partition's round, gives the round up to `token` (a partition
  // token of the same round led by another member). Two lead one round when a skipped partition
  // leader wakes and starts the round its stand-in already leads (or a skipped stand-in, the
  // round of the one after it): the later stand-in, at the higher position, keeps it, and the
  // other visits its token as an ordinary member.
  bool YieldsTo(const wire::TokenPacket& token) const;
  bool IsCurrent(const wire::RegionViewId& rvid) const { return layout_ && layout_->view().id == rvid; }

  Env env_;
  RegionConfig config_;
  wire::NodeId self_;
  RegionListener& listener_;
  std::optional<RegionLayout> layout_;

  std::map<wire::NodeId, SenderState> senders_;
  std::unordered_map<wire::NodeId, Endpoint> sender_endpoints_;  // learned from their data packets
  std::deque<Forward> recovery_;
  // The queued forward's message, if this member still holds it.
  std::optional<wire::DataPacket> HeldForForward(const Forward& f);
  void ForwardSent(const Forward& f);
  // The keys of recovery_, so that a pull repeated before its answer went out queues nothing new.
  // Open addressing: queueing and sending a forward allocate nothing once the table has grown.
  boost::unordered_flat_set<ForwardKey, ForwardKeyHash> queued_forwards_;

  // Rounds.
  uint64_t round_ = 0;          // highest round seen in this view
  TimePoint round_seen_at_{};   // when round_ last grew (or the view was installed)
  // Per member (view index): the forwards its pull requests may still cause in round `round`.
  struct PullBudget {
    uint64_t round = UINT64_MAX;  // none yet
    uint64_t left = 0;
  };
  std::vector<PullBudget> pull_budgets_;
  uint64_t visited_round_ = 0;  // last round whose partition token this node folded into
  uint64_t completed_partition_round_ = 0;
  uint64_t completed_region_round_ = 0;
  std::optional<wire::TokenPacket> held_region_token_;  // partition leader, during its round
  TimePoint partition_round_start_{};
  // Region leader.
  std::map<wire::NodeId, LeaderSender> leader_senders_;
  TimePoint round_start_{};
  Duration last_rtt_{};
  uint64_t seen_at_round_end_ = 0;  // the sum of every active sender's highest seq, when it ended
  TimePoint last_round_end_{};
  Duration smoothed_rtt_{};  // EWMA of region round durations (1/8 of each new one)
  bool round_running_ = false;
  AlarmId next_round_alarm_;
  AlarmId timeout_alarm_;

  TokenHops hops_;  // token hops sent and not yet acknowledged

  RegionStats stats_;
  std::vector<wire::SeqRange> scratch_ranges_;
  // The token this node last passed, and to which member (for SkipUnanswered).
  struct PassedToken {
    wire::TokenAckPacket key;
    wire::PacketType type;
    size_t to = 0;
    wire::TokenPacket token;
  };
  std::optional<PassedToken> last_passed_;
  std::set<size_t> suspected_;  // members skipped and not heard from since (by index in the view)
};

}  // namespace qsm
