// The sending side of one region view at one sender (PROTOCOL.md §3): region sequence numbers,
// the pending-ACK window, release on the region leader's ACK, and the retransmissions that NAKs
// ask for. Messages are kept until acknowledged; the window bounds them in count and bytes, and a
// full window is back-pressure: the node stops pulling from the application.
// Threading: core thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "engine/core/time.h"
#include "engine/sender/window_sizer.h"
#include "engine/wire/packets.h"

namespace qsm {

// The pending-ACK window: what a sender keeps until the region acknowledges it.
struct SenderWindow {
  // A fixed window of this many messages (the default). 0: the window adapts to the path
  // (WindowSizer: gain x bandwidth-delay product, at least min_bytes); not the default because
  // it measured worse on loopback (engine/README.md).
  size_t max_messages = 20000;
  size_t max_bytes = 64 << 20;  // payload bytes pending at most, fixed or adaptive: the memory cap
  size_t min_bytes = 1 << 20;   // adaptive: the window never shrinks below this
  double gain = 2;              // adaptive: the window allows this many times the measured BDP
};

struct PendingMessage {
  wire::GroupId group = 0;
  uint64_t group_seq = 0;
  int64_t send_time_ns = 0;
  std::vector<std::byte> payload;
  bool catch_up = false;  // wire::DataPacket::catch_up
};

class RegionSender {
 public:
  RegionSender(wire::RegionViewId rvid, SenderWindow window);
  // A sender for the next view of the same region: the window's estimate of the path carries over.
  RegionSender(wire::RegionViewId rvid, SenderWindow window, const RegionSender& previous);

  wire::RegionViewId rvid() const { return rvid_; }
  // Whether a new message of this size may enter the window (the adaptive limit or the fixed one).
  bool HasRoom(size_t payload_bytes) const;
  // Whether a message fits under the hard caps (max_messages if set, max_bytes): messages carried
  // from another view or region need only this, so that carrying never leaves a gap.
  bool Fits(size_t payload_bytes) const;
  // Assigns the next region sequence number and keeps the message. Requires Fits().
  uint64_t Add(PendingMessage message);
  // The pending message with this sequence number, or null.
  const PendingMessage* Find(uint64_t seq) const;

  // The next assigned message not yet transmitted once, or nullopt.
  std::optional<uint64_t> NextUntransmitted() const;
  void MarkTransmitted(uint64_t seq, TimePoint now);
  // The transport refused `seq` and what follows: they are transmitted again later.
  void UnmarkTransmitted(uint64_t seq) { transmitted_ = std::min(transmitted_, seq - 1); }

  // Releases every message with seq <= stable. Returns how many were released.
  size_t OnAck(uint64_t stable, TimePoint now);
  // Queues retransmission of whatever in `ranges` is still pending and already transmitted, and
  // neither queued already nor retransmitted within kRetransmitHoldoff: every partition of a
  // region that lost a burst NAKs it in the same round, and one retransmission (multicast to the
  // whole region) answers them all.
  void OnNak(std::span<const wire::SeqRange> ranges, TimePoint now);
  // The next queued retransmission still pending, or nullopt; it counts as retransmitted at `now`.
  // Lazy: a NAKed message that was acknowledged meanwhile is skipped here, never built.
  std::optional<uint64_t> PopRetransmit(TimePoint now);
  static constexpr Duration kRetransmitHoldoff = 20ms;
  // The transport refused the retransmission PopRetransmit() gave: it goes first again.
  void RequeueRetransmit(uint64_t seq);
  bool has_retransmits() const { return !retransmit_.empty(); }

  // An empty buffer with the capacity of a released message's payload (or a new one): the node
  // fills new messages into these, so a steady stream allocates nothing per message.
  std::vector<std::byte> TakeSpareBuffer();

  // The lowest group seq of `group` still pending here, if any (walks the window).
  std::optional<uint64_t> LowestPendingGroupSeq(wire::GroupId group) const;
  // Calls f(message) for every pending message, in seq order.
  template <typename F>
  void ForEachPending(F&& f) const {
    for (const PendingMessage& m : pending_) f(m);
  }
  // Everything not yet acknowledged, in order (for re-sending in a new view).
  std::vector<PendingMessage> TakeUnacknowledged();

  uint64_t stable() const { return stable_; }
  uint64_t highest_assigned() const { return stable_ + pending_.size(); }
  uint64_t highest_transmitted() const { return transmitted_; }
  size_t pending_messages() const { return pending_.size(); }
  size_t pending_bytes() const { return pending_bytes_; }
  // The window's current limit in payload bytes.
  size_t window_bytes() const { return window_.max_messages > 0 ? window_.max_bytes : sizer_.limit_bytes(); }

 private:
  static constexpr size_t kMaxQueuedRetransmitRanges = 1024;
  static constexpr size_t kMaxSpareBuffers = 4096;

  wire::RegionViewId rvid_;
  SenderWindow window_;
  WindowSizer sizer_;
  // Invariant: pending_[i] has region seq stable_ + 1 + i.
  std::deque<PendingMessage> pending_;
  uint64_t stable_ = 0;
  uint64_t transmitted_ = 0;
  size_t pending_bytes_ = 0;
  std::deque<wire::SeqRange> retransmit_;
  struct Retransmitted {
    wire::SeqRange range;
    TimePoint at;  // of the range's last seq
  };
  static constexpr size_t kMaxRecentRanges = 256;
  std::deque<Retransmitted> recent_;  // oldest first
  std::vector<std::vector<std::byte>> spare_;
};

}  // namespace qsm
