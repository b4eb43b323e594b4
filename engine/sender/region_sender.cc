#include "engine/sender/region_sender.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

RegionSender::RegionSender(wire::RegionViewId rvid, SenderWindow window)
    : rvid_(rvid),
      window_(window),
      sizer_({.min_bytes = window.min_bytes, .max_bytes = window.max_bytes, .gain = window.gain}) {}

RegionSender::RegionSender(wire::RegionViewId rvid, SenderWindow window, const RegionSender& previous)
    : RegionSender(rvid, window) {
  sizer_ = previous.sizer_;
  sizer_.Restart();
}

bool RegionSender::HasRoom(size_t payload_bytes) const {
  return Fits(payload_bytes) && (pending_.empty() || pending_bytes_ + HeldBytes(payload_bytes) <= window_bytes());
}

bool RegionSender::Fits(size_t payload_bytes) const {
  return (window_.max_messages == 0 || pending_.size() < window_.max_messages) &&
         (pending_.empty() || pending_bytes_ + HeldBytes(payload_bytes) <= window_.max_bytes);
}

uint64_t RegionSender::Add(PendingMessage message) {
  QSM_CHECK(Fits(message.payload.size()), "RegionSender::Add beyond the window's caps");
  pending_bytes_ += HeldBytes(message.payload.size());
  pending_.push_back(std::move(message));
  return highest_assigned();
}

const PendingMessage* RegionSender::Find(uint64_t seq) const {
  if (seq <= stable_ || seq > highest_assigned()) return nullptr;
  return &pending_[static_cast<size_t>(seq - stable_ - 1)];
}

std::vector<std::byte> RegionSender::TakeSpareBuffer() {
  if (spare_.empty()) return {};
  std::vector<std::byte> buffer = std::move(spare_.back());
  spare_.pop_back();
  return buffer;
}

std::optional<uint64_t> RegionSender::NextUntransmitted() const {
  if (transmitted_ >= highest_assigned()) return std::nullopt;
  return std::max(transmitted_, stable_) + 1;
}

void RegionSender::MarkTransmitted(uint64_t seq, TimePoint now) {
  if (seq <= transmitted_) return;
  transmitted_ = seq;
  if (window_.adaptive) sizer_.OnTransmit(seq, now);  // a fixed window needs no estimate
}

size_t RegionSender::OnAck(uint64_t stable, TimePoint now) {
  // An ACK beyond what was transmitted is not trusted: release only what the region can have.
  stable = std::min(stable, transmitted_);
  size_t released = 0;
  size_t released_bytes = 0;
  while (stable_ < stable && !pending_.empty()) {
    released_bytes += HeldBytes(pending_.front().payload.size());
    pending_bytes_ -= HeldBytes(pending_.front().payload.size());
    if (spare_.size() < kMaxSpareBuffers) {
      pending_.front().payload.clear();
      spare_.push_back(std::move(pending_.front().payload));
    }
    pending_.pop_front();
    ++stable_;
    ++released;
  }
  if (released > 0 && window_.adaptive) sizer_.OnRelease(stable_, released_bytes, now);
  return released;
}

namespace {

// Removes `cut` from every range of `pieces` (allocates only when they overlap).
void Subtract(std::vector<wire::SeqRange>& pieces, const wire::SeqRange& cut) {
  const bool overlaps = std::any_of(pieces.begin(), pieces.end(), [&](const wire::SeqRange& p) {
    return cut.first <= p.last && p.first <= cut.last;
  });
  if (!overlaps) return;
  std::vector<wire::SeqRange> out;
  for (const auto& p : pieces) {
    if (cut.last < p.first || cut.first > p.last) {
      out.push_back(p);
      continue;
    }
    if (p.first < cut.first) out.push_back({p.first, cut.first - 1});
    if (p.last > cut.last) out.push_back({cut.last + 1, p.last});
  }
  pieces = std::move(out);
}

}  // namespace

void RegionSender::OnNak(std::span<const wire::SeqRange> ranges, TimePoint now) {
  while (!recent_.empty() && now - recent_.front().at >= kRetransmitHoldoff) recent_.pop_front();
  std::vector<wire::SeqRange> pieces;
  for (const auto& r : ranges) {
    const uint64_t first = std::max(r.first, stable_ + 1);
    const uint64_t last = std::min(r.last, transmitted_);
    if (first > last) continue;
    pieces.assign(1, {first, last});
    for (const auto& q : retransmit_) Subtract(pieces, q);
    for (const auto& q : recent_) Subtract(pieces, q.range);
    for (const auto& p : pieces) {
      if (retransmit_.size() >= kMaxQueuedRetransmitRanges) return;
      retransmit_.push_back(p);
    }
  }
}

std::optional<uint64_t> RegionSender::PopRetransmit(TimePoint now) {
  while (!retransmit_.empty()) {
    auto& r = retransmit_.front();
    if (r.first <= stable_) r.first = stable_ + 1;
    if (r.first > r.last) {
      retransmit_.pop_front();
      continue;
    }
    const uint64_t seq = r.first++;
    if (r.first > r.last) retransmit_.pop_front();
    if (!recent_.empty() && recent_.back().range.last + 1 == seq) {
      recent_.back() = {{recent_.back().range.first, seq}, now};
    } else {
      if (recent_.size() >= kMaxRecentRanges) recent_.pop_front();
      recent_.push_back({{seq, seq}, now});
    }
    return seq;
  }
  return std::nullopt;
}

void RegionSender::RequeueRetransmit(uint64_t seq) {
  if (!recent_.empty() && recent_.back().range.last == seq) {
    if (recent_.back().range.first == seq) {
      recent_.pop_back();
    } else {
      --recent_.back().range.last;
    }
  }
  retransmit_.push_front({seq, seq});
}

std::optional<uint64_t> RegionSender::LowestPendingGroupSeq(wire::GroupId group) const {
  for (const PendingMessage& m : pending_) {
    if (m.group == group) return m.group_seq;  // group seqs grow along the window
  }
  return std::nullopt;
}

std::vector<PendingMessage> RegionSender::TakeUnacknowledged() {
  std::vector<PendingMessage> out(std::make_move_iterator(pending_.begin()),
                                  std::make_move_iterator(pending_.end()));
  stable_ += pending_.size();
  transmitted_ = stable_;
  pending_.clear();
  pending_bytes_ = 0;
  retransmit_.clear();
  recent_.clear();
  return out;
}

}  // namespace qsm
