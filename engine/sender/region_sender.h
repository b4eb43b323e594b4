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

// The pending-ACK window: what a sender keeps until the region acknowledges it, counted in bytes
// of memory held: each message's payload plus kBookkeepingBytes (its entry and its
// buffer's allocation), so that one limit fits 8-byte and 8-KB messages alike (engine/README.md).
struct SenderWindow {
  size_t max_bytes = 20 << 20;  // memory held at most: the cap, and the window unless adaptive
  size_t max_messages = 0;      // also at most this many messages (0: no count limit)
  // The window follows the path instead (WindowSizer: gain x bandwidth-delay product, between
  // min_bytes and max_bytes); opt-in because it measured slower than the fixed byte window.
  bool adaptive = false;
  size_t min_bytes = 1 << 20;
  double gain = 2;
};

struct PendingMessage {
  wire::GroupId group = 0;
  uint64_t group_seq = 0;
  int64_t send_time_ns = 0;
  std::vector<std::byte> payload;
  bool catch_up = false;  // wire::DataPacket::catch_up
};

// Per pending message beyond its payload: the window's entry and the payload buffer's allocation
// header (glibc's malloc: 16 bytes).
inline constexpr size_t kBookkeepingBytes = sizeof(PendingMessage) + 16;

class RegionSender {
 public:
  RegionSender(wire::RegionViewId rvid, SenderWindow window);
  // A sender for the next view of the same region: the window's estimate of the path carries over.
  RegionSender(wire::RegionViewId rvid, SenderWindow window, const RegionSender& previous);

  wire::RegionViewId rvid() const { return rvid_; }
  // What a pending message of this payload size holds in memory, as the window counts it.
  static constexpr size_t HeldBytes(size_t payload_bytes) { return payload_bytes + kBookkeepingBytes; }

  // Whether a new message of this size may enter the window (the adaptive limit or the fixed one).
  bool HasRoom(size_t payload_bytes) const;
  // Whether a message fits under the hard caps (max_messages if set, max_bytes): messages carried
  // from another view or region need only this, so that carrying never leaves a gap. A message
  // always fits an empty window, whatever its size.
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
  size_t pending_bytes() const { return pending_bytes_; }  // held: HeldBytes() of each message
  // The window's current limit in bytes held.
  size_t window_bytes() const { return window_.adaptive ? sizer_.limit_bytes() : window_.max_bytes; }

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
