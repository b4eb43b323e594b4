#include "engine/node/delivery_filter.h"

namespace qsm {

void DeliveryFilter::Leave(wire::GroupId group) {
  joined_.erase(group);
  std::erase_if(streams_, [&](const auto& entry) { return static_cast<wire::GroupId>(entry.first) == group; });
}

bool DeliveryFilter::unordered(wire::GroupId group) const {
  auto it = joined_.find(group);
  return it != joined_.end() && it->second.unordered;
}

void DeliveryFilter::EnteredRegion(wire::GroupId group, wire::RegionViewId rvid) {
  auto it = joined_.find(group);
  if (it != joined_.end() && !it->second.entered) it->second.entered = rvid;
}

bool DeliveryFilter::SkipsCatchUp(wire::GroupId group, wire::RegionViewId rvid) const {
  auto it = joined_.find(group);
  return it == joined_.end() || !it->second.entered || *it->second.entered == rvid;
}

std::vector<wire::GroupId> DeliveryFilter::groups() const {
  std::vector<wire::GroupId> out;
  out.reserve(joined_.size());
  for (const auto& [group, membership] : joined_) out.push_back(group);
  return out;
}

bool DeliveryFilter::Admit(wire::NodeId sender, const wire::DataPacket& m) {
  if (m.catch_up && SkipsCatchUp(m.group, m.rvid)) {
    counters_.Add(Counter::kCatchUpSkipped);
    return false;
  }
  return Admit(sender, m.group, m.group_seq);
}

bool DeliveryFilter::Admit(wire::NodeId sender, wire::GroupId group, uint64_t group_seq) {
  auto joined = joined_.find(group);
  if (joined == joined_.end()) return false;  // received and repaired for the region, not delivered here
  Stream& s = streams_[KeyOf(sender, group)];
  if (joined->second.unordered) {
    // The window keeps at least the last kUnorderedSpan / 2 seqs below the highest delivered;
    // anything older counts as delivered. A joiner's stream starts anywhere, and a long stream
    // slides: by kUnorderedSpan / 2 at a time, so SkipTo's cost is spread over as many messages.
    if (!s.seen) s.seen = std::make_unique<ReceiveWindow>();
    if (group_seq > kUnorderedSpan && s.seen->contiguous() < group_seq - kUnorderedSpan) {
      s.seen->SkipTo(group_seq - kUnorderedSpan / 2);
    }
    if (s.seen->Insert(group_seq) != ReceiveWindow::InsertResult::kNew) {
      counters_.Add(Counter::kDuplicatesDropped);
      return false;
    }
    return true;
  }
  if (group_seq <= s.last) {
    counters_.Add(Counter::kDuplicatesDropped);  // delivered already, in an earlier view
    return false;
  }
  // A stream's first delivery may start past 1: a joiner gets the stream from its first view on.
  if (s.last > 0 && group_seq != s.last + 1) counters_.Add(Counter::kDeliveryGaps);
  s.last = group_seq;
  return true;
}

}  // namespace qsm
