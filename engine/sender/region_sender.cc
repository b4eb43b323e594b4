#include "engine/sender/region_sender.h"

#include <algorithm>

#include "engine/core/check.h"

namespace qsm {

bool RegionSender::HasRoom(size_t payload_bytes) const {
  return pending_.size() < window_.max_messages &&
         (pending_.empty() || pending_bytes_ + payload_bytes <= window_.max_bytes);
}

uint64_t RegionSender::Add(PendingMessage message) {
  QSM_CHECK(HasRoom(message.payload.size()), "RegionSender::Add with a full window");
  pending_bytes_ += message.payload.size();
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

size_t RegionSender::OnAck(uint64_t stable) {
  // An ACK beyond what was transmitted is not trusted: release only what the region can have.
  stable = std::min(stable, transmitted_);
  size_t released = 0;
  while (stable_ < stable && !pending_.empty()) {
    pending_bytes_ -= pending_.front().payload.size();
    if (spare_.size() < kMaxSpareBuffers) {
      pending_.front().payload.clear();
      spare_.push_back(std::move(pending_.front().payload));
    }
    pending_.pop_front();
    ++stable_;
    ++released;
  }
  return released;
}

void RegionSender::OnNak(std::span<const wire::SeqRange> ranges) {
  for (const auto& r : ranges) {
    const uint64_t first = std::max(r.first, stable_ + 1);
    const uint64_t last = std::min(r.last, transmitted_);
    if (first > last || retransmit_.size() >= kMaxQueuedRetransmitRanges) continue;
    retransmit_.push_back({first, last});
  }
}

std::optional<uint64_t> RegionSender::PopRetransmit() {
  while (!retransmit_.empty()) {
    auto& r = retransmit_.front();
    if (r.first <= stable_) r.first = stable_ + 1;
    if (r.first > r.last) {
      retransmit_.pop_front();
      continue;
    }
    const uint64_t seq = r.first++;
    if (r.first > r.last) retransmit_.pop_front();
    return seq;
  }
  return std::nullopt;
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
  return out;
}

}  // namespace qsm
